"""Distillation: the student really learns from the teacher's soft targets."""

from __future__ import annotations

import numpy as np
import pytest

from nas.distill import check_params, pack_targets
from nas.errors import TinyzooError
from searchspaces import ArchSpec, get_space


@pytest.mark.parametrize(
    ("temperature", "alpha", "fragment"),
    [(0.0, 0.5, "--temperature must be above 0"), (-1.0, 0.5, "--temperature"),
     (4.0, -0.1, "--alpha must be in [0, 1]"), (4.0, 1.5, "--alpha")],
)  # fmt: skip
def test_bad_parameters_are_one_clear_error(
    temperature: float, alpha: float, fragment: str
) -> None:
    with pytest.raises(TinyzooError) as err:
        check_params(temperature, alpha)
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_pack_targets_rows() -> None:
    packed = pack_targets(np.array([3, 1]), np.array([[0.5, -1.0], [2.0, 0.0]], np.float32))
    assert packed.tolist() == [[3.0, 0.5, -1.0], [1.0, 2.0, 0.0]]


def test_widest_member_is_a_valid_large_member() -> None:
    from nas.data import load_task

    space = get_space("dscnn")
    g = load_task("digits").geometry()
    teacher, smallest = space.widest(g), space.smallest(g)
    assert ArchSpec.parse(str(teacher)) == teacher
    from nas.profile import profile_spec

    assert profile_spec(teacher).params > 20 * profile_spec(smallest).params


@pytest.mark.slow
def test_with_alpha_0_the_student_follows_the_teacher_not_the_labels() -> None:
    """A 'teacher' that names the next class: a student trained only on its soft targets
    learns that mapping, which the labels alone could never teach."""
    from nas.data import load_task
    from nas.train import train

    d = load_task("digits")
    shifted = (d.y_train + 1) % 10
    teacher_logits = np.eye(10, dtype=np.float32)[shifted] * 8.0
    spec = ArchSpec.parse("r8x8x1_c3s1c16_ds3s1c32_gap_fc10")
    res = train(
        spec, d.x_train, d.y_train, d.x_val, (d.y_val + 1) % 10, epochs=15, seed=0,
        batch_size=32, teacher_logits=teacher_logits, temperature=2.0, alpha=0.0,
    )  # fmt: skip
    assert res.val_accuracy > 0.8  # measured against the shifted validation labels
