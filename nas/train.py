"""Training: short proxy runs for the search, a longer run for the winner.

Plain Adam with a cosine-decayed learning rate and sparse cross-entropy on logits; the
learning rate and batch size were chosen on Fashion-MNIST validation data (docs/RESULTS.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from nas._quiet import quiet_tensorflow

__all__ = ["TrainResult", "train", "accuracy"]


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
) -> TrainResult:
    """Train `searchspaces.build(spec)`. `on_epoch(epoch, val_acc)` returning True stops early.

    With `teacher_logits` (one row per training image) the training distils: see nas.distill.
    Given `model` (already built, e.g. pruned or fake-quantized), that model is trained on
    instead: fine-tuning. The best epoch's weights (by validation accuracy) are kept.
    `augment(x, rng)` returns a fresh variant of the training inputs for each epoch.
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
    best, best_weights, history = -1.0, None, []
    for epoch in range(epochs):
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
        if on_epoch is not None and on_epoch(epoch, acc):
            break
    if best_weights is not None:
        model.set_weights(best_weights)
    return TrainResult(
        model=model, val_accuracy=best, epochs_run=len(history), history=tuple(history)
    )
