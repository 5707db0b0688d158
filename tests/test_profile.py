"""The analytic profile against the real converter and TFLM's allocation record."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest

from nas.errors import TinyzooError
from nas.profile import ESTIMATE_SLACK, Profile, profile_spec, profile_tflite
from searchspaces import ArchSpec

# Stride-2 and stride-1 stems, odd spatial sizes, non-square inputs, 1 and 3 channels,
# kernels 3/5/7, channel counts that are not multiples of 16, down to a 1x1 feature map.
HANDPICKED = [
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
    # the planner's scratch binds the smallest arena, not the final layout
    "r8x8x1_c3s1c4_ds3s1c8_ds3s1c8_ds3s1c8_ds3s1c8_ds3s1c8_ds3s1c8_gap_fc10",
    # wide per-channel layers on a tiny map: Prepare's temporaries bind
    "r4x4x1_c3s2c256_ds3s1c512_gap_fc2",
    # inverted residuals (mbv2): expansion or none, linear projections, residual adds
    "r28x28x1_c3s2c16_mb3s1c8_mb5s2h48c16_mb5s1h48c16r_gap_fc10",
    "r16x16x1_c3s1c8_mb3s1c8r_mb7s2h40c12_mb3s1h24c12r_mb3s1h72c12r_gap_fc10",
    "r49x10x1_c3s2c16_mb3s1h32c16r_mb5s2h64c24_mb5s1h96c24r_mb3s1h24c24r_gap_fc12",
    "r8x8x1_c3s1c8_mb3s2h24c16_mb3s2h96c24_gap_fc10",
    # non-square stems: MLPerf Tiny's 10x4 DS-CNN stem, a stride along time only, a 1x3 kernel
    "r49x10x1_c10x4s2c64_ds3s1c64_ds3s1c64_gap_fc12",
    "r49x10x1_c3s2x1c24_ds3s2c16_mb3s1c16r_gap_fc12",
    "r15x12x1_c1x3s1x2c8_ds5s2c16_gap_fc4",
]
# Drawn from the dscnn space by bench/profile.py's sampler (seed 7), pinned here.
SAMPLED = [
    "r8x8x1_c5s2c4_ds3s2c32_ds3s2c24_ds3s1c8_ds5s2c24_gap_fc10",
    "r16x16x1_c5s2c16_ds5s1c16_ds5s2c48_ds3s1c24_gap_fc10",
    "r32x32x3_c3s2c32_ds5s2c64_ds5s2c64_ds5s2c8_ds5s2c16_ds3s2c64_gap_fc4",
    "r8x8x1_c5s1c32_ds5s1c8_ds5s1c64_ds5s1c64_ds5s2c8_gap_fc10",
    "r12x12x1_c3s2c16_ds3s2c64_ds5s1c48_ds5s2c24_ds5s1c64_gap_fc10",
    "r32x32x3_c5s2c8_ds5s1c32_ds3s1c48_ds3s1c24_ds3s2c32_gap_fc4",
    "r8x8x1_c3s2c4_ds5s1c16_ds5s2c16_ds5s2c24_gap_fc10",
    "r12x12x1_c5s1c16_ds3s2c8_ds5s2c8_ds3s1c8_ds5s2c64_gap_fc10",
    "r32x32x3_c5s2c32_ds3s2c24_ds3s1c48_ds3s2c16_gap_fc4",
    "r8x8x1_c5s1c32_ds5s2c8_ds5s2c48_ds3s2c48_gap_fc10",
    "r12x12x1_c3s2c16_ds5s1c64_ds3s1c32_gap_fc10",
    "r32x32x3_c5s2c8_ds3s2c16_ds3s1c32_ds5s1c16_ds5s2c48_gap_fc4",
    "r8x8x1_c5s1c4_ds5s2c48_ds5s1c16_gap_fc10",
    "r16x16x1_c5s1c8_ds3s1c24_ds3s1c8_gap_fc10",
    "r32x32x3_c3s2c8_ds5s2c32_ds3s1c64_ds5s2c16_ds3s1c8_gap_fc4",
    "r8x8x1_c3s2c32_ds3s2c48_ds5s1c24_ds5s1c8_gap_fc10",
    "r24x24x1_c3s2c8_ds3s2c8_ds3s2c16_ds5s2c8_ds5s1c16_gap_fc10",
    "r32x32x3_c3s1c24_ds5s2c32_ds5s1c64_ds3s2c48_ds5s2c24_ds3s2c8_gap_fc4",
    "r8x8x1_c5s1c4_ds5s1c24_ds3s1c8_ds3s2c32_ds5s2c24_ds3s1c24_gap_fc10",
    "r24x24x1_c5s2c8_ds5s1c8_ds3s1c64_gap_fc10",
    "r15x15x3_c5s2c32_ds5s1c24_ds3s1c8_ds5s2c8_gap_fc4",
    # Drawn from the mbv2 space (RandomSampler seed 7; fashion, kws and 3-channel geometries).
    "r20x20x1_c3s2c8_mb3s1c8r_mb3s2h32c8_mb3s2h40c8_mb5s1h32c16_mb5s1h64c16r_mb3s1h64c24"
    "_mb3s1h96c24r_mb3s1h96c24r_gap_fc10",
    "r49x10x1_c3s2c16_mb3s1c8_mb3s2c8_mb3s1h16c16_mb5s1h96c24_mb5s1h144c24r_mb5s1h144c24r"
    "_mb5s1h144c24r_mb3s1h96c32_mb3s1h128c32r_gap_fc12",
    "r32x32x3_c3s2c16_mb3s1c8_mb3s2c8_mb3s2h16c16_mb5s2h96c24_mb5s1h144c24r_mb5s1h144c24r"
    "_mb5s1h144c24r_mb3s1h96c32_mb3s1h128c32r_gap_fc4",
]
ARCHS = HANDPICKED + SAMPLED


@dataclass(frozen=True)
class Measured:
    """TFLM's own figures for one converted model."""

    tflite: bytes
    head: int  # print_allocations(): head
    tail: int  # ... tail
    total: int  # ... total
    min_arena: int  # smallest arena_size that allocates, probed on the runtime


def measure(tflite: bytes) -> Measured:
    from nas.quantize import measure_arena

    # The guess only saves probes: a wrong one falls back to bisecting the real runtime.
    min_arena, total, head, tail = measure_arena(
        tflite, guess=profile_tflite(tflite).min_arena_bytes
    )
    return Measured(tflite, head, tail, total, min_arena)


@pytest.fixture(scope="module")
def converted() -> dict[str, Measured]:
    from nas.quantize import convert_int8
    from searchspaces._build import build, randomize

    out = {}
    rng = np.random.default_rng(0)
    for i, text in enumerate(ARCHS):
        spec = ArchSpec.parse(text)
        model = randomize(build(spec), seed=i)  # trained-like constants (see randomize)
        out[text] = measure(convert_int8(model, rng.random((16, *spec.input_shape), "float32")))
    return out


def assert_tflm_figures(p: Profile, m: Measured) -> None:
    assert p.activation_bytes == m.head  # the greedy plan, to the byte
    assert p.persistent_bytes == m.tail
    assert p.recorded_total_bytes == m.total
    assert p.min_arena_bytes == m.min_arena
    # What the product promises: the arena it names always allocates, within 1 %.
    assert max(m.min_arena, m.total) <= p.arena_bytes <= 1.01 * max(m.min_arena, m.total)


@pytest.mark.slow
@pytest.mark.parametrize("arch", ARCHS)
def test_profile_predicts_tflm_arena_to_the_byte(arch: str, converted: dict) -> None:
    measured = converted[arch]
    before_training = profile_spec(ArchSpec.parse(arch))
    from_file = profile_tflite(measured.tflite)
    assert_tflm_figures(before_training, measured)
    assert_tflm_figures(from_file, measured)
    assert before_training.macs == from_file.macs
    assert before_training.params == from_file.params
    # The .tflite size before conversion is an upper bound, not too loose to be useful.
    ratio, slack = ESTIMATE_SLACK
    assert (
        len(measured.tflite) <= before_training.tflite_bytes <= ratio * len(measured.tflite) + slack
    )


@pytest.mark.slow
def test_residual_add_pools_and_softmax_are_exact() -> None:
    """Ops outside today's spaces (residual ADD, pools, SOFTMAX) against the real runtime."""
    from nas.quantize import convert_int8, quiet_tensorflow
    from searchspaces._build import randomize

    quiet_tensorflow()
    import keras
    from keras import layers

    x = inp = keras.Input((15, 15, 3))
    x = layers.Conv2D(16, 3, padding="same", activation="relu")(x)
    for _ in range(2):
        y = layers.DepthwiseConv2D(3, padding="same", activation="relu")(x)
        y = layers.Conv2D(16, 1)(y)
        x = layers.Add()([x, y])
    x = layers.MaxPooling2D(2)(x)
    x = layers.AveragePooling2D(2, padding="same")(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Softmax()(layers.Dense(5)(x))
    model = randomize(keras.Model(inp, x), seed=1)
    tflite = convert_int8(model, np.random.default_rng(0).random((16, 15, 15, 3), "float32"))
    p = profile_tflite(tflite)
    assert {"ADD", "MAX_POOL_2D", "AVERAGE_POOL_2D", "SOFTMAX"} <= {r.op for r in p.layers}
    assert_tflm_figures(p, measure(tflite))


@pytest.mark.slow
def test_compact_file_runs_the_same_in_the_same_arena() -> None:
    """convert_int8 leaves out what TFLM never reads (strings) or reads once (the zero points of
    weights and biases): the converter's file and the compact one give TFLM's same outputs,
    arena and profile, in fewer bytes; TensorFlow Lite's desktop interpreter refuses the compact
    file and runs it once expand_zero_points has restored one zero point per scale."""
    import tensorflow as tf
    from tflite_micro import runtime

    from nas._tflite import read_tflite
    from nas.quantize import compact, expand_zero_points, measure_arena

    named = (Path(__file__).parent / "data" / "tiny_int8.tflite").read_bytes()
    small = compact(named)
    before, after = read_tflite(named).tensors, read_tflite(small).tensors
    assert any(t.name for t in before) and not any(t.name for t in after)
    per_channel = [i for i, t in enumerate(before) if t.n_zero_points > 1]
    assert per_channel and all(before[i].is_constant for i in per_channel)
    assert all(after[i].n_zero_points == 1 < after[i].n_scales for i in per_channel)
    assert len(named) - len(small) > 8 * sum(before[i].n_zero_points - 1 for i in per_channel)
    assert measure_arena(small) == measure_arena(named)
    a, b = profile_tflite(named), profile_tflite(small)
    assert replace(a, tflite_bytes=0) == replace(b, tflite_bytes=0)
    rng = np.random.default_rng(0)
    shape = tuple(before[read_tflite(named).inputs[0]].shape)
    inputs = [rng.integers(-128, 128, shape, dtype=np.int8) for _ in range(8)]
    outputs = []
    for tflite in (named, small):
        ip = runtime.Interpreter.from_bytes(tflite, arena_size=a.arena_bytes)
        out = []
        for x in inputs:
            ip.set_input(x, 0)
            ip.invoke()
            out.append(ip.get_output(0).copy())
        outputs.append(np.array(out))
    assert np.array_equal(*outputs) and len(np.unique(outputs[0])) > 1

    def desktop(tflite: bytes) -> np.ndarray:
        ip = tf.lite.Interpreter(model_content=tflite)
        ip.allocate_tensors()
        i, o = ip.get_input_details()[0]["index"], ip.get_output_details()[0]["index"]
        out = []
        for x in inputs:
            ip.set_tensor(i, x)
            ip.invoke()
            out.append(ip.get_tensor(o).copy())
        return np.array(out)

    with pytest.raises(ValueError, match="zero_point"):
        desktop(small)
    restored = expand_zero_points(small)
    assert [t.n_zero_points for t in read_tflite(restored).tensors] == [
        t.n_zero_points for t in before
    ]
    assert np.array_equal(desktop(restored), desktop(named))


def test_block_string_round_trip() -> None:
    for text in ARCHS:
        assert str(ArchSpec.parse(text)) == text
    # a square size written h x w is the same stem as its one number
    spec = ArchSpec.parse("r49x10x1_c3x3s2x2c8_gap_fc12")
    assert spec == ArchSpec.parse("r49x10x1_c3s2c8_gap_fc12") and str(spec).endswith(
        "_c3s2c8_gap_fc12"
    )
    assert ArchSpec.parse(HANDPICKED[-2]).stem.stride == (2, 1)


@pytest.mark.parametrize(
    "bad",
    [
        "", "r20x20_c3s2c16_gap_fc10", "r20x20x1_c3s2c16_ds3c8_gap_fc10", "hello",
        "r8x8x1_c3s1c16_mb3s1h0c16r_gap_fc10",  # an expansion to 0 channels
        "r8x8x1_c3s1c16_mb3s1h32c16x_gap_fc10",
        "r49x10x1_c3s1c16_ds3x1s1c16_gap_fc12",  # only the stem may be non-square
        "r49x10x1_c3s2x1xc16_gap_fc12",
        "r49x10x1_c3x0s1c16_gap_fc12",  # a size of 0
        "r49x10x1_c3s0c16_gap_fc12",
    ],
)  # fmt: skip
def test_bad_block_string(bad: str) -> None:
    with pytest.raises(TinyzooError, match="expected r"):
        ArchSpec.parse(bad)


def test_profile_rejects_non_tflite(tmp_path) -> None:
    with pytest.raises(TinyzooError, match="not a .tflite"):
        profile_tflite(b"not a model at all")


@pytest.mark.slow
def test_profile_rejects_truncated(converted: dict) -> None:
    tflite = converted[ARCHS[0]].tflite
    with pytest.raises(TinyzooError):
        profile_tflite(tflite[: len(tflite) // 3])


def test_peak_row_is_the_largest_live_set() -> None:
    p = profile_spec(ArchSpec.parse(ARCHS[1]))
    assert p.layers[p.peak_index].live_bytes == max(r.live_bytes for r in p.layers)
    assert p.activation_bytes >= p.layers[p.peak_index].live_bytes


def _graph(tensors: list[tuple[tuple[int, ...], bool]], ops: list[tuple[str, tuple, tuple]]):
    """A TfliteModel by hand: tensors as (shape, constant), ops as (op, inputs, outputs)."""
    from nas._tflite import TfliteModel, TfliteOp, TfliteTensor

    ts = tuple(
        TfliteTensor(i, f"t{i}", shape, "int8", 1, const, False, 1, 1)
        for i, (shape, const) in enumerate(tensors)
    )
    os_ = tuple(TfliteOp(i, op, ins, outs, {}) for i, (op, ins, outs) in enumerate(ops))
    return TfliteModel(0, ts, os_, (0,), (ops[-1][2][0],), 1)


def test_ideal_peak_takes_the_best_order_of_a_branching_graph() -> None:
    from nas._ideal import ideal_peak

    # x (100 B) feeds two branches, each a 1000-byte tensor squeezed to 10 bytes, then ADD.
    # The file interleaves the branches (both 1000-byte tensors live at once); running one
    # branch to its end first never holds both.
    w = ((1, 1, 1, 1), True)
    model = _graph(
        [((1, 10, 10, 1), False), ((1, 10, 10, 10), False), ((1, 10, 10, 10), False),
         ((1, 1, 1, 10), False), ((1, 1, 1, 10), False), ((1, 1, 1, 10), False), w],
        [("CONV_2D", (0, 6), (1,)), ("CONV_2D", (0, 6), (2,)), ("CONV_2D", (1, 6), (3,)),
         ("CONV_2D", (2, 6), (4,)), ("ADD", (3, 4), (5,))],
    )  # fmt: skip
    file_order_peak = 100 + 1000 + 1000
    assert ideal_peak(model) == 100 + 1000 + 10  # x, one branch's tensor and its output
    assert ideal_peak(model) < file_order_peak


def test_ideal_peak_runs_depthwise_in_place() -> None:
    from nas._ideal import ideal_peak

    # 8x8x4 -> depthwise (same shape) -> 1x1 conv to 8x8x2: the depthwise output overwrites
    # its input through one 8x8 channel buffer; the conv needs input and output side by side.
    model = _graph(
        [((1, 8, 8, 4), False), ((1, 8, 8, 4), False), ((1, 8, 8, 2), False),
         ((1, 3, 3, 4), True), ((2, 1, 1, 4), True)],
        [("DEPTHWISE_CONV_2D", (0, 3), (1,)), ("CONV_2D", (1, 4), (2,))],
    )  # fmt: skip
    assert ideal_peak(model) == max(256 + 64, 256 + 128)


def test_paper_peak_counts_whole_tensors_with_nothing_in_place() -> None:
    """muNAS's peak: an op holds its inputs and outputs at once, depthwise included; the ideal
    peak lets the depthwise overwrite its input."""
    p = profile_spec(ArchSpec.parse("r8x8x1_c3s1c16_ds3s1c8_gap_fc10"))
    stem, dw, pw = 8 * 8 * 1 + 8 * 8 * 16, 2 * 8 * 8 * 16, 8 * 8 * 16 + 8 * 8 * 8
    assert p.paper_peak_bytes == max(stem, dw, pw) == dw
    assert p.ideal_peak_bytes == pw  # the depthwise in place needs 8 * 8 * 16 + 8 * 8
