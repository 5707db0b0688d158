"""bench/search.py's record of each method: kept, reused, and costed over interrupted runs."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from bench.search import Row, timed


def _busy(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_an_interrupted_method_adds_its_cost_to_the_run_that_finishes(tmp_path: Path) -> None:
    keep = tmp_path / "rows" / "digits-tpe-t2-s0-e1.json"

    def interrupted() -> Row:
        _busy(0.3)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        timed(interrupted, keep)
    assert not keep.exists()
    spent = json.loads(keep.with_suffix(".spent.json").read_text())
    assert spent["cpu_s"] >= 0.25 and spent["wall_s"] >= 0.25

    row = timed(
        lambda: Row("tinyzoo", "r8x8x1_c3s1c4_gap_fc10", 0.9, 1, 2, 3, 4, 5, None, 1.0), keep
    )
    assert row.cpu_s == pytest.approx(1.0 + spent["cpu_s"])
    assert row.wall_s >= spent["wall_s"]
    assert not keep.with_suffix(".spent.json").exists()
    assert Row(**json.loads(keep.read_text())) == row

    # Finished: the same call again reuses the row and does not run `make`.
    def never() -> Row:
        raise AssertionError("a finished method ran again")

    assert timed(never, keep) == row
