"""TFLM's greedy memory planner, replayed in Python.

Mirrors tensorflow/lite/micro/memory_planner/greedy_memory_planner.cc: buffers are added in
tensor-index order (scratch buffers after tensors), sizes rounded up to 16 bytes
(MicroArenaBufferAlignment). Placement visits buffers by size, largest first; the initial
list is filled from the tail (so equal sizes go in reverse insertion order) and then bubble
sorted, which is stable. Each buffer goes to the lowest offset whose gap, between the
buffers live at the same time ordered by offset, is big enough.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Buffer", "align16", "plan"]


def align16(n: int) -> int:
    return (n + 15) // 16 * 16


@dataclass(frozen=True)
class Buffer:
    size: int  # already aligned
    first: int  # op index that creates it (0 for model inputs)
    last: int  # last op index that reads it (last op for model outputs)


def plan(buffers: list[Buffer]) -> tuple[list[int], int]:
    """Offsets for `buffers` (in the given order) and the arena head size they need."""
    n = len(buffers)
    if n == 0:
        return [], 0
    # Tail fill reverses insertion order; a stable descending sort keeps that among equals.
    order = sorted(reversed(range(n)), key=lambda i: -buffers[i].size)
    offsets = [-1] * n
    placed: list[int] = []  # buffer ids ordered by offset (insertion after equal offsets)
    for bid in order:
        want = buffers[bid]
        candidate = 0
        for pid in placed:
            other = buffers[pid]
            if other.last < want.first or other.first > want.last:
                continue  # not live at the same time
            gap = offsets[pid] - candidate
            if gap >= want.size:
                break
            candidate = max(candidate, offsets[pid] + other.size)
        offsets[bid] = candidate
        # keep `placed` sorted by offset; a new entry goes after entries with equal offset
        pos = len(placed)
        for k, pid in enumerate(placed):
            if offsets[pid] > candidate:
                pos = k
                break
        placed.insert(pos, bid)
    head = max(offsets[i] + buffers[i].size for i in range(n))
    return offsets, head
