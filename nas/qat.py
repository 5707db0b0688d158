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

from searchspaces._arch import layers as lowered

__all__ = ["fold", "qat_model", "unwrap"]

EMA = 0.99  # activation range momentum


def fold(model: Any, spec: Any) -> Any:
    """The same network with each batch norm folded into its convolution (inference function)."""
    from keras import layers

    src = {layer.name: layer for layer in model.layers}

    def folded(conv: str, depthwise: bool) -> list[np.ndarray]:
        (kernel,) = src[conv].get_weights()
        bn = src[conv + "b"]
        gamma, beta, mean, var = bn.get_weights()
        scale = gamma / np.sqrt(var + bn.epsilon)
        # a depthwise kernel is (k, k, C, 1): its channel is on axis 2
        kernel = kernel * (scale[None, None, :, None] if depthwise else scale)
        return [kernel.astype(np.float32), (beta - mean * scale).astype(np.float32)]

    m = _assemble(spec, layers.Conv2D, layers.DepthwiseConv2D, layers.Dense, None)
    for layer in lowered(spec):
        if layer.op != "add":
            m.get_layer(layer.name).set_weights(folded(layer.name, layer.op == "dw"))
    m.get_layer("fc").set_weights(src["fc"].get_weights())
    return m


def _assemble(spec: Any, conv: Any, depthwise: Any, dense: Any, act_quant: Any) -> Any:
    """The folded network (convolutions with biases and fused ReLU, linear projections, adds)
    from the given layer classes; with `act_quant`, a fake-quant layer wherever TFLite stores
    an int8 tensor: the input and every layer's output."""
    import keras
    from keras import layers

    def q(x: Any, name: str) -> Any:
        return act_quant(name=name)(x) if act_quant is not None else x

    seq = lowered(spec)
    x = inp = keras.Input(shape=spec.input_shape, name="x")
    x = q(x, "q_in")
    out: dict[str, Any] = {}
    add_quant: Any = None  # the next add's fake-quant, made ahead so its input's can follow it
    for i, layer in enumerate(seq):
        relu = "relu" if layer.relu else None
        if layer.op == "add":
            x = layers.Add(name=layer.name)([out[layer.skip], x])
        elif layer.op == "conv":
            x = conv(layer.channels, layer.kernel, strides=layer.stride, padding="same",
                     activation=relu, name=layer.name)(x)  # fmt: skip
        else:
            x = depthwise(layer.kernel, strides=layer.stride, padding="same", activation=relu,
                          name=layer.name)(x)  # fmt: skip
        if act_quant is None:
            pass
        elif layer.op == "add":
            x, add_quant = add_quant(x), None
        elif i + 1 < len(seq) and seq[i + 1].op == "add":
            add_quant = act_quant(name=f"q_{seq[i + 1].name}")
            x = act_quant(widen=add_quant, name=f"q_{layer.name}")(x)
        else:
            x = q(x, f"q_{layer.name}")
        out[layer.name] = x
    x = q(layers.GlobalAveragePooling2D(name="gap")(x), "q_gap")
    logits = q(dense(spec.num_classes, name="fc")(x), "q_fc")
    return keras.Model(inp, logits, name="m_qat" if act_quant is not None else "m")


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
        """Asymmetric per-tensor int8 fake quantization with EMA-tracked min/max.

        `widen`: another ActQuant whose range this one's must cover too. The converter gives a
        residual block's projection (the ADD's input that nothing else reads) the union of its
        own calibrated range and the ADD output's; QAT follows it (measured on the converter's
        output, tests/test_compress.py).
        """

        def __init__(self, widen: Any = None, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.widen = widen

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
            if self.widen is not None and self.widen.built:
                lo, hi = ops.minimum(lo, self.widen.lo), ops.maximum(hi, self.widen.hi)
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
    ActQuant, QConv2D, QDepthwise, QDense = _layers()
    q = _assemble(spec, QConv2D, QDepthwise, QDense, ActQuant)
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
