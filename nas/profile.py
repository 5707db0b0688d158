"""The one place that computes MACs, params, flash and memory, before and after training.

`profile_spec(spec)` works on an ArchSpec before any training; `profile_tflite(data)` on a
converted int8 model. Both lower the model to the same op graph (for a spec, the graph the
TFLite converter emits for our Keras build), replay TFLM's greedy memory planner on it (the
activation figure is TFLM's arena `head` to the byte) and then the rest of TFLM's allocation
(nas/_tflm_arena.py: persistent tail, Prepare temporaries, planner scratch), so the arena is
TFLM's own figure too. nas/_ideal.py gives the runtime-free ideal peak beside it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING

from nas._ideal import ideal_peak
from nas._planner import Buffer, align16, plan
from nas._tflite import TfliteModel, TfliteOp, TfliteTensor, read_tflite
from nas._tflm_arena import SUPPORTED, tflm_arena
from nas.errors import TinyzooError

if TYPE_CHECKING:
    from nas.boards import Budget

__all__ = [
    "LayerRow", "Profile", "profile_spec", "profile_tflite", "profile_for_budget", "SUPPORTED_OPS",
]  # fmt: skip

# Ops whose TFLM reference kernels' arena use is replayed exactly (nas/_tflm_arena.py).
SUPPORTED_OPS = SUPPORTED


@dataclass(frozen=True)
class LayerRow:
    op: str
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    macs: int
    weight_bytes: int  # constant inputs (weights, biases) as stored: int8 / int32
    live_bytes: int  # arena bytes of every buffer alive while this op runs (16-byte aligned)


@dataclass(frozen=True)
class Profile:
    macs: int
    params: int
    tflite_bytes: int  # exact for a .tflite; an upper-bound estimate for a spec
    activation_bytes: int  # TFLM's arena head: the greedy plan of non-persistent buffers
    persistent_bytes: int  # TFLM's arena tail: eval tensors, node structs, kernels' op data
    recorded_total_bytes: int  # head + tail: print_allocations()' total, arena_used_bytes()
    min_arena_bytes: int  # smallest arena_size that allocates (Prepare and planning included)
    # The arena to give TFLM: the larger of the two above (see nas/_tflm_arena.py)
    arena_bytes: int
    ideal_peak_bytes: int  # best order, in-place ops, no alignment: see nas/_ideal.py
    # The same without in-place ops: activations as muNAS and MCUNet count them (nas/_ideal.py)
    paper_peak_bytes: int
    layers: tuple[LayerRow, ...]
    tflite_estimated: bool

    @property
    def peak_index(self) -> int:
        return max(range(len(self.layers)), key=lambda i: self.layers[i].live_bytes)

    def flash_bytes(self, flash_reserved: int) -> int:
        """Model bytes plus the board's runtime/application reserve."""
        return self.tflite_bytes + flash_reserved

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["peak_index"] = self.peak_index
        return d


# --- an ArchSpec lowered to the converter's graph -------------------------------------------


def _same(n: int, stride: int) -> int:
    return math.ceil(n / stride)


class _GraphBuilder:
    def __init__(self) -> None:
        self.tensors: list[TfliteTensor] = []
        self.ops: list[TfliteOp] = []

    def tensor(
        self,
        name: str,
        shape: tuple[int, ...],
        dtype: str = "int8",
        const: bool = False,
        scales: int = 1,
    ) -> int:
        itemsize = {"int8": 1, "int32": 4}[dtype]
        zero_points = min(scales, 1) if const else scales  # nas.quantize.compact: one
        self.tensors.append(
            TfliteTensor(
                len(self.tensors), name, shape, dtype, itemsize, const, False, scales, zero_points
            )
        )
        return len(self.tensors) - 1

    def op(
        self, op: str, inputs: tuple[int, ...], outputs: tuple[int, ...], **options: object
    ) -> None:
        self.ops.append(TfliteOp(len(self.ops), op, inputs, outputs, dict(options)))


def graph_of(spec: object) -> TfliteModel:
    """The int8 graph TFLiteConverter produces for `searchspaces.build(spec)`.

    Tensor order matches the converter's: the input, then intermediates in op order, then
    the output (only the relative order of non-constant tensors matters to the planner).
    """
    from searchspaces._arch import ArchSpec

    assert isinstance(spec, ArchSpec)
    from searchspaces._arch import layers, pair

    g = _GraphBuilder()
    h, w, c = spec.input_shape
    x = g.tensor("input", (1, h, w, c))
    made: dict[str, int] = {}  # layer name -> its output tensor
    for layer in layers(spec):
        if layer.op == "add":
            y = g.tensor("act", (1, h, w, c))
            g.op("ADD", (made[layer.skip], x), (y,))
            x = made[layer.name] = y
            continue
        (kh, kw), (sh, sw) = pair(layer.kernel), pair(layer.stride)
        h, w = _same(h, sh), _same(w, sw)
        if layer.op == "dw":
            wt = g.tensor("dw", (1, kh, kw, c), const=True, scales=c)
            bias = g.tensor("b", (c,), "int32", const=True, scales=c)
            op = "DEPTHWISE_CONV_2D"
        else:
            cout = layer.channels
            wt = g.tensor("w", (cout, kh, kw, c), const=True, scales=cout)
            bias = g.tensor("b", (cout,), "int32", const=True, scales=cout)
            c, op = cout, "CONV_2D"
        y = g.tensor("act", (1, h, w, c))
        g.op(op, (x, wt, bias), (y,), StrideH=sh, StrideW=sw)
        x = made[layer.name] = y
    axes = g.tensor("axes", (2,), "int32", const=True, scales=0)
    y = g.tensor("gap", (1, c))
    g.op("MEAN", (x, axes), (y,), KeepDims=False)
    # The converter quantizes dense weights per output channel too.
    wt = g.tensor("fc", (spec.num_classes, c), const=True, scales=spec.num_classes)
    bias = g.tensor("fcb", (spec.num_classes,), "int32", const=True, scales=spec.num_classes)
    out = g.tensor("logits", (1, spec.num_classes))
    g.op("FULLY_CONNECTED", (y, wt, bias), (out,))
    return TfliteModel(
        size=0,
        tensors=tuple(g.tensors),
        ops=tuple(g.ops),
        inputs=(0,),
        outputs=(out,),
        n_subgraphs=1,
    )


# --- shared analysis ------------------------------------------------------------------------


def _macs(op: TfliteOp, t: tuple[TfliteTensor, ...]) -> int:
    out = t[op.outputs[0]].shape
    if op.op == "CONV_2D":
        cout, kh, kw, cin = t[op.inputs[1]].shape
        return out[1] * out[2] * cout * kh * kw * cin
    if op.op == "DEPTHWISE_CONV_2D":
        _, kh, kw, c = t[op.inputs[1]].shape
        return out[1] * out[2] * c * kh * kw
    if op.op == "FULLY_CONNECTED":
        n_out, n_in = t[op.inputs[1]].shape
        return n_out * n_in
    if op.op in ("MEAN", "ADD"):
        return math.prod(t[op.inputs[0]].shape)  # one accumulate per input element
    if op.op in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        window = [op.options.get(k, 1) for k in ("FilterHeight", "FilterWidth")]
        return math.prod(t[op.outputs[0]].shape) * math.prod(int(str(k)) for k in window)
    return 0


def _scratch(op: TfliteOp, t: tuple[TfliteTensor, ...]) -> list[int]:
    """Scratch buffers a TFLM reference kernel requests in Prepare, in request order."""
    if op.op == "MEAN":
        # reduce_common.cc PrepareMeanOrSumHelper: an int32 accumulator per output element
        # (quantized inputs only), then int index arrays over the input's dims and the axes.
        x, axes = t[op.inputs[0]], t[op.inputs[1]]
        sizes = [4 * math.prod(t[op.outputs[0]].shape)] if x.dtype in ("int8", "int16") else []
        return [*sizes, 4 * len(x.shape), 4 * math.prod(axes.shape)]
    return []


def _buffers(model: TfliteModel) -> tuple[list[Buffer], list[int]]:
    """Planner buffers in TFLM's order (tensors, then scratch) and the tensor of each (-1 = scratch)."""
    last_op = len(model.ops) - 1
    first = {i: -1 for i in range(len(model.tensors))}
    last = {i: -1 for i in range(len(model.tensors))}
    for i in model.inputs:
        first[i] = 0
    for i in model.outputs:
        last[i] = last_op
    for op in model.ops:
        for o in op.outputs:
            if first[o] == -1 or first[o] > op.index:
                first[o] = op.index
        for i in op.inputs:
            if i >= 0 and last[i] < op.index:
                last[i] = op.index
    bufs, owners = [], []
    for tensor in model.tensors:
        if tensor.is_constant or tensor.is_variable:
            continue
        bufs.append(Buffer(align16(tensor.nbytes), first[tensor.index], last[tensor.index]))
        owners.append(tensor.index)
    for op in model.ops:
        for size in _scratch(op, model.tensors):
            bufs.append(Buffer(align16(size), op.index, op.index))
            owners.append(-1)
    return bufs, owners


def _profile(model: TfliteModel, tflite_bytes: int, estimated: bool) -> Profile:
    if model.n_subgraphs != 1:
        raise TinyzooError(
            f"the model has {model.n_subgraphs} subgraphs; tinyzoo profiles single-graph models."
        )
    t = model.tensors
    bufs, owners = _buffers(model)
    _, head = plan(bufs)
    n_planned = sum(1 for b, o in zip(bufs, owners, strict=True) if o < 0 or b.size)
    arena = tflm_arena(model, head, n_planned, [len(_scratch(op, t)) for op in model.ops])
    rows = []
    for op in model.ops:
        live = sum(b.size for b in bufs if b.first <= op.index <= b.last)
        weights = sum(t[i].nbytes for i in op.inputs if i >= 0 and t[i].is_constant)
        rows.append(
            LayerRow(
                op.op, t[op.inputs[0]].shape, t[op.outputs[0]].shape, _macs(op, t), weights, live
            )
        )
    params = sum(
        math.prod(x.shape)
        for x in t
        if x.is_constant and x.dtype in ("int8", "int32") and x.n_scales
    )
    return Profile(
        macs=sum(r.macs for r in rows),
        params=params,
        tflite_bytes=tflite_bytes,
        activation_bytes=head,
        persistent_bytes=arena.tail,
        recorded_total_bytes=arena.recorded_total,
        min_arena_bytes=arena.min_arena,
        arena_bytes=max(arena.min_arena, arena.recorded_total),
        ideal_peak_bytes=ideal_peak(model),
        paper_peak_bytes=ideal_peak(model, in_place=False),
        layers=tuple(rows),
        tflite_estimated=estimated,
    )


def _tflite_estimate(model: TfliteModel) -> int:
    """Upper-bound .tflite size for a spec's graph, before conversion.

    Fitted on converted, trained-like models of the dscnn and mbv2 spaces, stripped of names
    as `nas.quantize.convert_int8` leaves them: the file is the constant data (each buffer
    padded to at most 16 bytes), 4 bytes per quantization scale and 8 per zero point (int64;
    one per constant tensor once `nas.quantize.compact` ran), plus flatbuffer tables that grow
    by 67 B per tensor (shape, quantization and buffer entries) and 99 B per op; 605 B is the
    rest (least squares on 19 models, within 25 B of each), and 256 B of slack keeps it an
    upper bound: bench/profile.py measures how far over the file it is, and
    tests/test_profile.py holds it within ESTIMATE_SLACK.
    """
    n = 605 + 256 + 99 * len(model.ops)
    for x in model.tensors:
        n += 67 + 4 * x.n_scales + 8 * x.n_zero_points
        if x.is_constant:
            n += x.nbytes + 16
    return n


# How loose `_tflite_estimate` may be: file <= estimate <= ratio * file + bytes.
ESTIMATE_SLACK = (1.25, 2048)


def profile_spec(spec: object) -> Profile:
    """Profile an architecture before training (the tflite size is an upper-bound estimate)."""
    g = graph_of(spec)
    return _profile(g, _tflite_estimate(g), estimated=True)


def profile_for_budget(spec: object, budget: Budget) -> Profile:
    """`profile_spec`, with the .tflite size made exact where the estimate cannot decide.

    When flash is the only bound of `budget` the estimate breaks and the file itself may be
    within it (ESTIMATE_SLACK), the spec is converted untrained, with trained-like constants:
    the file's bytes depend on shapes, not on weight values, so this is the trained model's
    size (a few seconds, TensorFlow imported). Without it a design a few bytes under the limit
    would be rejected before training.
    """
    from nas.boards import figures

    p = profile_spec(spec)
    over = {key for key, (value, limit) in budget.bounded(**figures(p)).items() if value > limit}
    if over != {"flash"}:
        return p  # within budget, or over it on another bound whatever the file's size
    assert budget.flash_bytes is not None
    ratio, slack = ESTIMATE_SLACK
    if (p.tflite_bytes - slack) / ratio > budget.flash_bytes:
        return p  # over the limit even at the estimate's loosest
    return replace(p, tflite_bytes=_converted_bytes(spec), tflite_estimated=False)


def _converted_bytes(spec: object) -> int:
    import numpy as np

    from nas.quantize import convert_int8
    from searchspaces._build import build, randomize

    shape = spec.input_shape  # type: ignore[attr-defined]
    model = randomize(build(spec), seed=0)  # type: ignore[arg-type]
    rep = np.random.default_rng(0).random((8, *shape), dtype=np.float32)
    return len(convert_int8(model, rep))


def profile_tflite(data: bytes) -> Profile:
    """Profile a converted int8 .tflite; TensorFlow is not imported."""
    model = read_tflite(data)
    unsupported = sorted({op.op for op in model.ops} - SUPPORTED_OPS)
    if unsupported:
        raise TinyzooError(
            f"op(s) {', '.join(unsupported)} are outside tinyzoo's supported set "
            f"({', '.join(sorted(SUPPORTED_OPS))}); TFLM figures would be an estimate."
        )
    floats = [x.name for x in model.tensors if not x.is_constant and x.dtype == "float32"]
    if floats:
        raise TinyzooError(
            f"not an int8 model: tensor {floats[0]!r} is float32. Convert with full-integer "
            "quantization (int8 input and output)."
        )
    _check_graph(model)
    try:
        return _profile(model, len(data), estimated=False)
    except (KeyError, IndexError, ValueError, TypeError, ZeroDivisionError) as e:
        # _check_graph passed, yet the graph cannot be analysed: inconsistent offsets or data.
        raise TinyzooError(
            f"corrupted .tflite: its graph is inconsistent ({type(e).__name__}: {e}). "
            "Re-export the model."
        ) from None


# Rank each op's (data input, weights, output) must have; None: any rank.
_RANKS = {
    "CONV_2D": (4, 4, 4),
    "DEPTHWISE_CONV_2D": (4, 4, 4),
    "FULLY_CONNECTED": (None, 2, None),
    "MEAN": (None, None, None),
    "SOFTMAX": (None, None, None),
    "RESHAPE": (None, None, None),
    "ADD": (None, None, None),
    "AVERAGE_POOL_2D": (4, None, 4),
    "MAX_POOL_2D": (4, None, 4),
}


def _check_graph(model: TfliteModel) -> None:
    """Reject a flatbuffer whose graph does not hang together (tensor indices, op arity, ranks)."""
    n = len(model.tensors)

    def bad(what: str) -> TinyzooError:
        return TinyzooError(f"corrupted .tflite: {what}. Re-export the model.")

    for x in model.tensors:
        if any(d < 0 or d > 1 << 24 for d in x.shape):
            raise bad(f"tensor {x.index} has shape {list(x.shape)}")
    for i in (*model.inputs, *model.outputs):
        if not 0 <= i < n:
            raise bad(f"graph input/output {i} is not one of its {n} tensors")
    for op in model.ops:
        if not op.outputs or any(not 0 <= i < n for i in op.outputs):
            raise bad(f"op {op.index} ({op.op}) has outputs {list(op.outputs)} for {n} tensors")
        if not op.inputs or op.inputs[0] < 0 or any(not -1 <= i < n for i in op.inputs):
            raise bad(f"op {op.index} ({op.op}) has inputs {list(op.inputs)} for {n} tensors")
        data_rank, weight_rank, out_rank = _RANKS[op.op]
        weights = op.inputs[1] if len(op.inputs) > 1 else -1
        if weight_rank is not None and weights < 0:
            raise bad(f"op {op.index} ({op.op}) has no weights input")
        for idx, rank in (
            (op.inputs[0], data_rank),
            (weights, weight_rank),
            (op.outputs[0], out_rank),
        ):
            if rank is not None and len(model.tensors[idx].shape) != rank:
                raise bad(
                    f"op {op.index} ({op.op}) tensor {idx} has rank "
                    f"{len(model.tensors[idx].shape)}, expected {rank}"
                )
