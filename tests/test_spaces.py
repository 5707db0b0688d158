"""Search spaces: each as its paper defines it, and the contract the search relies on."""

from __future__ import annotations

from dataclasses import replace

import pytest

from nas.profile import profile_spec
from searchspaces import ArchSpec, get_space, list_spaces
from searchspaces._registry import Geometry
from searchspaces.mbv1 import scaled

IMAGES = Geometry(resolutions=(16, 20, 24, 28), channels=1, num_classes=10)


@pytest.mark.parametrize(
    ("alpha", "macs_m", "params_m"),
    [(0.25, 41, 0.5), (0.5, 149, 1.3)],  # MobileNetV1 paper, Table 6 (224 px, ImageNet)
)
def test_mbv1_at_full_depth_is_the_papers_mobilenet(
    alpha: float, macs_m: float, params_m: float
) -> None:
    g = Geometry(resolutions=(224,), channels=3, num_classes=1000)
    spec = get_space("mbv1").decode(
        {"resolution": 224, "alpha": alpha, "depth": 13, "stem_stride": 2}, g
    )
    p = profile_spec(spec)
    assert p.macs / 1e6 == pytest.approx(macs_m, abs=1)  # the paper rounds to millions
    assert p.params / 1e6 == pytest.approx(params_m, abs=0.05)
    # 224 -> 7: five stride-2 steps, the stem's and four of the body's.
    assert [b.stride for b in spec.blocks].count(2) == 4 and spec.stem.stride == 2


def test_mbv1_width_rounding_and_small_inputs() -> None:
    assert [scaled(c, 0.25) for c in (32, 64, 128, 256, 512, 1024)] == [8, 16, 32, 64, 128, 256]
    assert scaled(64, 0.1) == 8 and scaled(1024, 0.1) == 104  # never below 8, multiples of 8
    g = Geometry(resolutions=(8,), channels=1, num_classes=10)
    spec = get_space("mbv1").decode(
        {"resolution": 8, "alpha": 0.25, "depth": 13, "stem_stride": 2}, g
    )
    size = 8
    for s in (spec.stem.stride, *(b.stride for b in spec.blocks)):
        size = -(-size // s)
    assert size == 2  # strides stop once the map is under 4 pixels across


@pytest.mark.parametrize("space", [s.name for s in list_spaces()])
def test_smallest_member_needs_the_least_memory_and_flash(space: str) -> None:
    """check_feasible trusts `smallest`: no sampled member may need less arena or flash."""
    import optuna

    sp = get_space(space)
    floor = profile_spec(sp.smallest(IMAGES))
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(60):
        trial = study.ask()
        p = profile_spec(sp.decode(sp.sample(trial, IMAGES), IMAGES))
        assert p.arena_bytes >= floor.arena_bytes and p.tflite_bytes >= floor.tflite_bytes
        assert p.paper_peak_bytes >= floor.paper_peak_bytes and p.params >= floor.params
        study.tell(trial, 0.0)


@pytest.mark.parametrize("space", [s.name for s in list_spaces()])
def test_widest_and_narrowest_are_members_of_the_grammar(space: str) -> None:
    sp = get_space(space)
    wide = sp.widest(IMAGES)
    assert ArchSpec.parse(str(wide)) == wide
    narrow = sp.narrowest(wide)
    assert len(narrow.blocks) == len(wide.blocks)
    assert all(n.channels <= w.channels for n, w in zip(narrow.blocks, wide.blocks, strict=True))
    assert profile_spec(narrow).macs < profile_spec(wide).macs


def test_mbv2_follows_mobilenetv2s_block_rules() -> None:
    """Expansion ratio t multiplies the block's input channels (t = 1: no expansion layer); the
    first block of a stage strides and changes channels, the rest add their input; the stage's
    depth, kernel and expansion apply to each of its blocks."""
    from searchspaces import MBBlock

    g = Geometry(resolutions=(32,), channels=3, num_classes=10)
    params = {"resolution": 32, "width": 1.0, "stem_stride": 2, "stages": 3}
    params |= {"s0_depth": 2, "s0_kernel": 3, "s0_expand": 6}
    params |= {"s1_depth": 3, "s1_kernel": 5, "s1_expand": 4}
    params |= {"s2_depth": 1, "s2_kernel": 7, "s2_expand": 1}
    spec = get_space("mbv2").decode(params, g)
    assert str(spec) == (
        "r32x32x3_c3s2c32_mb3s1c16"  # MobileNetV2's first block: t = 1, 16 channels, no add
        "_mb3s2h96c24_mb3s1h144c24r"  # stage 24: 16 x 6 = 96 hidden, then 24 x 6 = 144
        "_mb5s2h96c32_mb5s1h128c32r_mb5s1h128c32r"  # stage 32: t = 4
        "_mb7s2c64"  # stage 64 at t = 1: depthwise on the input, linear projection
        "_gap_fc10"
    )
    assert ArchSpec.parse(str(spec)) == spec
    blocks = [b for b in spec.blocks if isinstance(b, MBBlock)]
    assert len(blocks) == len(spec.blocks)
    # 32 -> 16 (stem) -> 8 -> 4 -> 2, then the 96-channel stage keeps stride 1 (as in the
    # paper) and the 160-channel stage's stride 2 is dropped: the map is under 4 pixels.
    deeper = params | {"stages": 5}
    for i in (3, 4):
        deeper |= {f"s{i}_depth": 1, f"s{i}_kernel": 3, f"s{i}_expand": 2}
    small = get_space("mbv2").decode(deeper, g)
    assert [b.stride for b in small.blocks] == [1, 2, 1, 2, 1, 1, 2, 1, 1]


def test_mbv2_residual_blocks_profile_with_an_add_per_residual() -> None:
    spec = ArchSpec.parse("r16x16x1_c3s1c8_mb3s1c8r_mb7s2h40c12_mb3s1h24c12r_gap_fc10")
    ops = [r.op for r in profile_spec(spec).layers]
    assert ops.count("ADD") == 2 and ops[-2:] == ["MEAN", "FULLY_CONNECTED"]
    # 16x16x8 summed per element for block 1; 8x8x12 for block 3
    adds = [r.macs for r in profile_spec(spec).layers if r.op == "ADD"]
    assert adds == [16 * 16 * 8, 8 * 8 * 12]


def test_prune_reach_is_measured_on_the_largest_member_not_the_teacher() -> None:
    """mbv2's teacher (`widest`) is three stages; `largest` has every stage at its deepest,
    so pruning can reach further there and --prune is judged against it."""
    from nas.prune import max_fraction

    sp = get_space("mbv2")
    teacher, largest = sp.widest(IMAGES), sp.largest(IMAGES)
    assert profile_spec(largest).macs > profile_spec(teacher).macs
    assert max_fraction(largest, sp) > max_fraction(teacher, sp)
    assert get_space("dscnn").largest(IMAGES) == get_space("dscnn").widest(IMAGES)


def test_the_speech_seeds_widen_the_stride_1_stem_first_and_the_teacher_keeps_its_stem() -> None:
    sp = get_space("dscnn")
    g = Geometry(resolutions=(49,), channels=1, num_classes=12, width=10)
    at32 = [
        str(sp.decode(p, g)) for p in sp.seeds(g) if p["blocks"] == 4 and p["b0_channels"] == 32
    ]
    blocks, added = "ds3s2c32_" + "ds3s1c32_" * 3, "ds3s2c32_" + "mb3s1c32r_" * 3
    assert at32 == [
        f"r49x10x1_c3s1c48_{added}gap_fc12",  # each design first with residual blocks
        f"r49x10x1_c3s1c48_{blocks}gap_fc12",  # up to 1.5x the blocks, widest first
        f"r49x10x1_c3s1c40_{added}gap_fc12",
        f"r49x10x1_c3s1c40_{blocks}gap_fc12",
        f"r49x10x1_c3s1c32_{added}gap_fc12",
        f"r49x10x1_c3s1c32_{blocks}gap_fc12",
        "r49x10x1_c3s2c32_ds3s1c32_" + "mb3s1c32r_" * 3 + "gap_fc12",
        "r49x10x1_c3s2c32_" + "ds3s1c32_" * 4 + "gap_fc12",  # MLPerf Tiny's stride-2 stem
    ]
    assert all(p["stem_channels"] in sp.stem_channels for p in sp.seeds(g))
    # Without the widened stems and residual blocks, the list is what it was before 40 and
    # 48 were added: the DS-CNN's stem capped at 32, stride 1 then 2, by width, then depth.
    from searchspaces.dscnn import _ds_cnn

    before = [
        _ds_cnn(g, c, n, min(c, 32), stride)
        for n in (4, 3, 2, 1)
        for c in (64, 48, 32, 24, 16, 8)
        for stride in (1, 2)
    ]
    plain = [p for p in sp.seeds(g) if not any(v is True for v in p.values())]
    assert [p for p in plain if p["stem_channels"] <= p["b0_channels"]] == before
    # The image teachers (`widest`) were trained with a 32-channel stem and stay what they were.
    assert str(sp.widest(IMAGES)) == "r28x28x1_c3s1c32_" + "ds3s2c64_ds3s1c64_" * 2 + (
        "ds3s2c64_gap_fc10"
    )


def test_the_image_seeds_are_the_widest_member_then_the_same_layers_narrower() -> None:
    sp = get_space("dscnn")
    seeds = [sp.decode(p, IMAGES) for p in sp.seeds(IMAGES)]
    assert seeds[0] == sp.widest(IMAGES)  # every shipped image teacher's shape
    assert [s.blocks[0].channels for s in seeds] == sorted(sp.channels, reverse=True)
    for s in seeds:  # full resolution, the widest's layers; the stem at most 32 channels
        assert s.input_shape == seeds[0].input_shape
        assert [(b.kernel, b.stride) for b in s.blocks] == [
            (b.kernel, b.stride) for b in seeds[0].blocks
        ]
        assert len({b.channels for b in s.blocks}) == 1
        assert s.stem == replace(seeds[0].stem, channels=min(s.blocks[0].channels, 32))
    # Inputs under 16 pixels are down-sampled once: 8x8 digits keep 4x4 maps.
    small = Geometry(resolutions=(8,), channels=1, num_classes=10)
    assert str(sp.widest(small)) == "r8x8x1_c3s1c32_" + "ds3s1c64_" * 2 + "ds3s2c64_" + (
        "ds3s1c64_" * 2 + "gap_fc10"
    )
    assert sp.decode(sp.seeds(small)[0], small) == sp.widest(small)


@pytest.mark.parametrize(
    "geometry",
    [
        IMAGES,
        Geometry(resolutions=(8,), channels=1, num_classes=10),
        Geometry(resolutions=(49,), channels=1, num_classes=12, width=10),
    ],
    ids=["images", "digits", "kws"],
)
def test_every_seed_is_what_sample_draws_for_those_params(geometry: Geometry) -> None:
    """A seed is enqueued as a trial's params: each must be a member `sample` can draw."""
    from optuna.trial import FixedTrial

    sp = get_space("dscnn")
    assert sp.seeds(geometry)
    for p in sp.seeds(geometry):
        assert sp.sample(FixedTrial(p), geometry) == p
