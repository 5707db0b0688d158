"""bench/epoch_choice.py: the rules that choose the epoch to keep, and a short real run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.epoch_choice import RULES, run, table

# (val accuracy, val loss, test accuracy) per epoch: the best val accuracy, 0.9, is tied at
# epochs 2, 3 and 5 (indices 1, 2, 4), with the lowest val loss at epoch 3.
ROWS = [(0.8, 0.9, 0.70), (0.9, 0.5, 0.80), (0.9, 0.3, 0.85), (0.85, 0.2, 0.90), (0.9, 0.4, 0.95),
        (0.7, 0.6, 0.60)]  # fmt: skip


def test_each_rule_keeps_its_epoch() -> None:
    picked = {name: rule(ROWS) for name, (_, rule) in RULES.items()}
    assert picked == {"first": 1, "last": 4, "val loss": 2, "final": 5}


def test_the_table_pairs_seeds_and_skips_a_seed_without_both_trainings() -> None:
    def line(seed: int, distilled: bool, rows: list[tuple[float, float, float]]) -> dict:
        return {"task": "digits", "arch": "a", "seed": seed, "distilled": distilled,
                "teacher": "teacher-digits/1", "T": 2.0, "alpha": 0.5, "epochs": rows}  # fmt: skip

    worse = [(r[0], r[1], r[2] - 0.1) for r in ROWS]
    lines = [line(0, False, ROWS), line(0, True, worse), line(1, False, ROWS),
             line(1, True, ROWS), line(2, False, ROWS)]  # fmt: skip
    task, text = table(lines)
    assert task == "digits" and "seeds 0, 1." in text
    first = next(x for x in text.splitlines() if x.startswith("| first |"))
    # labels only keeps epoch 2 (80 %) on both seeds; distilled 70 % and 80 %: gain -5 ± 7.07
    assert first.endswith("| 80.00 ± 0.00 | 2 | 75.00 ± 7.07 | 2 | -5.00 ± 7.07 |")
    final = next(x for x in text.splitlines() if x.startswith("| final |"))
    assert "| 60.00 ± 0.00 | 6 |" in final
    assert "median over trainings: 3 (from 3 to 3)" in text


@pytest.mark.slow
def test_a_short_run_records_every_epoch_of_both_trainings(tmp_path: Path) -> None:
    out = tmp_path / "epochs.jsonl"
    run("digits", 1, out, epochs=2)
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [(x["seed"], x["distilled"]) for x in lines] == [(0, False), (0, True)]
    for x in lines:
        assert len(x["epochs"]) == 2 and x["teacher"].startswith("teacher-digits/")
        assert isinstance(x["onednn"], bool)
        for val, loss, test in x["epochs"]:
            assert 0 < val <= 1 and loss > 0 and 0 < test <= 1
    assert lines[0]["epochs"] != lines[1]["epochs"]  # distillation changed the training
    task, text = table(lines)
    assert task == "digits" and len([x for x in text.splitlines() if x.startswith("| ")]) == 5
