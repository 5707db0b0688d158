"""Training: short proxy runs for the search, a longer run for the winner.

Plain Adam with a cosine-decayed learning rate and sparse cross-entropy on logits; the
learning rate and batch size were chosen on Fashion-MNIST validation data (docs/RESULTS.md).
"""

from __future__ import annotations

import json
import os
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nas._quiet import quiet_tensorflow
from nas.errors import interruptible

__all__ = [
    "TrainResult", "accuracy", "checkpoint_epoch", "progress", "remove_checkpoints", "train",
]  # fmt: skip


@dataclass(frozen=True)
class TrainResult:
    model: Any  # keras.Model, float
    val_accuracy: float
    epochs_run: int
    history: tuple[float, ...]  # validation accuracy after each epoch
    earlier_seconds: float = 0.0  # wall seconds of the interrupted runs this one went on from
    resumed_epochs: int = 0  # epochs a checkpoint held when this run started


def _setup(seed: int) -> None:
    quiet_tensorflow()
    import keras

    keras.utils.set_random_seed(seed)


def accuracy(model: Any, x: np.ndarray, y: np.ndarray, batch_size: int = 512) -> float:
    logits = model.predict(x, batch_size=batch_size, verbose=0)
    return float(np.mean(np.argmax(logits, axis=1) == y))


def train(
    spec: Any,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    *,
    epochs: int,
    seed: int,
    batch_size: int = 128,
    learning_rate: float = 3e-3,
    on_epoch: Callable[[int, float], bool] | None = None,
    teacher_logits: np.ndarray | None = None,
    temperature: float = 4.0,
    alpha: float = 0.5,
    model: Any = None,
    augment: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None,
    checkpoint: Path | None = None,
) -> TrainResult:
    """Train `searchspaces.build(spec)`. `on_epoch(epoch, val_acc)` returning True stops early.

    With `teacher_logits` (one row per training image) the training distils: see nas.distill.
    Given `model` (already built, e.g. pruned or fake-quantized), that model is trained on
    instead: fine-tuning. The best epoch's weights (by validation accuracy) are kept.
    `augment(x, rng)` returns a fresh variant of the training inputs for each epoch.

    With `checkpoint` (a file path) the state after each epoch is written there: the model's
    and the optimizer's variables, the random generator, the best epoch so far and the
    history. A call that finds the file goes on from the epoch after it, and ends as the
    uninterrupted run would have; after the last epoch the file holds the finished state (a
    call that finds it returns at once), and the caller deletes it once it has kept what it
    needs. The caller names the file so that only the same training (architecture, data,
    recipe, seed, teacher) finds it; a file that does not match this call (epochs, batch,
    data size, variables) or cannot be read is discarded and the training starts afresh.
    """
    _setup(seed)
    import keras

    from nas.distill import distilling, pack_targets
    from searchspaces._build import build

    model = build(spec) if model is None else model
    steps = max(1, int(np.ceil(len(x_train) / batch_size))) * epochs
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=steps, alpha=0.05)
    fitted, targets = model, y_train
    if teacher_logits is not None:
        fitted = distilling(model, temperature=temperature, alpha=alpha)
        targets = pack_targets(y_train, teacher_logits)
        fitted.compile(optimizer=keras.optimizers.Adam(schedule))
    else:
        model.compile(
            optimizer=keras.optimizers.Adam(schedule),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
    rng = np.random.default_rng(seed)
    best, best_weights, start, earlier = -1.0, None, 0, 0.0
    history: list[float] = []
    shape = {"epochs": epochs, "batch_size": batch_size, "examples": len(x_train)}
    if checkpoint is not None:
        checkpoint.with_name(checkpoint.name + ".part").unlink(missing_ok=True)  # a torn write
    if checkpoint is not None and (kept := _restore(checkpoint, shape, model, fitted, rng)):
        start, best, best_weights, history, earlier = kept
    t0 = time.monotonic()

    def state(done: int) -> dict[str, Any]:
        return {**shape, "epoch": done, "best": best, "history": history,
                "rng": rng.bit_generator.state, "seconds": earlier + time.monotonic() - t0}  # fmt: skip

    for epoch in range(start, epochs):
        order = rng.permutation(len(x_train))
        x = x_train[order] if augment is None else augment(x_train[order], rng)
        with interruptible():  # Ctrl-C inside a step can surface as a SystemError
            fitted.fit(x, targets[order], batch_size=batch_size, epochs=1, verbose=0, shuffle=False)
            acc = accuracy(model, x_val, y_val)
        history.append(acc)
        if acc > best:
            best, best_weights = acc, model.get_weights()
        if checkpoint is not None:
            _save(checkpoint, state(epoch + 1), model, fitted, best_weights)
        if on_epoch is not None and on_epoch(epoch, acc):
            if checkpoint is not None:  # a stop is the end: a resumed run does not go past it
                _save(checkpoint, state(epochs), model, fitted, best_weights)
            break
    if best_weights is not None:
        model.set_weights(best_weights)
    return TrainResult(
        model=model, val_accuracy=best, epochs_run=len(history), history=tuple(history),
        earlier_seconds=earlier, resumed_epochs=start,
    )  # fmt: skip


def progress(status: Any, text: str, epochs: int) -> Callable[[int, float], bool]:
    """An `on_epoch` that shows each finished epoch on `status` (a rich Status) after `text`;
    it never stops the training."""

    def on_epoch(epoch: int, acc: float) -> bool:
        status.update(f"{text} · epoch {epoch + 1}/{epochs} done, val {acc:.4f}")
        return False

    return on_epoch


def checkpoint_epoch(path: Path) -> int | None:
    """The epochs a `train(checkpoint=path)` has finished, or None without a readable one."""
    try:
        with np.load(path) as z:
            return int(json.loads(bytes(z["meta"]).decode())["epoch"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None


def remove_checkpoints(*paths: Path) -> None:
    """Delete each checkpoint in `paths` and those named beside it (`<stem>.*.npz`, as
    run_chain's labels-only baseline's), torn `.part` files included: once the caller has kept
    its result."""
    for path in paths:
        for f in path.parent.glob(f"{path.stem}*.npz*"):
            f.unlink(missing_ok=True)


def _save(
    path: Path, meta: dict[str, Any], model: Any, fitted: Any, best: list[np.ndarray] | None
) -> None:
    """The state after an epoch, written whole or not at all (a temporary, synced, renamed)."""
    arrays: dict[str, Any] = {f"m{i}": np.asarray(v) for i, v in enumerate(model.variables)}
    arrays |= {f"o{i}": np.asarray(v) for i, v in enumerate(fitted.optimizer.variables)}
    arrays |= {f"b{i}": w for i, w in enumerate(best or [])}
    meta = {**meta, "variables": [list(np.shape(v)) for v in model.variables],
            "best_weights": len(best or [])}  # fmt: skip
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    with open(part, "wb") as f:
        np.savez(f, **arrays)
        f.flush()
        os.fsync(f.fileno())
    os.replace(part, path)


def _restore(
    path: Path, shape: dict[str, int], model: Any, fitted: Any, rng: np.random.Generator
) -> tuple[int, float, list[np.ndarray] | None, list[float], float] | None:
    """Load `_save`'s state into `model`, `fitted`'s optimizer and `rng`; None (and the file
    deleted) when there is none, it cannot be read, or it is another training's."""
    if not path.exists():
        return None
    try:
        with np.load(path) as z:
            meta = json.loads(bytes(z["meta"]).decode())
            ours = [list(np.shape(v)) for v in model.variables]
            if {k: meta.get(k) for k in shape} != shape or meta["variables"] != ours:
                raise ValueError("another training's checkpoint")
            saved_model = [z[f"m{i}"] for i in range(len(ours))]
            fitted.optimizer.build(fitted.trainable_variables)
            slots = fitted.optimizer.variables
            saved_opt = [z[f"o{i}"] for i in range(len(slots))]
            if [a.shape for a in saved_opt] != [tuple(np.shape(v)) for v in slots]:
                raise ValueError("another optimizer's state")
            best = [z[f"b{i}"] for i in range(meta["best_weights"])] or None
            out = (int(meta["epoch"]), float(meta["best"]), best,
                   [float(a) for a in meta["history"]], float(meta["seconds"]))  # fmt: skip
            generator = np.random.default_rng()
            generator.bit_generator.state = meta["rng"]
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile):
        path.unlink(missing_ok=True)
        return None
    for v, a in zip(model.variables, saved_model, strict=True):
        v.assign(a)
    for v, a in zip(slots, saved_opt, strict=True):
        v.assign(a)
    rng.bit_generator.state = generator.bit_generator.state
    return out
