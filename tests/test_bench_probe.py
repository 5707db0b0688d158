"""bench/float_probe.py: a training from a dumped .npz, and the table paired by seed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import bench._results
from bench.float_probe import _size, _train, table
from nas.data import load_task

ARCH = "r8x8x1_c3s1c8_ds3s2c16_gap_fc10"


def _dump(path: Path) -> None:
    """What `dump` writes, from a slice of the digits data and a teacher that is sure of the
    label (logits 4 on it, 0 elsewhere): the probe's input format, without the zoo's teacher."""
    d = load_task("digits")
    n = 300
    logits = 4.0 * np.eye(10, dtype=np.float32)[d.y_train[:n]]
    meta = {"task": "digits", "epochs": 2, "batch_size": 32, "augmentation": "none",
            "teacher": "test"}  # fmt: skip
    np.savez(
        path, x_train=d.x_train[:n], y_train=d.y_train[:n], x_val=d.x_val, y_val=d.y_val,
        x_test=d.x_test, y_test=d.y_test, logits=logits,
        meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
    )  # fmt: skip


def test_a_probe_training_is_the_recipe_on_the_dumped_data_and_repeats_per_seed(
    tmp_path: Path,
) -> None:
    data = tmp_path / "probe.npz"
    _dump(data)
    first = _train(str(data), "a", ARCH, seed=3, epochs=None)
    assert first["epochs"] == 2 and first["seed"] == 3 and first["arch"] == ARCH
    import keras

    assert first["backend"] == keras.backend.backend() and 0.0 <= first["test"] <= 1.0
    again = _train(str(data), "a", ARCH, seed=3, epochs=None)
    assert (again["val"], again["test"]) == (first["val"], first["test"])

    with pytest.raises(ValueError, match=r"takes \(16, 16, 1\)"):
        _train(str(data), "b", "r16x16x1_c3s1c8_gap_fc10", seed=0, epochs=1)


def test_the_table_pairs_each_model_with_the_reference_on_the_same_seeds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bench._results, "RESULTS", tmp_path / "RESULTS.md")
    rows = [
        ("ref", "r8x8x1_c3s1c16_ds3s1c32_gap_fc10", 0, 0.90),
        ("ref", "r8x8x1_c3s1c16_ds3s1c32_gap_fc10", 1, 0.80),
        ("ref", "r8x8x1_c3s1c16_ds3s1c32_gap_fc10", 2, 0.70),
        ("small", ARCH, 1, 0.85),
        ("small", ARCH, 2, 0.60),
    ]
    f = tmp_path / "rows.jsonl"
    f.write_text("".join(
        json.dumps({"task": "digits", "name": n, "arch": a, "seed": s, "epochs": 2,
                    "backend": "jax", "val": t, "test": t, "s": 1.0}) + "\n"
        for n, a, s, t in rows
    ))  # fmt: skip
    table(type("Args", (), {"files": [str(f)], "reference": "ref", "command": None,
                            "key": None})())  # fmt: skip
    text = (tmp_path / "RESULTS.md").read_text()
    small = next(line for line in text.splitlines() if line.startswith("| small |"))
    cells = [c.strip() for c in small.split("|")]
    # seeds 1 and 2 only: (85 - 80 + 60 - 70) / 2 = -2.50, not against the reference's mean
    assert cells[2:5] == ["1: 85.00, 2: 60.00", "72.50 ± 17.68", "-2.50"]
    assert "<!-- float-probe-digits:start -->" in text


def test_a_temporal_probe_model_reads_the_width_as_channels(tmp_path: Path) -> None:
    """`t{k}c{n}`: a k x W stem over the whole width, k x 1 depthwise kernels after it; it
    trains through the same recipe, repeats per seed, and is sized from its converted file."""
    data = tmp_path / "probe.npz"
    _dump(data)
    arch = "r8x8x1_t3c8_ds3s2c16_gap_fc10"
    first = _train(str(data), "t", arch, seed=1, epochs=1)
    assert first["arch"] == arch and 0.0 <= first["test"] <= 1.0
    again = _train(str(data), "t", arch, seed=1, epochs=1)
    assert (again["val"], again["test"]) == (first["val"], first["test"])
    tflite_bytes, macs = _size(arch)
    # stem: 6 steps x 8 ch x (3 x 8 taps); block (stride 2): 3 steps x (3 taps x 8 ch + 8 x 16);
    # the mean over 3 steps x 16 ch; fc 16 x 10
    assert macs == 6 * 8 * 24 + 3 * (3 * 8 + 8 * 16) + 3 * 16 + 16 * 10
    assert 0 < tflite_bytes < 8000
