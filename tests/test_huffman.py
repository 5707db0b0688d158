"""Huffman coding of int8 weights: a real, decodable code of optimal length."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nas._tflite import int8_weights
from nas.huffman import code_lengths, decode, encode, weight_sizes

SHIPPED = Path(__file__).resolve().parents[1] / "zoo" / "pretrained"


def test_textbook_code_lengths() -> None:
    counts = np.zeros(256, dtype=np.int64)
    counts[[1, 2, 3, 4]] = [5, 9, 12, 13]
    counts[5], counts[6] = 16, 45  # CLRS's example: f=45 gets 1 bit, a=5 and b=9 get 4
    lengths = code_lengths(counts)
    assert lengths[[6, 5, 4, 3, 2, 1]].tolist() == [1, 3, 3, 3, 4, 4]
    assert lengths.sum() == 18 and (lengths > 0).sum() == 6


@pytest.mark.parametrize("scale", [0.5, 4.0, 40.0])
def test_round_trip_and_optimal_length(scale: float) -> None:
    rng = np.random.default_rng(0)
    data = np.clip(np.round(rng.laplace(0, scale, 20_000)), -128, 127).astype(np.int8).tobytes()
    coded = encode(data)
    assert decode(coded) == data
    counts = np.bincount(np.frombuffer(data, np.uint8), minlength=256)
    p = counts[counts > 0] / counts.sum()
    entropy = float(-(p * np.log2(p)).sum())
    avg = coded.n_bits / len(data)
    assert entropy <= avg < entropy + 1  # Huffman's bound
    assert sum(2.0 ** -int(n) for n in coded.lengths if n) == pytest.approx(1.0)  # complete
    assert coded.size_bytes == -(-coded.n_bits // 8) + 256


def test_a_single_symbol_costs_one_bit_each() -> None:
    coded = encode(bytes(1000))
    assert coded.n_bits == 1000 and decode(coded) == bytes(1000)


@pytest.mark.parametrize("name", ["fashion-nano33ble", "digits-l010"])
def test_shipped_model_weights(name: str) -> None:
    tflite = (SHIPPED / name / "model.tflite").read_bytes()
    raw = b"".join(int8_weights(tflite))
    sizes = weight_sizes(tflite)
    assert sizes.int8_bytes == len(raw) > 1000
    assert decode(encode(raw)) == raw
    assert sizes.huffman_bytes == encode(raw).size_bytes


def test_the_card_says_when_coding_does_not_pay() -> None:
    from nas.card import _huffman_note

    pays = _huffman_note({"weights_int8_bytes": 20_000, "weights_huffman_bytes": 19_000})
    loses = _huffman_note({"weights_int8_bytes": 2_096, "weights_huffman_bytes": 2_270})
    assert "TFLM runs the raw .tflite" in pays and "TFLM runs the raw .tflite" in loses
    assert "would take" in pays and "does not pay" not in pays
    assert "coding does not pay here" in loses and "would keep them raw" in loses
    assert _huffman_note({}) == ""
