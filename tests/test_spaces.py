"""Search spaces: each as its paper defines it, and the contract the search relies on."""

from __future__ import annotations

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
