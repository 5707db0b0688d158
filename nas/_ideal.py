"""The ideal activation peak: what an interpreter-free runtime could reach.

TFLM gives every intermediate tensor its own 16-byte-aligned slot for the tensor's whole life
and runs ops in file order. Here instead:

- tensors take their exact byte size, with no alignment and no scratch buffers;
- the op order is the best topological order (exhaustive search over the graph's ready sets;
  a chain has exactly one);
- an op runs in place when its input dies at that op: elementwise ops (ADD, the activations,
  QUANTIZE) and RESHAPE write over their input, and a depthwise convolution overwrites its
  input channel by channel through a one-channel buffer of H_out x W_out bytes (the in-place
  depthwise of MCUNetV2, Lin et al. 2021).

So it is a lower bound for any runtime that keeps whole tensors, never a TFLM figure.

With `in_place=False` no op writes over its input: every op needs its inputs and outputs at
once. That is the peak as muNAS (Liberis et al. 2021) and operator reordering (Liberis & Lane
2019) count it: the best order, exact sizes, whole tensors.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache

from nas._tflite import TfliteModel

__all__ = ["ideal_peak"]

ELEMENTWISE = frozenset(
    {"ADD", "MUL", "SUB", "RELU", "RELU6", "LOGISTIC", "TANH", "QUANTIZE", "DEQUANTIZE", "RESHAPE"}
)
# Past this many distinct ready sets the search stops and keeps the file's order.
MAX_STATES = 200_000


def ideal_peak(model: TfliteModel, *, in_place: bool = True) -> int:
    t = model.tensors
    acts = {x.index for x in t if not x.is_constant and not x.is_variable}
    ops = model.ops
    ins = [tuple(i for i in op.inputs if i in acts) for op in ops]
    outs = [tuple(o for o in op.outputs if o in acts) for op in ops]
    producer = {o: k for k, op_outs in enumerate(outs) for o in op_outs}
    consumers: dict[int, list[int]] = {i: [] for i in acts}
    for k, op_ins in enumerate(ins):
        for i in op_ins:
            consumers[i].append(k)
    keep = set(model.outputs)
    deps = [frozenset(producer[i] for i in op_ins if i in producer) for op_ins in ins]
    size = {i: t[i].nbytes for i in acts}

    def live_after(done: frozenset[int]) -> set[int]:
        """Tensors that exist once `done` ran: produced (or inputs) and still needed."""
        out = set()
        for i in acts:
            made = i not in producer or producer[i] in done
            needed = i in keep or any(c not in done for c in consumers[i])
            if made and needed:
                out.add(i)
        return out

    def step(done: frozenset[int], k: int) -> int:
        """Bytes in use while op k runs after the ops in `done`."""
        after = done | {k}
        dying = [i for i in ins[k] if i not in keep and all(c in after for c in consumers[i])]
        return _cost(sum(size[i] for i in live_after(done)), k, dying)

    def _cost(base: int, k: int, dying: list[int]) -> int:
        op = ops[k].op if in_place else ""
        if op in ELEMENTWISE and dying and len(outs[k]) == 1:
            # the output takes the dying input's place (growing it if larger)
            return base + max(0, size[outs[k][0]] - size[dying[0]])
        if op == "DEPTHWISE_CONV_2D" and dying and len(outs[k]) == 1:
            shape = t[outs[k][0]].shape
            channel = math.prod(shape[1:3]) if len(shape) == 4 else 0
            return base + max(0, size[outs[k][0]] - size[dying[0]]) + channel
        return base + sum(size[o] for o in outs[k])

    n = len(ops)
    if all(k - 1 in deps[k] for k in range(1, n)):
        # A chain: file order is the only order, and liveness is an interval per tensor.
        n_ops = len(ops)
        life = {
            i: (producer.get(i, -1), n_ops if i in keep else max(consumers[i], default=-1))
            for i in acts
        }
        peak = 0
        for k in range(n_ops):
            base = sum(size[i] for i, (b, e) in life.items() if b < k <= e)
            dying = [i for i in ins[k] if i not in keep and life[i][1] == k]
            peak = max(peak, _cost(base, k, dying))
        return peak
    states = 0

    @cache
    def best(done: frozenset[int]) -> int:
        nonlocal states
        states += 1
        if states > MAX_STATES:
            raise _TooMany
        if len(done) == n:
            return 0
        ready = [k for k in range(n) if k not in done and deps[k] <= done]
        return min(max(step(done, k), best(done | {k})) for k in ready)

    try:
        return best(frozenset())
    except _TooMany:
        return _in_order(step, n)


def _in_order(step: Callable[[frozenset[int], int], int], n: int) -> int:
    done: frozenset[int] = frozenset()
    peak = 0
    for k in range(n):
        peak = max(peak, step(done, k))
        done = done | {k}
    return peak


class _TooMany(Exception):
    pass
