"""TFLM's whole arena, replayed: persistent tail, Prepare's temporaries and planner scratch.

The activation plan (the arena `head`) is nas/_planner.py. This module replays everything else
that `MicroInterpreter` + `RecordingMicroAllocator` do with the arena while AllocateTensors()
runs, as measured on the `tflite-micro` wheel this project pins (built from TFLM commit
8f6596d; 64-bit host, reference kernels). The facts below were established by reading TFLM's
allocator and kernels and by tracing every arena call of the installed `_runtime.so`; the tests
compare the result with the real runtime.

The arena is one block: persistent allocations grow down from its end (the `tail`), and the
`head` at its start holds first the scratch-request array, then each op's Prepare temporaries,
then the planner's working memory, and finally the activation plan. Every step checks that
head and tail do not meet. So three things can bind the smallest arena that allocates:

- the final state: tail + activation plan;
- planning: AllocationInfo (32 B per tensor) and the greedy planner's 40 B per planned buffer,
  taken from whatever lies between head and tail;
- one op's Prepare: temporary TfLiteTensors (64 B, plus 24 B and the zero points when
  quantized), while its per-channel arrays are already taken from the tail.

Alignment: kernel buffers and the plan use 16 bytes; structs their own alignment (8 for
pointers, 4 for int arrays, 1 for the reducer params). The arena's end is not aligned, so how
much padding the tail needs depends on `arena_size mod 16` (the arena start is assumed 16-byte
aligned, as `alignas(16)` in the generated main.cc and malloc give). Only allocations made
before the first 16-aligned one depend on that residue; after it the tail is 16-aligned, which
lets the smallest arena be solved for in one pass instead of by bisection.

Struct sizes are those of a 64-bit build. On a 32-bit microcontroller the pointers, and so the
persistent part, are smaller; the head is the same.
"""

from __future__ import annotations

from dataclasses import dataclass

from nas._tflite import TfliteModel, TfliteTensor

__all__ = ["ArenaFigures", "tflm_arena"]

ALIGN = 16  # MicroArenaBufferAlignment()
# Allocated once per interpreter, before the model: RecordingSingleArenaBufferAllocator,
# GreedyMemoryPlanner, RecordingMicroAllocator, MicroBuiltinDataAllocator (bytes, align).
_OBJECTS = ((104, 8), (72, 8), (272, 8), (16, 8))
_SCRATCH_REQUEST = 16  # internal::ScratchBufferRequest, kept in the head
_SCRATCH_SLOTS = 12  # requests the head has room for beyond those already made
_SUBGRAPH = 24  # SubgraphAllocations, per subgraph
_EVAL_TENSOR = 24  # TfLiteEvalTensor, per tensor (weights included)
_NODE = 64  # NodeAndRegistration, per op
_TENSOR = 64  # TfLiteTensor (TF_LITE_STATIC_MEMORY build)
_AFFINE = 24  # TfLiteAffineQuantization
_HANDLE = 8  # ScratchBufferHandle
_ALLOCATION_INFO = 32  # per tensor plus per scratch buffer, while planning
_PLANNER_PER_BUFFER = 40  # GreedyMemoryPlanner::per_buffer_size()

# Builtin option structs parsed from the flatbuffer (bytes, align), one per op.
_BUILTIN = {
    "CONV_2D": (28, 4),
    "DEPTHWISE_CONV_2D": (28, 4),
    "FULLY_CONNECTED": (32, 8),
    "MEAN": (1, 1),
    "SOFTMAX": (4, 4),
    "RESHAPE": (36, 4),
    "ADD": (8, 4),
    "AVERAGE_POOL_2D": (40, 4),
    "MAX_POOL_2D": (40, 4),
}
# The kernel's OpData, allocated in Init (16-aligned); RESHAPE has none.
_OP_DATA = {
    "CONV_2D": 80,
    "DEPTHWISE_CONV_2D": 80,
    "FULLY_CONNECTED": 72,
    "MEAN": 44,
    "SOFTMAX": 80,
    "ADD": 60,
    "AVERAGE_POOL_2D": 32,
    "MAX_POOL_2D": 32,
}
SUPPORTED = frozenset(_BUILTIN)


def _up(n: int, a: int) -> int:
    return -(-n // a) * a


@dataclass(frozen=True)
class ArenaFigures:
    head: int  # the activation plan
    tail: int  # persistent bytes, as TFLM records them for an arena whose end is 16-aligned
    min_arena: int  # smallest arena_size that allocates

    @property
    def recorded_total(self) -> int:
        """print_allocations()' "Arena allocation total" (and C++ arena_used_bytes())."""
        return self.head + self.tail


class _Arena:
    """Symbolic arena: tracks how far the tail is from the end, and what each step needs.

    `p` counts tail bytes from the end rounded down to 8 (before the first 16-aligned
    allocation), `s` tail bytes below that first 16-aligned allocation. A check "the tail
    stays at or above `need`" becomes a lower bound on the arena size.
    """

    def __init__(self) -> None:
        self.p = 0
        self.k: int | None = None  # p + size of the first 16-aligned allocation
        self.s = 0
        self.head = self.temp = 0
        self.need_prefix = 0  # smallest arena satisfying the checks made before `k` was set
        self.need_first = 0  # lowest offset the first 16-aligned allocation may start at

    def _check(self, need: int) -> None:
        """The tail must stay at or above offset `need`."""
        if self.k is None:
            self.need_prefix = max(self.need_prefix, _up(need + self.p, 8))
        else:
            self.need_first = max(self.need_first, need + self.s)

    def persist(self, size: int, align: int) -> None:
        if self.k is not None:
            self.s = _up(self.s + size, align)
        elif align == ALIGN:
            self.k = self.p + size
        else:
            self.p = _up(self.p + size, align)
        self._check(self.temp)  # TFLM checks the head; crossing live temporaries crashes it

    def temporary(self, size: int, align: int) -> None:
        # Temporaries only grow until the reset, and the tail only moves down: the check made
        # by the next `persist` or by `reset_temporaries` covers this one.
        self.temp = _up(self.temp, align) + size

    def set_head(self, size: int) -> None:
        self._check(size)
        self.head = self.temp = size

    def reset_temporaries(self) -> None:
        self._check(self.temp)
        self.temp = self.head

    def planner(self, n_buffers: int) -> None:
        """GreedyMemoryPlanner takes all memory left, 16-aligned, 40 B per buffer needed."""
        need = _up(_up(self.temp, ALIGN) + _PLANNER_PER_BUFFER * n_buffers, ALIGN)
        if self.k is None:  # no 16-aligned allocation yet (never for supported graphs with
            self._check(need + ALIGN - 1)  # kernels); bound the alignment loss instead
        else:
            self.need_first = max(self.need_first, need + _up(self.s, ALIGN))

    def figures(self, plan: int) -> ArenaFigures:
        k = self.k if self.k is not None else _up(self.p, ALIGN)
        first = _up(self.need_first, ALIGN)
        return ArenaFigures(
            head=plan,
            tail=_up(k, ALIGN) + self.s,
            min_arena=max(self.need_prefix, _up(first + k, 8)),
        )


def _temp_tensor(arena: _Arena, t: TfliteTensor | None) -> None:
    """AllocateTempTfLiteTensor: the tensor, then its quantization (zero points are copied)."""
    if t is None:
        return
    # arena.temporary(_TENSOR, 8), then (_AFFINE, 8) and (4 + 4n, 4): inlined, it is hot.
    temp = -(-arena.temp // 8) * 8 + _TENSOR
    if t.n_scales and t.n_zero_points:
        temp += _AFFINE + 4 + 4 * t.n_scales  # 64 and 24 keep it 8-aligned: no padding
    arena.temp = temp


def _persistent_tensor(arena: _Arena, t: TfliteTensor) -> None:
    arena.persist(_TENSOR, 8)
    if t.n_scales and t.n_zero_points:
        arena.persist(_AFFINE, 8)
        arena.persist(4 + 4 * t.n_scales, 4)


def tflm_arena(model: TfliteModel, plan: int, n_planned: int, scratch: list[int]) -> ArenaFigures:
    """TFLM's arena for `model`, given the greedy plan's size and its number of buffers.

    `n_planned` counts every planned buffer (non-constant tensors and scratch buffers);
    `scratch[i]` is how many scratch buffers op i requests in Prepare.
    """
    tensors = model.tensors

    def tensor(i: int) -> TfliteTensor | None:
        return tensors[i] if i >= 0 else None

    arena = _Arena()
    for size, align in _OBJECTS:
        arena.persist(size, align)
    arena.set_head(_SCRATCH_REQUEST * _SCRATCH_SLOTS)
    arena.persist(_SUBGRAPH * model.n_subgraphs, 8)
    arena.persist(_EVAL_TENSOR * len(tensors), 8)
    arena.persist(_NODE * len(model.ops), 8)
    for op in model.ops:
        arena.persist(*_BUILTIN[op.op])
    for op in model.ops:
        if op.op in _OP_DATA:
            arena.persist(_OP_DATA[op.op], ALIGN)

    requests = 0
    for op, n_scratch in zip(model.ops, scratch, strict=True):
        ins = [tensor(i) for i in op.inputs]
        out = tensors[op.outputs[0]]
        if op.op in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            x, w, b = ins[0], ins[1], ins[2] if len(ins) > 2 else None
            assert w is not None
            channels = w.shape[0] if op.op == "CONV_2D" else w.shape[3]
            for t in (x, out, w):
                _temp_tensor(arena, t)
            arena.persist(4 * channels, ALIGN)  # per-channel output multipliers
            arena.persist(4 * channels, ALIGN)  # and shifts
            for t in (x, w, b, out):
                _temp_tensor(arena, t)
        elif op.op == "FULLY_CONNECTED":
            x, w, b = ins[0], ins[1], ins[2] if len(ins) > 2 else None
            assert w is not None
            for t in (x, w, b, out):
                _temp_tensor(arena, t)
            if w.n_scales > 1:  # per-channel weights
                arena.persist(4 * w.shape[0], ALIGN)
                arena.persist(4 * w.shape[0], ALIGN)
        elif op.op == "MEAN":
            x, axes = ins[0], ins[1]
            for t in (x, out, axes):
                _temp_tensor(arena, t)
            for t in (x, axes, out):
                _temp_tensor(arena, t)
        elif op.op == "ADD":
            for t in (ins[0], ins[1], out):
                _temp_tensor(arena, t)
        else:  # pools, SOFTMAX, RESHAPE (its shape input is not materialised)
            for t in (ins[0], out):
                _temp_tensor(arena, t)
        requests += n_scratch  # recorded in the head's request array, planned later
        arena.reset_temporaries()
        arena.set_head(_SCRATCH_REQUEST * (requests + _SCRATCH_SLOTS))

    if requests:
        arena.persist(_HANDLE * requests, 8)
    arena.temporary(8 * model.n_subgraphs, 8)  # subgraph offsets
    arena.temporary(_ALLOCATION_INFO * (len(tensors) + requests), 8)
    arena.planner(n_planned)
    arena.reset_temporaries()
    arena.set_head(0)
    arena.set_head(plan)
    for group in (model.inputs, model.outputs):
        arena.persist(8 * len(group), ALIGN)
        for i in group:
            _persistent_tensor(arena, tensors[i])
    return arena.figures(plan)
