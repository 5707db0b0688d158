"""Training: short proxy runs for the search, a longer run for the winner.

Plain Adam with a cosine-decayed learning rate and sparse cross-entropy on logits; the
learning rate and batch size were chosen on Fashion-MNIST validation data (docs/RESULTS.md).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nas._quiet import quiet_tensorflow

__all__ = ["TrainResult", "accuracy", "checkpoint_epoch", "train"]


@dataclass(frozen=True)
class TrainResult:
    model: Any  # keras.Model, float
    val_accuracy: float
    epochs_run: int
    history: tuple[float, ...]  # validation accuracy after each epoch


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
    uninterrupted run would have; the file is deleted once the training is done. The caller
    names the file so that only the same training (architecture, data, recipe, seed, teacher)
    finds it.
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
    best, best_weights, start = -1.0, None, 0
    history: list[float] = []
    if checkpoint is not None and checkpoint.exists():
        start, best, best_weights, history = _restore(checkpoint, model, fitted, rng)
    for epoch in range(start, epochs):
        order = rng.permutation(len(x_train))
        x = x_train[order] if augment is None else augment(x_train[order], rng)
        fitted.fit(
            x,
            targets[order],
            batch_size=batch_size,
            epochs=1,
            verbose=0,
            shuffle=False,
        )
        acc = accuracy(model, x_val, y_val)
        history.append(acc)
        if acc > best:
            best, best_weights = acc, model.get_weights()
        if checkpoint is not None:
            _save(checkpoint, epoch + 1, model, fitted, rng, best, best_weights, history)
        if on_epoch is not None and on_epoch(epoch, acc):
            break
    if best_weights is not None:
        model.set_weights(best_weights)
    if checkpoint is not None:
        checkpoint.unlink(missing_ok=True)
    return TrainResult(
        model=model, val_accuracy=best, epochs_run=len(history), history=tuple(history)
    )


def checkpoint_epoch(path: Path) -> int | None:
    """The epochs a `train(checkpoint=path)` has finished, or None without a checkpoint."""
    if not path.exists():
        return None
    with np.load(path) as z:
        return int(json.loads(bytes(z["meta"]).decode())["epoch"])


def _save(
    path: Path, epoch: int, model: Any, fitted: Any, rng: np.random.Generator, best: float,
    best_weights: list[np.ndarray] | None, history: list[float],
) -> None:  # fmt: skip
    """The state after `epoch` epochs, written whole or not at all (a temporary, then a rename)."""
    arrays: dict[str, Any] = {f"m{i}": np.asarray(v) for i, v in enumerate(model.variables)}
    arrays |= {f"o{i}": np.asarray(v) for i, v in enumerate(fitted.optimizer.variables)}
    arrays |= {f"b{i}": w for i, w in enumerate(best_weights or [])}
    meta = {"epoch": epoch, "best": best, "history": history, "rng": rng.bit_generator.state,
            "best_weights": len(best_weights or [])}  # fmt: skip
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    with open(part, "wb") as f:
        np.savez(f, **arrays)
    os.replace(part, path)


def _restore(
    path: Path, model: Any, fitted: Any, rng: np.random.Generator
) -> tuple[int, float, list[np.ndarray] | None, list[float]]:
    """Load `_save`'s state into `model`, `fitted`'s optimizer and `rng`."""
    with np.load(path) as z:
        meta = json.loads(bytes(z["meta"]).decode())
        for i, v in enumerate(model.variables):
            v.assign(z[f"m{i}"])
        fitted.optimizer.build(fitted.trainable_variables)
        for i, v in enumerate(fitted.optimizer.variables):
            v.assign(z[f"o{i}"])
        best_weights = [z[f"b{i}"] for i in range(meta["best_weights"])] or None
    rng.bit_generator.state = meta["rng"]
    return int(meta["epoch"]), float(meta["best"]), best_weights, list(meta["history"])
