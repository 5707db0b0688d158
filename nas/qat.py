"""Quantization-aware training with Keras 3 ops (no tensorflow-model-optimization: it has no
Keras 3 support).

`qat_model(folded)` mirrors a batch-norm-folded model (`fold`) and simulates, in every forward
pass, what TFLite's full-integer conversion does to it:
- weights: symmetric int8 per output channel, scale max|w| / 127 (values -127..127), as the
  converter quantizes CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED weights;
- activations: asymmetric int8 per tensor (-128..127, zero point nudged so that 0 is exact) on
  the input and after every layer whose output TFLite stores (conv + fused ReLU, the mean, the
  logits); ranges follow an exponential moving average of each batch's min and max.
Rounding passes gradients straight through inside the range and none outside it.

The QAT weights go back into the plain folded model, which is then converted to int8 as usual
(calibrated on training images). Folding first means the weights QAT quantizes are the weights
TFLite quantizes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["fold", "qat_model", "unwrap"]

EMA = 0.99  # activation range momentum


def fold(model: Any, spec: Any) -> Any:
    """The same network with each batch norm folded into its convolution (inference function)."""
    import keras
    from keras import layers

    src = {layer.name: layer for layer in model.layers}

    def folded(conv: str) -> list[np.ndarray]:
        (kernel,) = src[conv].get_weights()
        bn = src[conv + "b"]
        gamma, beta, mean, var = bn.get_weights()
        scale = gamma / np.sqrt(var + bn.epsilon)
        if kernel.shape[-1] == 1 and isinstance(src[conv], layers.DepthwiseConv2D):
            kernel = kernel * scale[None, None, :, None]  # (k, k, C, 1): channel on axis 2
        else:
            kernel = kernel * scale
        return [kernel.astype(np.float32), (beta - mean * scale).astype(np.float32)]

    x = inp = keras.Input(shape=spec.input_shape, name="x")
    s = spec.stem
    x = layers.Conv2D(
        s.channels, s.kernel, strides=s.stride, padding="same", activation="relu", name="c0"
    )(x)
    for i, b in enumerate(spec.blocks, start=1):
        x = layers.DepthwiseConv2D(
            b.kernel, strides=b.stride, padding="same", activation="relu", name=f"d{i}"
        )(x)
        x = layers.Conv2D(b.channels, 1, padding="same", activation="relu", name=f"p{i}")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    out = layers.Dense(spec.num_classes, name="fc")(x)
    m = keras.Model(inp, out, name="m")
    m.get_layer("c0").set_weights(folded("c0"))
    for i in range(1, len(spec.blocks) + 1):
        m.get_layer(f"d{i}").set_weights(folded(f"d{i}"))
        m.get_layer(f"p{i}").set_weights(folded(f"p{i}"))
    m.get_layer("fc").set_weights(src["fc"].get_weights())
    return m


def _layers() -> tuple[Any, Any, Any, Any]:
    """The fake-quant layer classes (defined on first use: they need Keras)."""
    import keras
    from keras import layers, ops

    def ste_round(x: Any) -> Any:
        return x + ops.stop_gradient(ops.round(x) - x)

    def fake_weights(kernel: Any, axis: int) -> Any:
        """Symmetric per-channel int8 along `axis` (the output channel)."""
        reduce = tuple(a for a in range(len(kernel.shape)) if a != axis % len(kernel.shape))
        m = ops.max(ops.abs(kernel), axis=reduce, keepdims=True)
        scale = ops.stop_gradient(ops.maximum(m, 1e-12) / 127.0)
        return ops.clip(ste_round(kernel / scale), -127.0, 127.0) * scale

    class ActQuant(layers.Layer):  # type: ignore[misc]
        """Asymmetric per-tensor int8 fake quantization with EMA-tracked min/max."""

        def build(self, input_shape: Any) -> None:
            self.lo = self.add_weight(shape=(), initializer="zeros", trainable=False, name="lo")
            self.hi = self.add_weight(shape=(), initializer="zeros", trainable=False, name="hi")
            self.seen = self.add_weight(shape=(), initializer="zeros", trainable=False, name="n")

        def call(self, x: Any, training: bool = False) -> Any:
            if training:
                b_lo, b_hi = ops.stop_gradient(ops.min(x)), ops.stop_gradient(ops.max(x))
                first = ops.equal(self.seen, 0.0)
                self.lo.assign(ops.where(first, b_lo, EMA * self.lo + (1 - EMA) * b_lo))
                self.hi.assign(ops.where(first, b_hi, EMA * self.hi + (1 - EMA) * b_hi))
                self.seen.assign(1.0)
            lo, hi = ops.minimum(self.lo, 0.0), ops.maximum(self.hi, 0.0)  # 0 must be exact
            scale = ops.maximum(hi - lo, 1e-8) / 255.0
            zp = ops.round(-128.0 - lo / scale)
            lo_q, hi_q = (-128.0 - zp) * scale, (127.0 - zp) * scale
            xc = ops.clip(x, lo_q, hi_q)  # no gradient outside the range
            return ste_round(xc / scale) * scale

    class QConv2D(layers.Conv2D):  # type: ignore[misc]
        def convolution_op(self, inputs: Any, kernel: Any) -> Any:
            return super().convolution_op(inputs, fake_weights(kernel, -1))

    class QDepthwise(layers.DepthwiseConv2D):  # type: ignore[misc]
        def call(self, inputs: Any) -> Any:
            kernel = fake_weights(self.kernel, 2)  # (k, k, C, 1): TFLite's channel is C
            y = ops.depthwise_conv(
                inputs, kernel, strides=self.strides, padding=self.padding,
                data_format=self.data_format, dilation_rate=self.dilation_rate,
            )  # fmt: skip
            if self.use_bias:
                y = y + self.bias
            return self.activation(y) if self.activation is not None else y

    class QDense(layers.Dense):  # type: ignore[misc]
        def call(self, inputs: Any, training: bool = False) -> Any:
            y = ops.matmul(inputs, fake_weights(self.kernel, -1))
            return y + self.bias if self.use_bias else y

    del keras
    return ActQuant, QConv2D, QDepthwise, QDense


def qat_model(folded: Any, spec: Any) -> Any:
    """A fake-quantized copy of `folded` (weights copied; train it, then `unwrap`)."""
    import keras
    from keras import layers

    ActQuant, QConv2D, QDepthwise, QDense = _layers()
    x = inp = keras.Input(shape=spec.input_shape, name="x")
    x = ActQuant(name="q_in")(x)
    s = spec.stem
    x = QConv2D(s.channels, s.kernel, strides=s.stride, padding="same", activation="relu",
                name="c0")(x)  # fmt: skip
    x = ActQuant(name="q_c0")(x)
    for i, b in enumerate(spec.blocks, start=1):
        x = QDepthwise(b.kernel, strides=b.stride, padding="same", activation="relu",
                       name=f"d{i}")(x)  # fmt: skip
        x = ActQuant(name=f"q_d{i}")(x)
        x = QConv2D(b.channels, 1, padding="same", activation="relu", name=f"p{i}")(x)
        x = ActQuant(name=f"q_p{i}")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = ActQuant(name="q_gap")(x)
    out = ActQuant(name="q_fc")(QDense(spec.num_classes, name="fc")(x))
    q = keras.Model(inp, out, name="m_qat")
    for layer in folded.layers:
        if layer.get_weights():
            q.get_layer(layer.name).set_weights(layer.get_weights())
    return q


def unwrap(qat: Any, folded: Any) -> Any:
    """Copy the QAT weights back into the plain `folded` model (what gets converted)."""
    for layer in folded.layers:
        if layer.get_weights():
            layer.set_weights(qat.get_layer(layer.name).get_weights())
    return folded
