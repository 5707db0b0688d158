"""bench/search.py's record of each method: kept, reused, and costed over interrupted runs."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import pytest

from bench.search import Row, timed


def _busy(seconds: float) -> None:
    """This thread's CPU for `seconds`: so at least that much wall time and process CPU, even
    while threads that earlier tests left (TensorFlow's, say) add CPU of their own."""
    end = time.thread_time() + seconds
    while time.thread_time() < end:
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


def test_with_further_seeds_the_verdict_is_on_the_means_paired_by_seed() -> None:
    from bench.search import SETTINGS, report

    def row(method: str, acc: float, tflite: int, macs: int) -> Row:
        return Row(method, "r49x10x1_c3s1c8_gap_fc12", acc, 1, tflite, macs, 1, 1, None, 3600.0)

    rows = [row("tinyzoo", 0.91, 15_000, 900_000), row("random", 0.88, 15_000, 900_000),
            row("reference", 0.93, 31_632, 2_416_768)]  # fmt: skip
    limits = {"max_ram": 32_768, "max_flash": 15_816}
    one = report(SETTINGS["kws-32k"], rows, 20, 0, limits, None)
    assert any(line.startswith("- Goal NOT met: tinyzoo 91.00 % vs reference 93.00 %")
               for line in one)  # fmt: skip
    more = {"tinyzoo": [0.91, 0.95, 0.93], "random": [0.88, 0.90, 0.89],
            "reference": [0.93, 0.91, 0.92]}  # fmt: skip
    three = report(SETTINGS["kws-32k"], rows, 20, 0, limits, None, more)
    text = "\n".join(three)
    assert "| tinyzoo | 91.00 | 93.00 ± 2.00 |" in text  # the row's own seed, then all three
    assert "- Goal met: tinyzoo 93.00 % vs reference 92.00 % (mean over seeds 0-2)" in text
    assert (
        "tinyzoo - reference: +1.00 points (standard error over seeds 1.73) (mean over seeds 0-2, "
        "paired by seed)." in text
    )  # differences -2, +4, +1: sd 3 points, over the root of 3
    assert three[2].count("|") == three[3].count("|") == three[4].count("|")  # header, rule, row

    # On kws's extended test set: the verdict goes by it, the test split's figures beside.
    ext = {"tinyzoo": [0.90, 0.91, 0.92], "random": [0.88, 0.89, 0.90],
           "reference": [0.92, 0.92, 0.92]}  # fmt: skip
    lines = report(SETTINGS["kws-32k"], rows, 20, 0, limits, None, more, None, ext, 10_560)
    text = "\n".join(lines)
    assert "| tinyzoo | 91.00 | 93.00 ± 2.00 | 91.00 ± 1.00 |" in text
    assert "extended test % (10,560 clips, seeds 0-2)" in lines[2]
    assert ("- Goal NOT met: tinyzoo 91.00 % vs reference 92.00 % (mean over seeds 0-2, extended "
            "test set), at 0.47x its .tflite and 0.37x its MACs. On the test split alone: "
            "93.00 % vs 92.00 %.") in text  # fmt: skip
    assert "tinyzoo - reference: -1.00 points (standard error over seeds 0.58)" in text
    assert lines[2].count("|") == lines[3].count("|") == lines[4].count("|")


def test_a_subset_of_methods_is_reported_without_the_missing_comparisons() -> None:
    from bench.search import SETTINGS, report

    tz = Row("tinyzoo", "r28x28x1_c3s1c32_gap_fc10", 0.9301, 40_432, 35_016, 1, 1, 1, None, 7200.0)
    lines = report(SETTINGS["fashion"], [tz], 20, 0, SETTINGS["fashion"].limits, 60, None, 1)
    text = "\n".join(lines)
    assert "final training 60 epochs, the proxy's top 1 retrained in full." in text
    assert "- Goal met: tinyzoo 93.01 % (int8 test) against 92.5 %." in text
    assert "tinyzoo - " not in text and "random" not in text
    assert "- Search cost in CPU-hours: tinyzoo 2.00." in text
    ref = Row("reference", "r28x28x1_c3s1c8_gap_fc10", 0.9302, 1, 1, 1, 1, 1, None, 3600.0)
    both = "\n".join(report(SETTINGS["fashion"], [tz, ref], 20, 0, SETTINGS["fashion"].limits, 60))
    assert "- tinyzoo - reference: -0.01 points." in both


@pytest.mark.parametrize(
    ("script", "argv", "says"),
    [("search", ["--methods", "tinyzoo,grid"], "--methods 'tinyzoo,grid': give some of tinyzoo"),
     ("search", ["--methods", "random", "--ship"], "--ship ships the tinyzoo row"),
     ("search", ["--finalists", "0"], "--finalists must be 1 or more, got 0"),
     ("compress", ["--winner", "kws"], "--winner kws: give TASK=ENTRY once per task"),
     ("compress", ["--winner", "kws=nope"], "--winner kws=nope: give TASK=ENTRY"),
     ("compress", ["--tasks", "kws", "--winner", "digits=digits-2k"], "TASK one of --tasks (kws)"),
     ("compress", ["--winner", "kws=kws-32k", "--winner", "kws=kws-nano33ble"], "once per task"),
     ("compress", ["--winner", "kws=fashion-64k"], "fashion-64k is an entry of task fashion"),
     ("agreement", ["--entries", "nope"], "--entries: nope is not a folder of"),
     ("agreement", ["--entries", "fashion-64k"], "fashion-64k is an entry of task fashion, not"),
     ("agreement", ["--task", "digits", "--entries", "digits-2k"], "has no reference"),
     ("seeds", ["--arch", "r8x8x1_c3s1c8_gap_fc10,nope", "--name", "x"], "--arch: cannot parse"),
     ("seeds", ["--arch", "r8x8x1_c3s1c8_gap_fc10", "--name", "x", "--task", "cifar"],
      "--task must be one of fashion, digits, kws"),
     ("seeds", ["--arch", "r8x8x1_c3s1c8_gap_fc10", "--name", "x", "--kd", "4"], "--kd takes T,alpha"),
     ("seeds", ["--arch", "r8x8x1_c3s1c8_gap_fc10", "--name", "x", "--kd", "4,1.5"],
      "--kd takes T,alpha: a temperature above 0")],
)  # fmt: skip
def test_a_bad_benchmark_option_stops_before_any_work(
    script: str, argv: list[str], says: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    import importlib

    main = importlib.import_module(f"bench.{script}").main
    monkeypatch.setattr("sys.argv", [f"bench/{script}.py", *argv])
    with pytest.raises(SystemExit) as stop:
        main()
    assert stop.value.code == 2 and says in capsys.readouterr().err


def test_a_kws_search_without_random_is_judged_against_its_reference() -> None:
    from bench.search import SETTINGS, report

    tz = Row("tinyzoo", "r49x10x1_c3s1c8_gap_fc12", 0.93, 1, 15_000, 900_000, 1, 1, None, 1.0)
    ref = Row("reference", "r49x10x1_c3s2c64_gap_fc12", 0.92, 1, 31_632, 2_416_768, 1, 1, None, 1.0)
    text = "\n".join(report(SETTINGS["kws-32k"], [tz, ref], 20, 0, {}, None))
    assert "- Goal met: tinyzoo 93.00 % vs reference 92.00 % (int8 test), at 0.47x" in text
    assert "- tinyzoo - reference: +1.00 points." in text and "random" not in text


def test_a_single_seed_extended_figure_is_shown_and_judged_as_is() -> None:
    from bench.search import SETTINGS, report

    tz = Row("tinyzoo", "r49x10x1_c3s1c8_gap_fc12", 0.93, 1, 15_000, 900_000, 1, 1, None, 1.0)
    ref = Row("reference", "r49x10x1_c3s2c64_gap_fc12", 0.92, 1, 31_632, 2_416_768, 1, 1, None, 1.0)
    ext = {"tinyzoo": [0.915], "reference": [0.925]}
    lines = report(SETTINGS["kws-32k"], [tz, ref], 20, 0, {}, None, None, None, ext, 10_560)
    text = "\n".join(lines)
    assert "| tinyzoo | 93.00 | 91.50 |" in text and "extended test % (10,560 clips) |" in lines[2]
    assert "- Goal NOT met: tinyzoo 91.50 % vs reference 92.50 % (int8, extended test set)" in text
    assert "On the test split alone: 93.00 % vs 92.00 %." in text
    assert lines[2].count("|") == lines[3].count("|") == lines[4].count("|")
    with pytest.raises(ValueError, match="n_extended"):
        report(SETTINGS["kws-32k"], [tz, ref], 20, 0, {}, None, None, None, ext)


def test_a_kept_row_is_measured_on_its_kept_model_or_trained_again(tmp_path: Path) -> None:
    """measured(): a row kept without the extended figure gets it from the .tflite kept beside
    it (on TFLM, rewritten into the row), or, with no model kept, from a new training, the old
    row kept aside until the new one is written."""
    from bench.search import measured
    from nas.data import load_task
    from nas.quantize import tflm_accuracy

    shipped = Path(__file__).resolve().parents[1] / "zoo" / "pretrained" / "digits-l010"
    tflite = (shipped / "model.tflite").read_bytes()
    arena = json.loads((shipped / "entry.json").read_text())["metrics"]["arena_bytes"]
    data = load_task("digits")
    extended = (data.x_test[:100], data.y_test[:100])
    row = Row("reference", "r8x8x1_c3s1c8_gap_fc10", 0.99, arena, len(tflite), 1, 1, 1, None, 1.0)
    assert measured(row, None, None, None, "unused") is row  # no extended set: nothing to do

    kept = tmp_path / "rows" / "digits-reference-t20-s0-erecipe.json"
    timed(lambda: row, kept)
    kept.with_suffix(".tflite").write_bytes(tflite)
    got = measured(row, kept, None, extended, "unused")
    want = tflm_accuracy(tflite, *extended, arena)
    assert got.int8_extended == want and 0.9 < want <= 1.0
    assert Row(**json.loads(kept.read_text())).int8_extended == want
    assert measured(got, kept, None, extended, "unused") is got  # measured once

    # No model kept: trained again (here `make`), and the old row is gone once the new one is.
    kept.with_suffix(".tflite").unlink()
    timed(lambda: row, kept.with_name("other.json"))  # another row, left alone
    kept.write_text(json.dumps(asdict(row)), encoding="utf-8")
    new = Row("reference", row.arch, 0.99, arena, len(tflite), 1, 1, 1, None, 2.0,
              int8_extended=0.97)  # fmt: skip
    calls: list[int] = []

    def make() -> Row:
        calls.append(1)
        assert kept.with_suffix(".old.json").exists() and not kept.exists()
        return new

    assert measured(row, kept, make, extended, "unused").int8_extended == 0.97 and calls == [1]
    assert Row(**json.loads(kept.read_text())).int8_extended == 0.97
    assert sorted(p.name for p in kept.parent.iterdir()) == [kept.name, "other.json"]
    with pytest.raises(ValueError, match="no model to measure"):
        measured(row, None, None, extended, "unused")


def test_ship_keeps_a_shipped_entry_that_tests_better(
    tracking_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--ship replaces an entry only with one the zoo would make champion: a store that
    imported both would keep the better as `champion`, so the shipped folder is that one."""
    import shutil

    import zoo
    from bench._ship import ship

    shipped = Path(__file__).resolve().parents[1] / "zoo" / "pretrained"
    monkeypatch.setenv("TINYZOO_PRETRAINED_DIR", str(shipped))
    zoo.list_models()  # imports the shipped entries into this store
    root = tmp_path / "pretrained"
    shutil.copytree(shipped / "digits-l010", root / "digits-l010")  # 99.63 % int8
    before = (root / "digits-l010" / "model.tflite").read_bytes()

    where, kept = ship("digits-2k", "digits-l010", tracking_uri, "table", root=root)  # 98.14 %
    assert (where, kept) == (root / "digits-l010", pytest.approx(0.9963, abs=1e-4))
    assert (root / "digits-l010" / "model.tflite").read_bytes() == before

    # a tie replaces it, as the zoo makes the newer version champion on a tie
    where, kept = ship("digits-l010", "digits-l010", tracking_uri, "tie", root=root)
    assert kept is None and "## Benchmark\n\ntie" in (where / "README.md").read_text()

    where, kept = ship("digits-l010", "digits-new", tracking_uri, "the table", root=root)
    assert kept is None and json.loads((where / "entry.json").read_text())["name"] == "digits-new"
    assert (where / "README.md").read_text().rstrip().endswith("## Benchmark\n\nthe table")
    # a better one replaces it
    shutil.copytree(shipped / "digits-2k", root / "digits-2k")
    where, kept = ship("digits-l010", "digits-2k", tracking_uri, "t", root=root)
    assert kept is None
    assert (where / "model.tflite").read_bytes() == (
        shipped / "digits-l010" / "model.tflite"
    ).read_bytes()


def test_agreement_counts_the_examples_only_one_model_gets_right() -> None:
    import numpy as np

    from bench.agreement import agreement

    a = np.array([True] * 90 + [True] * 6 + [False] * 2 + [False] * 2)
    b = np.array([True] * 90 + [False] * 6 + [True] * 2 + [False] * 2)
    got = agreement(a, b)
    assert (got["only_a"], got["only_b"]) == (6, 2) and got["diff"] == pytest.approx(4.0)
    # sqrt((8/100 - 0.04^2) / 100) = 0.028 -> 2.80 points
    assert got["se"] == pytest.approx(2.80)
    same = agreement(a, a)
    assert (same["diff"], same["se"]) == (0.0, 0.0)


def test_the_kws_reference_is_mlperf_tinys_ds_cnn_as_published() -> None:
    """MLPerf Tiny's KWS model (Hello Edge's DS-CNN S): a 10x4 stride-2 stem of 64 filters on
    the 49x10 MFCC map, four 3x3 depthwise-separable blocks of 64, pooling and 12 classes;
    about 2.7 M MACs (../shared/REFERENCE.md). The 3x3-stem variant differs in the stem only."""
    from bench.compress import DS_CNN_3X3, REFERENCES
    from nas.profile import profile_spec
    from searchspaces import ArchSpec

    ref, square = ArchSpec.parse(REFERENCES["kws"]), ArchSpec.parse(DS_CNN_3X3)
    assert ref.input_shape == (49, 10, 1) and ref.num_classes == 12
    assert (ref.stem.kernel, ref.stem.stride, ref.stem.channels) == ((10, 4), 2, 64)
    assert [(b.kernel, b.stride, b.channels) for b in ref.blocks] == [(3, 1, 64)] * 4
    assert square.blocks == ref.blocks and square.stem.kernel == 3
    assert profile_spec(ref).macs == 2_664_768  # 2.66 M: the published figure
