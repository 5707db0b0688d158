"""Distillation: the student really learns from the teacher's soft targets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nas.distill import check_params, pack_targets
from nas.errors import TinyzooError
from searchspaces import ArchSpec, get_space


@pytest.mark.parametrize(
    ("temperature", "alpha", "fragment"),
    [(0.0, 0.5, "--temperature must be a number above 0"), (-1.0, 0.5, "--temperature"),
     (float("inf"), 0.5, "finite"), (float("nan"), 0.5, "--temperature"),
     (4.0, -0.1, "--alpha must be in [0, 1]"), (4.0, 1.5, "--alpha"),
     (4.0, float("nan"), "--alpha")],
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
    assert space.teacher(g) == teacher  # square images: the widest member teaches


def test_the_speech_teacher_is_the_ds_cnn_shape_at_twice_the_width() -> None:
    """On 49x10 MFCC maps the widest member (three stride-2 blocks) tests below the DS-CNN it
    should teach; the teacher keeps the DS-CNN's resolution and doubles its channels."""
    from bench.compress import DS_CNN_3X3
    from nas.profile import profile_spec
    from searchspaces._registry import Geometry

    space = get_space("dscnn")
    g = Geometry(resolutions=(49,), channels=1, num_classes=12, width=10)
    teacher, ref = space.teacher(g), ArchSpec.parse(DS_CNN_3X3)
    assert str(teacher) == "r49x10x1_c3s2c128_" + "ds3s1c128_" * 4 + "gap_fc12"
    assert str(teacher).replace("128", "64") == str(ref)
    assert profile_spec(teacher).macs > 3 * profile_spec(ref).macs
    assert teacher != space.widest(g)


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


# --- teachers -------------------------------------------------------------------------------


def _run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    from zoo.cli import main

    try:
        code = main(list(argv))
    except SystemExit as e:
        code = int(e.code or 0)
    return code, capsys.readouterr().err


@pytest.mark.parametrize(("flag", "value"), [("--temperature", "0"), ("--alpha", "1.5")])
def test_bad_distillation_flags_exit_2_before_any_work(
    capsys: pytest.CaptureFixture[str], flag: str, value: str
) -> None:
    code, err = _run_cli(capsys, "search", "--board", "l010", "--task", "digits", flag, value)
    assert code == 2 and len(err.strip().splitlines()) == 1 and flag in err


def test_teacher_of_another_task_is_refused(
    capsys: pytest.CaptureFixture[str], tracking_uri: str, tmp_path
) -> None:
    from test_zoo import make_bundle

    import zoo

    zoo.register(make_bundle(tmp_path / "f", name="fashion-15k", task="fashion", board=None))
    code, err = _run_cli(
        capsys, "search", "--board", "l010", "--task", "digits", "--teacher", "fashion-15k"
    )
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "trained for task 'fashion'" in err and "same task and labels" in err


def test_a_model_without_float_weights_cannot_teach(
    capsys: pytest.CaptureFixture[str], tracking_uri: str, tmp_path
) -> None:
    from test_zoo import make_bundle

    import zoo

    zoo.register(make_bundle(tmp_path / "d"))  # digits-l010: an int8 student, no teacher.weights.h5
    code, err = _run_cli(
        capsys, "search", "--board", "l010", "--task", "digits", "--teacher", "digits-l010"
    )
    assert code == 2 and "has no teacher.weights.h5" in err


@pytest.mark.slow
def test_teacher_is_trained_once_registered_and_reused(tracking_uri: str, tmp_path: Path) -> None:
    from rich.console import Console

    import zoo
    from nas.data import load_task
    from nas.teacher import KERAS_FILE, resolve_teacher

    data, space = load_task("digits"), get_space("dscnn")
    kwargs = dict(data=data, space=space, seed=0, tracking_uri=None, console=Console(quiet=True))
    first = resolve_teacher("auto", **kwargs)
    assert first is not None and first.entry.name == "teacher-digits"
    assert first.entry.arch == str(space.teacher(data.geometry()))
    assert KERAS_FILE in first.entry.sha256 and first.entry.float_accuracy > 0.95
    again = resolve_teacher("auto", **kwargs)  # found in the zoo: no second training
    assert again is not None and again.entry.ref == first.entry.ref == "teacher-digits/1"
    np.testing.assert_allclose(again.logits(data), first.logits(data), rtol=1e-5, atol=1e-5)
    assert [e.name for e in zoo.list_models()] == ["teacher-digits"]
    assert resolve_teacher("none", **kwargs) is None
    card = (zoo.pull(first.entry.ref, tmp_path / "t") / "README.md").read_text()
    assert "distillation teacher" in card and "found by tinyzoo's" not in card


def test_the_shipped_teacher_is_found_without_training(
    tracking_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rich.console import Console

    from nas.data import load_task
    from nas.teacher import resolve_teacher

    shipped = Path(__file__).resolve().parents[1] / "zoo" / "pretrained"
    monkeypatch.setenv("TINYZOO_PRETRAINED_DIR", str(shipped))
    data = load_task("digits")
    teacher = resolve_teacher(
        "auto", data=data, space=get_space("dscnn"), seed=0, tracking_uri=None,
        console=Console(quiet=True),
    )  # fmt: skip
    assert teacher is not None and teacher.entry.source == "pretrained"
    logits = teacher.logits(data)
    assert logits.shape == (len(data.x_train), 10)
    assert np.mean(np.argmax(logits, axis=1) == data.y_train) > 0.95  # its weights, loaded
