"""Entropy-coded size of a model's int8 weights (Huffman coding, the last stage of Deep
Compression, Han et al. 2016).

TFLM executes the raw .tflite: it cannot run Huffman-coded weights, so the coded size is what
storing or transmitting the weights would take (an over-the-air update, a compressed flash
image), never what the board's flash must hold for inference.

The size is that of a real encoding: `encode` builds a canonical Huffman code over all int8
weight bytes of the model (one code table), packs the bitstream, and `decode` inverts it; the
coded size is the packed stream plus the table (one byte per symbol for its code length).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np

from nas.errors import TinyzooError

__all__ = ["Coded", "WeightSizes", "code_lengths", "decode", "encode", "weight_sizes"]


def code_lengths(counts: np.ndarray) -> np.ndarray:
    """Optimal (Huffman) code length per symbol from its count; 0 for unused symbols."""
    used = [int(s) for s in np.flatnonzero(counts)]
    lengths = np.zeros(len(counts), dtype=np.int64)
    if len(used) == 1:
        lengths[used[0]] = 1  # a lone symbol still needs one bit per occurrence
        return lengths
    # (weight, tie-breaker, symbols under this node); ties broken by insertion for determinism
    heap = [(int(counts[s]), i, [s]) for i, s in enumerate(used)]
    heapq.heapify(heap)
    tick = len(heap)
    while len(heap) > 1:
        w1, _, s1 = heapq.heappop(heap)
        w2, _, s2 = heapq.heappop(heap)
        for s in s1 + s2:
            lengths[s] += 1  # every symbol under the merged node moves one level down
        heapq.heappush(heap, (w1 + w2, tick, s1 + s2))
        tick += 1
    return lengths


def _canonical(lengths: np.ndarray) -> np.ndarray:
    """Canonical codes: by (length, symbol), each code the previous + 1, shifted on growth."""
    codes = np.zeros(len(lengths), dtype=np.int64)
    code, prev = 0, 0
    for s in sorted(np.flatnonzero(lengths), key=lambda s: (lengths[s], s)):
        code <<= int(lengths[s]) - prev
        codes[s] = code
        prev = int(lengths[s])
        code += 1
    return codes


@dataclass(frozen=True)
class Coded:
    lengths: np.ndarray  # code length per byte value (index = uint8 value), 0 = unused
    payload: bytes  # the packed bitstream, MSB first
    n_symbols: int  # bytes encoded
    n_bits: int

    @property
    def size_bytes(self) -> int:
        """What storing it takes: the bitstream plus one code-length byte per byte value."""
        return len(self.payload) + len(self.lengths)


def encode(data: bytes) -> Coded:
    symbols = np.frombuffer(data, dtype=np.uint8)
    lengths = code_lengths(np.bincount(symbols, minlength=256))
    codes = _canonical(lengths)
    longest = int(lengths.max(initial=0))
    if longest > 62:
        raise TinyzooError(f"Huffman code of {longest} bits: the data is too skewed to code.")
    # table[v] holds v's code as bits, left-aligned; mask[v] which of them are used
    shifts = np.arange(longest - 1, -1, -1)
    left = codes << (longest - lengths)
    table = ((left[:, None] >> shifts[None, :]) & 1).astype(np.uint8)
    mask = np.arange(longest)[None, :] < lengths[:, None]
    bits = table[symbols][mask[symbols]]
    return Coded(lengths, np.packbits(bits).tobytes(), len(symbols), int(bits.size))


def decode(coded: Coded) -> bytes:
    """Invert `encode` (canonical decoding, one bit at a time)."""
    lengths = coded.lengths
    codes = _canonical(lengths)
    lookup = {(int(lengths[s]), int(codes[s])): s for s in np.flatnonzero(lengths)}
    bits = np.unpackbits(np.frombuffer(coded.payload, dtype=np.uint8))[: coded.n_bits]
    out = bytearray()
    code = length = 0
    for b in bits.tolist():
        code, length = (code << 1) | b, length + 1
        s = lookup.get((length, code))
        if s is not None:
            out.append(s)
            code = length = 0
    if length or len(out) != coded.n_symbols:
        raise TinyzooError("corrupted Huffman stream: it does not end on a symbol boundary.")
    return bytes(out)


@dataclass(frozen=True)
class WeightSizes:
    int8_bytes: int  # raw int8 weights in the .tflite (what TFLM reads from flash)
    huffman_bytes: int  # the same, Huffman-coded (storage / transmission only)

    @property
    def ratio(self) -> float:
        return self.huffman_bytes / self.int8_bytes if self.int8_bytes else 1.0


def weight_sizes(tflite: bytes) -> WeightSizes:
    """Raw and Huffman-coded size of all int8 constant tensors (weights) of a .tflite."""
    from nas._tflite import int8_weights

    raw = b"".join(int8_weights(tflite))
    if not raw:
        return WeightSizes(0, 0)
    return WeightSizes(len(raw), encode(raw).size_bytes)
