"""bench/seeds.py: architectures at seeds through the final recipe, paired against the first."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import bench._results
import bench.seeds
from bench.seeds import table

A, B = "r8x8x1_c3s1c8_ds3s2c16_gap_fc10", "r8x8x1_c3s1c4_gap_fc10"


def _row(arch: str, seed: int, test: float, extended: float | None = None) -> dict:
    return {"task": "kws", "arch": arch, "seed": seed, "epochs": 120, "kd": [2.0, 0.5],
            "int8_test": test, "int8_extended": extended, "tflite": 2000, "macs": 5000,
            "arena": 3000, "params": 100, "s": 1}  # fmt: skip


def test_each_architecture_is_paired_with_the_first_on_the_seeds_both_have() -> None:
    rows = [_row(A, 0, 0.90, 0.91), _row(A, 1, 0.80, 0.82), _row(A, 2, 0.70, 0.73),
            _row(B, 1, 0.85, 0.84), _row(B, 2, 0.60, 0.70)]  # fmt: skip
    lines = table(rows, [A, B], 3)
    assert "extended test %" in lines[0]
    a, b = ([c.strip() for c in line.split("|")] for line in lines[2:4])
    assert a[2] == "0, 1, 2" and a[6] == "80.00 ± 10.00" and a[7] == ""
    # seeds 1 and 2: test +5 and -10 points, mean -2.50, SE sd(5, -10) / sqrt 2 = 7.50
    assert b[2] == "1, 2" and b[7] == "-2.50 (SE 7.50, n 2)"
    assert b[9] == "-0.50 (SE 2.50, n 2)"  # extended: +2 and -3 points


@pytest.mark.slow
def test_a_run_measures_each_training_once_and_a_rerun_reuses_its_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(bench._results, "RESULTS", tmp_path / "RESULTS.md")
    monkeypatch.setattr(bench.seeds, "PROBES", tmp_path)
    argv = ["--task", "digits", "--arch", f"{A},{B}", "--name", "t",
            "--seeds", "1", "--epochs", "1"]  # fmt: skip
    bench.seeds.main(argv)
    rows = [json.loads(line) for line in (tmp_path / "seeds-t.jsonl").read_text().splitlines()]
    assert [(r["arch"], r["seed"], r["epochs"]) for r in rows] == [(A, 0, 1), (B, 0, 1)]
    assert all(r["task"] == "digits" and r["int8_extended"] is None for r in rows)
    assert all(r["kd"] == [2.0, 0.5] for r in rows)  # what was used, not "the default"
    assert all(0 < r["int8_test"] <= 1 for r in rows)
    text = (tmp_path / "RESULTS.md").read_text()
    assert "<!-- seeds-t:start -->" in text and "extended" not in text
    assert f"| `{B}` | 0 | {rows[1]['tflite']:,} |" in text
    capsys.readouterr()
    bench.seeds.main(argv)
    assert "0 trainings to run, 2 rows" in capsys.readouterr().out
    assert len((tmp_path / "seeds-t.jsonl").read_text().splitlines()) == 2
    # a third seed would be trained; --table-only tabulates the two rows instead, whatever
    # the spelling of an architecture and however often it is named
    again = ["--task", "digits", "--arch", f"{A.replace('c3s1', 'c3x3s1x1')},{B},{B}",
             "--name", "t", "--seeds", "2", "--epochs", "1", "--table-only"]  # fmt: skip
    bench.seeds.main(again)
    assert "0 trainings to run, 2 rows" in capsys.readouterr().out
    text = (tmp_path / "RESULTS.md").read_text()
    assert "seeds 0-1" in text and text.count(f"| `{B}` |") == 1 and f"| `{A}` |" in text
    # rows distilled at another T and alpha are not these
    bench.seeds.main([*again, "--kd", "4,0.9"])
    assert "0 trainings to run, 0 rows" in capsys.readouterr().out
