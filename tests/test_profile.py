"""The analytic profile against the real converter and TFLM's allocation record."""

from __future__ import annotations

import numpy as np
import pytest

from nas.errors import TinyzooError
from nas.profile import profile_spec, profile_tflite
from searchspaces import ArchSpec

# Stride-2 and stride-1 stems, odd spatial sizes, non-square inputs, 1 and 3 channels,
# kernels 3/5/7, channel counts that are not multiples of 16, down to a 1x1 feature map.
ARCHS = [
    "r20x20x1_c3s2c16_ds3s1c32_ds3s2c64_gap_fc10",
    "r28x28x1_c3s1c8_ds3s2c16_ds5s1c16_ds3s2c32_gap_fc10",
    "r9x9x3_c5s2c12_ds7s1c24_ds3s2c48_gap_fc4",
    "r8x8x1_c3s1c4_ds3s1c8_gap_fc10",
    "r17x13x1_c3s2c16_ds3s2c32_ds3s2c64_ds3s2c64_gap_fc12",
    "r15x15x3_c3s1c6_ds5s2c10_ds3s1c10_ds3s1c20_gap_fc3",
    "r12x12x1_c3s2c4_ds3s2c8_gap_fc10",
    # once mispredicted: MEAN's three scratch buffers decide the layout at a 2x2 map
    "r8x8x1_c5s2c8_ds3s2c48_gap_fc10",
    "r8x8x1_c3s2c8_ds3s2c16_ds3s2c16_gap_fc10",  # 1x1 map before the pooling
]


@pytest.fixture(scope="module")
def converted() -> dict[str, tuple[bytes, object]]:
    from nas.quantize import convert_int8, verify
    from searchspaces._build import build

    out = {}
    rng = np.random.default_rng(0)
    for text in ARCHS:
        spec = ArchSpec.parse(text)
        tflite = convert_int8(build(spec), rng.random((16, *spec.input_shape), dtype=np.float32))
        out[text] = (tflite, verify(tflite))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("arch", ARCHS)
def test_activation_bytes_equal_tflm_head(arch: str, converted: dict) -> None:
    tflite, measured = converted[arch]
    predicted = profile_spec(ArchSpec.parse(arch))
    from_file = profile_tflite(tflite)
    assert predicted.activation_bytes == measured.head_bytes
    assert from_file.activation_bytes == measured.head_bytes
    assert predicted.macs == from_file.macs


@pytest.mark.slow
@pytest.mark.parametrize("arch", ARCHS)
def test_estimates_are_upper_bounds(arch: str, converted: dict) -> None:
    tflite, measured = converted[arch]
    predicted = profile_spec(ArchSpec.parse(arch))
    arena = max(measured.arena_bytes, measured.recorded_total)
    # The pre-training check must never accept what TFLM then rejects.
    assert predicted.arena_bytes >= arena
    assert predicted.tflite_bytes >= len(tflite)
    # ... without being so loose that the search throws good candidates away.
    assert predicted.arena_bytes <= arena * 1.25
    assert predicted.tflite_bytes <= len(tflite) * 1.25 + 2048


def test_block_string_round_trip() -> None:
    for text in ARCHS:
        assert str(ArchSpec.parse(text)) == text


@pytest.mark.parametrize(
    "bad", ["", "r20x20_c3s2c16_gap_fc10", "r20x20x1_c3s2c16_ds3c8_gap_fc10", "hello"]
)
def test_bad_block_string(bad: str) -> None:
    with pytest.raises(TinyzooError, match="expected r"):
        ArchSpec.parse(bad)


def test_profile_rejects_non_tflite(tmp_path) -> None:
    with pytest.raises(TinyzooError, match="not a .tflite"):
        profile_tflite(b"not a model at all")


@pytest.mark.slow
def test_profile_rejects_truncated(converted: dict) -> None:
    tflite, _ = converted[ARCHS[0]]
    with pytest.raises(TinyzooError):
        profile_tflite(tflite[: len(tflite) // 3])


def test_peak_row_is_the_largest_live_set() -> None:
    p = profile_spec(ArchSpec.parse(ARCHS[1]))
    assert p.layers[p.peak_index].live_bytes == max(r.live_bytes for r in p.layers)
    assert p.activation_bytes >= p.layers[p.peak_index].live_bytes
