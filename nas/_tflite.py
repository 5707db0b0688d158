"""Read a .tflite flatbuffer into plain data, without importing TensorFlow.

Uses the schema module that the `tflite-micro` package ships (generated flatbuffers code),
so the profile of any int8 model costs ~0.1 s of imports, not TensorFlow's seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from nas.errors import TinyzooError

__all__ = ["TfliteModel", "TfliteOp", "TfliteTensor", "int8_weights", "read_tflite"]

# TensorType enum -> (name, bytes per element), from the TFLite schema.
_TYPES = {
    0: ("float32", 4),
    1: ("float16", 2),
    2: ("int32", 4),
    3: ("uint8", 1),
    4: ("int64", 8),
    6: ("bool", 1),
    7: ("int16", 2),
    9: ("int8", 1),
    10: ("float64", 8),
    15: ("uint32", 4),
    16: ("uint16", 2),
    17: ("int4", 1),
}


@dataclass(frozen=True)
class TfliteTensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    itemsize: int
    is_constant: bool  # has data in a buffer: weights, biases, axes; lives in flash
    is_variable: bool
    n_scales: int  # quantization scales (per-channel when > 1)
    n_zero_points: int

    @property
    def nbytes(self) -> int:
        n = self.itemsize
        for d in self.shape:
            n *= d
        return n


@dataclass(frozen=True)
class TfliteOp:
    index: int
    op: str  # builtin name, e.g. CONV_2D
    inputs: tuple[int, ...]  # tensor indices, -1 for an omitted optional input
    outputs: tuple[int, ...]
    options: dict[str, object]


@dataclass(frozen=True)
class TfliteModel:
    size: int
    tensors: tuple[TfliteTensor, ...]
    ops: tuple[TfliteOp, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    n_subgraphs: int


def _schema():  # type: ignore[no-untyped-def]
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as s

    return s


def _builtin_names() -> dict[int, str]:
    s = _schema()
    return {
        v: k
        for k, v in vars(s.BuiltinOperator).items()
        if not k.startswith("_") and isinstance(v, int)
    }


def _options(op, code: str) -> dict[str, object]:  # type: ignore[no-untyped-def]
    s = _schema()
    table = op.BuiltinOptions()
    if table is None:
        return {}
    cls = {
        "CONV_2D": s.Conv2DOptions,
        "DEPTHWISE_CONV_2D": s.DepthwiseConv2DOptions,
        "AVERAGE_POOL_2D": s.Pool2DOptions,
        "MAX_POOL_2D": s.Pool2DOptions,
        "FULLY_CONNECTED": s.FullyConnectedOptions,
        "MEAN": s.ReducerOptions,
    }.get(code)
    if cls is None:
        return {}
    o = cls()
    o.Init(table.Bytes, table.Pos)
    out: dict[str, object] = {}
    for field in (
        "Padding",
        "StrideW",
        "StrideH",
        "DepthMultiplier",
        "FusedActivationFunction",
        "FilterWidth",
        "FilterHeight",
        "KeepDims",
        "DilationWFactor",
        "DilationHFactor",
    ):
        if hasattr(o, field):
            out[field] = getattr(o, field)()
    return out


def read_tflite(data: bytes) -> TfliteModel:
    """Parse `data`; raise TinyzooError for anything that is not a readable .tflite."""
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise TinyzooError(
            "not a .tflite file: the flatbuffer identifier 'TFL3' is missing at byte 4. "
            "Give an int8 model converted with TFLiteConverter."
        )
    s = _schema()
    try:
        model = s.Model.GetRootAs(data, 0)
        names = _builtin_names()
        codes = []
        for i in range(model.OperatorCodesLength()):
            oc = model.OperatorCodes(i)
            code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
            codes.append(
                names.get(code, f"BUILTIN_{code}") if code != 32 else f"CUSTOM:{oc.CustomCode()}"
            )
        g = model.Subgraphs(0)
        tensors = []
        for i in range(g.TensorsLength()):
            t = g.Tensors(i)
            buf = model.Buffers(t.Buffer())
            has_data = buf is not None and (buf.DataLength() > 0 or buf.Offset() > 1)
            q = t.Quantization()
            dtype, itemsize = _TYPES.get(t.Type(), (f"type{t.Type()}", 1))
            tensors.append(
                TfliteTensor(
                    index=i,
                    name=(t.Name() or b"").decode("utf-8", "replace"),
                    shape=tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else (),
                    dtype=dtype,
                    itemsize=itemsize,
                    is_constant=bool(has_data),
                    is_variable=bool(t.IsVariable()),
                    n_scales=q.ScaleLength() if q is not None else 0,
                    n_zero_points=q.ZeroPointLength() if q is not None else 0,
                )
            )
        ops = []
        for i in range(g.OperatorsLength()):
            o = g.Operators(i)
            code = codes[o.OpcodeIndex()]
            ops.append(
                TfliteOp(
                    index=i,
                    op=code,
                    inputs=tuple(int(x) for x in o.InputsAsNumpy()) if o.InputsLength() else (),
                    outputs=tuple(int(x) for x in o.OutputsAsNumpy()) if o.OutputsLength() else (),
                    options=_options(o, code),
                )
            )
        return TfliteModel(
            size=len(data),
            tensors=tuple(tensors),
            ops=tuple(ops),
            inputs=tuple(int(x) for x in g.InputsAsNumpy()),
            outputs=tuple(int(x) for x in g.OutputsAsNumpy()),
            n_subgraphs=model.SubgraphsLength(),
        )
    except TinyzooError:
        raise
    except Exception as exc:  # flatbuffers raises assorted errors on corrupt offsets
        raise TinyzooError(
            f"corrupted or truncated .tflite ({len(data)} bytes): {type(exc).__name__}: {exc}. "
            "Re-export the model."
        ) from None


def int8_weights(data: bytes) -> list[bytes]:
    """The data of every int8 constant tensor (the weights), in tensor order."""
    read_tflite(data)  # the same checks, and the same one-line errors, as profiling
    s = _schema()
    model = s.Model.GetRootAs(data, 0)
    g = model.Subgraphs(0)
    out = []
    for i in range(g.TensorsLength()):
        t = g.Tensors(i)
        if _TYPES.get(t.Type(), ("",))[0] != "int8":
            continue
        buf = model.Buffers(t.Buffer())
        if buf is None:
            continue
        if buf.Offset() > 1:  # stored after the flatbuffer (large models)
            chunk = data[buf.Offset() : buf.Offset() + buf.Size()]
        elif buf.DataLength():
            chunk = buf.DataAsNumpy().tobytes()
        else:
            continue
        out.append(chunk)
    return out
