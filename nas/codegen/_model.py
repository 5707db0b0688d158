"""The little codegen needs from a .tflite: its operators and its input/output tensors.

Deliberately minimal (nas/profile owns the full reader): reads the flatbuffer with the
schema module the `tflite-micro` package ships, so generating C costs no TensorFlow import.
"""

from __future__ import annotations

from dataclasses import dataclass

from nas.errors import TinyzooError

__all__ = ["ModelInfo", "TensorInfo", "read_model_info"]

# TensorType enum values (tensorflow/lite/schema/schema.fbs) we can name in C.
_TYPES = {0: "float32", 2: "int32", 3: "uint8", 7: "int16", 9: "int8"}
_CUSTOM = 32  # BuiltinOperator.CUSTOM


@dataclass(frozen=True)
class TensorInfo:
    name: str
    dtype: str  # float32, int8, ... ("type<N>" for a type C code cannot name)
    shape: tuple[int, ...]
    scale: float | None  # None when not quantized
    zero_point: int


@dataclass(frozen=True)
class ModelInfo:
    ops: tuple[str, ...]  # distinct builtin names (CONV_2D, ...) over all subgraphs, sorted
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]


def _tensor(t) -> TensorInfo:  # type: ignore[no-untyped-def]
    q = t.Quantization()
    scaled = q is not None and q.ScaleLength() > 0
    return TensorInfo(
        name=(t.Name() or b"").decode("utf-8", "replace"),
        dtype=_TYPES.get(t.Type(), f"type{t.Type()}"),
        shape=tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else (),
        # Per-tensor quantization for inputs/outputs: the first entry is the only one.
        scale=float(q.Scale(0)) if scaled else None,
        zero_point=int(q.ZeroPoint(0)) if scaled and q.ZeroPointLength() else 0,
    )


def read_model_info(tflite: bytes) -> ModelInfo:
    """Parse `tflite`; TinyzooError if it is not a readable .tflite flatbuffer."""
    if len(tflite) < 8 or tflite[4:8] != b"TFL3":
        raise TinyzooError(
            f"not a .tflite model ({len(tflite)} bytes, no 'TFL3' identifier at byte 4). "
            "Pass the bytes of an int8 model written by TFLiteConverter."
        )
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if isinstance(v, int)}
    try:
        model = schema.Model.GetRootAs(tflite, 0)
        codes = []
        for i in range(model.OperatorCodesLength()):
            oc = model.OperatorCodes(i)
            # Codes < 127 may live in the deprecated int8 field only (schema_utils.cc).
            code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
            if code == _CUSTOM:
                custom = (oc.CustomCode() or b"").decode("utf-8", "replace")
                codes.append(f"CUSTOM:{custom}")
            else:
                codes.append(names.get(code, f"BUILTIN_{code}"))
        used: set[str] = set()
        for s in range(model.SubgraphsLength()):
            g = model.Subgraphs(s)
            used.update(codes[g.Operators(i).OpcodeIndex()] for i in range(g.OperatorsLength()))
        main = model.Subgraphs(0)
        return ModelInfo(
            ops=tuple(sorted(used)),
            inputs=tuple(_tensor(main.Tensors(int(i))) for i in main.InputsAsNumpy()),
            outputs=tuple(_tensor(main.Tensors(int(i))) for i in main.OutputsAsNumpy()),
        )
    except Exception as exc:  # flatbuffers fails in assorted ways on corrupt offsets
        raise TinyzooError(
            f"corrupt or truncated .tflite ({len(tflite)} bytes): {type(exc).__name__}: {exc}. "
            "Re-export the model."
        ) from None
