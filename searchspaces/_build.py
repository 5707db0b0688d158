"""ArchSpec -> keras.Model. Shared by every space; imports Keras only when called."""

from __future__ import annotations

from typing import Any

from searchspaces._arch import ArchSpec
from searchspaces._arch import layers as lowered

# Proxy trials run only tens of steps; with Keras' default 0.99 the moving statistics used at
# evaluation would still be near their initial values and every trial would score ~chance.
BN_MOMENTUM = 0.9


def build(spec: ArchSpec, *, dropout: float = 0.1) -> Any:
    """A Keras functional model for `spec`, outputting logits.

    Layer names are short on purpose: they are stored in the .tflite and cost flash.
    """
    from nas._quiet import quiet_tensorflow

    quiet_tensorflow()
    import keras
    from keras import layers

    x = inp = keras.Input(shape=spec.input_shape, name="x")
    out: dict[str, Any] = {}
    for layer in lowered(spec):
        if layer.op == "add":
            x = layers.Add(name=layer.name)([out[layer.skip], x])
        else:
            if layer.op == "conv":
                x = layers.Conv2D(
                    layer.channels, layer.kernel, strides=layer.stride, padding="same",
                    use_bias=False, name=layer.name,
                )(x)  # fmt: skip
            else:
                x = layers.DepthwiseConv2D(
                    layer.kernel, strides=layer.stride, padding="same", use_bias=False,
                    name=layer.name,
                )(x)  # fmt: skip
            x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=layer.name + "b")(x)
            if layer.relu:
                x = layers.ReLU(name=layer.name + "r")(x)
        out[layer.name] = x
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    if dropout:
        x = layers.Dropout(dropout, name="drop")(x)
    logits = layers.Dense(spec.num_classes, name="fc")(x)
    return keras.Model(inp, logits, name="m")


def randomize(model: Any, seed: int = 0) -> Any:
    """Give `model` trained-looking weights without training (for fidelity checks).

    A fresh model has zero biases and unit batch-norm statistics, so after folding several of
    its constant tensors are equal and the converter stores them once: its .tflite then has
    fewer tensors than a trained model of the same architecture. Random batch-norm parameters
    and biases make every constant distinct, as training does.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    for layer in model.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        if layer.__class__.__name__ == "BatchNormalization":  # gamma, beta, mean, variance
            gamma, beta, mean, var = weights
            weights = [
                rng.uniform(0.5, 1.5, gamma.shape),
                rng.normal(0, 0.1, beta.shape),
                rng.normal(0, 0.1, mean.shape),
                rng.uniform(0.5, 1.5, var.shape),
            ]
        else:
            weights = [w if w.ndim > 1 else rng.normal(0, 0.1, w.shape) for w in weights]
        layer.set_weights([np.asarray(w, dtype=np.float32) for w in weights])
    return model


def save_weights(spec: ArchSpec, model: Any, path: Any) -> None:
    """`model`'s float weights to `path` (a .weights.h5 file), through a fresh uncompiled copy of
    `spec`: the file carries no optimizer state, and `load_weights` rebuilds it."""
    bare = build(spec)
    bare.set_weights(model.get_weights())
    bare.save_weights(path)


def load_weights(spec: ArchSpec, path: Any) -> Any:
    """`build(spec)` with the float weights that `save_weights` wrote to `path`."""
    model = build(spec)
    model.load_weights(path)
    return model
