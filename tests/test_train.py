"""Training: an interrupted training goes on from its checkpoint and ends as if never stopped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from searchspaces import ArchSpec

SPEC = ArchSpec.parse("r8x8x1_c3s1c4_ds3s2c8_gap_fc3")


class Stop(Exception):
    pass


def _data() -> dict[str, Any]:
    rng = np.random.default_rng(0)
    x = rng.random((96, 8, 8, 1), dtype=np.float32)
    return {
        "x_train": x,
        "y_train": (x.mean(axis=(1, 2, 3)) * 30).astype(int) % 3,  # learnable
        "x_val": x[:32],
        "y_val": (x[:32].mean(axis=(1, 2, 3)) * 30).astype(int) % 3,
        "teacher_logits": rng.normal(size=(96, 3)).astype(np.float32),
        "augment": lambda a, r: a + r.normal(0, 0.05, a.shape).astype(np.float32),
    }


def _run(
    checkpoint: Path | None, stop_after: int | None = None, epochs: int = 4
) -> tuple[list[Any], list[int]]:
    """Train `epochs`; the model's weights after each epoch run, and those epochs."""
    import keras

    from nas.train import train
    from searchspaces._build import build

    keras.utils.set_random_seed(3)  # the same initial weights in every run
    model, weights, seen = build(SPEC), [], []

    def on_epoch(epoch: int, _: float) -> bool:
        weights.append(model.get_weights())
        seen.append(epoch)
        if epoch == stop_after:
            raise Stop
        return False

    train(
        SPEC, **_data(), epochs=epochs, seed=3, batch_size=16, temperature=2.0, alpha=0.5,
        model=model, on_epoch=on_epoch, checkpoint=checkpoint,
    )  # fmt: skip
    return weights, seen


@pytest.mark.slow
def test_an_interrupted_training_resumes_where_it_stopped(tmp_path: Path) -> None:
    from nas.train import checkpoint_epoch

    whole, _ = _run(None)
    ck = tmp_path / "fit.npz"
    with pytest.raises(Stop):
        _run(ck, stop_after=1)  # Ctrl-C after the second epoch
    assert checkpoint_epoch(ck) == 2
    rest, epochs = _run(ck)
    assert epochs == [2, 3]  # only the epochs left
    for got, want in zip(rest, whole[2:], strict=True):  # model, optimizer and data order
        assert all(np.array_equal(a, b) for a, b in zip(got, want, strict=True))
    assert not any(np.array_equal(a, b) for a, b in zip(whole[1], whole[3], strict=True))
    assert checkpoint_epoch(ck) == 4  # the finished state, until the caller deletes it
    again, epochs = _run(ck)
    assert epochs == []  # nothing left to train


@pytest.mark.slow
def test_a_checkpoint_that_is_not_this_trainings_is_discarded(tmp_path: Path) -> None:
    from nas.train import checkpoint_epoch

    ck = tmp_path / "fit.npz"
    with pytest.raises(Stop):
        _run(ck, stop_after=0, epochs=5)  # another recipe: 5 epochs, not 4
    assert checkpoint_epoch(ck) == 1
    _, epochs = _run(ck)
    assert epochs == [0, 1, 2, 3]  # from the start
    ck.write_bytes(b"PK\x03\x04 cut short")  # damaged
    assert checkpoint_epoch(ck) is None
    _, epochs = _run(ck)
    assert epochs == [0, 1, 2, 3] and checkpoint_epoch(ck) == 4
