"""Pruning, batch-norm folding and QAT against the real converter and TFLM runtime."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from nas.errors import TinyzooError
from searchspaces import ArchSpec, get_space
from searchspaces._registry import Geometry

SPEC = ArchSpec.parse("r8x8x1_c3s1c16_ds3s1c24_ds5s2c32_gap_fc10")
# Inverted residuals: the stem and block 1 share channels (a residual chain), as do blocks 2-3.
MB_SPEC = ArchSpec.parse("r8x8x1_c3s1c16_mb3s1h32c16r_mb5s2h48c24_mb3s1h48c24r_gap_fc10")


def _randomized(spec: ArchSpec) -> object:
    from searchspaces._build import build, randomize

    return randomize(build(spec), seed=1)


def _macs(spec: ArchSpec) -> int:
    from nas.profile import profile_spec

    return profile_spec(spec).macs


@pytest.mark.parametrize("fraction", [0.1, 0.3, 0.5, 0.7])
def test_plan_is_the_widest_uniform_narrowing_under_the_target(fraction: float) -> None:
    from nas.prune import plan

    space = get_space("dscnn")
    pruned = plan(SPEC, fraction, space)
    assert _macs(pruned) <= (1 - fraction) * _macs(SPEC)
    floor = space.narrowest(SPEC)
    widths = [pruned.stem.channels, *(b.channels for b in pruned.blocks)]
    assert all(
        lo <= w <= hi
        for w, lo, hi in zip(
            widths,
            [floor.stem.channels, *(b.channels for b in floor.blocks)],
            [SPEC.stem.channels, *(b.channels for b in SPEC.blocks)],
            strict=True,
        )
    )
    # Every layer but the kernels and strides is unchanged.
    assert [(b.kernel, b.stride) for b in pruned.blocks] == [
        (b.kernel, b.stride) for b in SPEC.blocks
    ]
    # No uniform keep ratio that meets the target keeps more MACs.
    from nas.prune import _narrow

    target = (1 - fraction) * _macs(SPEC)
    fits = [_macs(_narrow(SPEC, r, floor)) for r in np.linspace(0, 1, 401)]
    assert _macs(pruned) == max(m for m in fits if m <= target)


def test_a_target_below_the_spaces_narrowest_channels_is_refused_with_the_most_it_allows() -> None:
    from nas.prune import PruneUnreachable, max_fraction, plan

    space = get_space("dscnn")
    most = max_fraction(SPEC, space)
    assert 0 < most < 1
    with pytest.raises(PruneUnreachable, match=r"cannot be reached .* Use --prune 0\.\d+ or less"):
        plan(SPEC, min(0.99, most + 0.01), space)
    plan(SPEC, most - 0.01, space)  # just inside: fine
    for bad in (0.0, 1.0, -0.2, 1.5):
        with pytest.raises(TinyzooError, match="above 0 and below 1"):
            plan(SPEC, bad, space)


def test_finalists_that_cannot_reach_the_prune_target_are_dropped_before_full_training() -> None:
    """The up-front check passes a target the space's largest member reaches; the search may
    train only smaller architectures, which are sorted out before their hours of training."""
    import io

    from rich.console import Console

    from nas.pipeline import prunable
    from nas.prune import max_fraction
    from nas.search import Candidate

    space = get_space("dscnn")
    g = Geometry(resolutions=(8,), channels=1, num_classes=10)
    small, large = space.smallest(g), space.largest(g)
    assert max_fraction(small, space) < 0.3 < max_fraction(large, space)
    ranked = [Candidate(small, 0.9, trial=0), Candidate(large, 0.8, trial=1)]
    said = io.StringIO()
    assert prunable(ranked, 0.3, space, Console(file=said)) == ranked[1:]
    assert "1 of 2 trained architectures cannot lose 30 % of their MACs" in said.getvalue()
    with pytest.raises(
        TinyzooError, match=r"any of the 1 architectures .* 0\.0 % .* use no --prune"
    ):
        prunable(ranked[:1], 0.3, space, Console(file=io.StringIO()))
    with pytest.raises(TinyzooError, match=r"any of the 1 architectures .* use --prune 0\.96 or"):
        prunable(ranked[1:], 0.97, space, Console(file=io.StringIO()))


def test_pruning_keeps_the_largest_channels_and_their_exact_function() -> None:
    """Channels made dead (zero batch-norm scale and shift) are the ones L1 pruning removes, and
    removing them changes no output: the weight surgery keeps every surviving connection."""
    from nas.prune import prune_model

    model = _randomized(SPEC)
    rng = np.random.default_rng(0)
    dead = {"c0": rng.choice(16, 5, replace=False), "p1": rng.choice(24, 7, replace=False)}
    dead["p2"] = rng.choice(32, 9, replace=False)
    for conv, idx in dead.items():
        bn = model.get_layer(conv + "b")  # type: ignore[attr-defined]
        gamma, beta, mean, var = bn.get_weights()
        gamma[idx], beta[idx] = 0.0, 0.0
        bn.set_weights([gamma, beta, mean, var])
        nxt = {"c0": "d1b", "p1": "d2b"}.get(conv)
        if nxt:  # the depthwise after a dead channel must output 0 too: no shift
            bn = model.get_layer(nxt)  # type: ignore[attr-defined]
            gamma, beta, mean, var = bn.get_weights()
            gamma[idx], beta[idx] = 0.0, 0.0
            bn.set_weights([gamma, beta, mean, var])
    pruned = ArchSpec.parse("r8x8x1_c3s1c11_ds3s1c17_ds5s2c23_gap_fc10")
    small = prune_model(model, SPEC, pruned)
    x = np.random.default_rng(1).uniform(0, 1, (64, 8, 8, 1)).astype(np.float32)
    a = model.predict(x, verbose=0)  # type: ignore[attr-defined]
    b = small.predict(x, verbose=0)
    np.testing.assert_allclose(a, b, atol=1e-5)
    assert small.count_params() < model.count_params()  # type: ignore[attr-defined]


def _kill(model: object, bn_name: str, idx: np.ndarray) -> None:
    """Make channels `idx` after batch norm `bn_name` exactly zero (zero scale and shift)."""
    bn = model.get_layer(bn_name)  # type: ignore[attr-defined]
    gamma, beta, mean, var = bn.get_weights()
    gamma[idx], beta[idx] = 0.0, 0.0
    bn.set_weights([gamma, beta, mean, var])


def test_pruning_a_residual_chain_keeps_one_set_of_channels_and_the_function() -> None:
    """Across a residual add both summed layers must keep the same channels. Channels dead in
    every writer of a chain (and hidden channels dead after their expansion and depthwise)
    are the ones pruned, and the pruned network computes exactly what the original did."""
    from nas.prune import plan, prune_model

    model = _randomized(MB_SPEC)
    rng = np.random.default_rng(0)
    dead = {
        ("c0b", "p1b"): rng.choice(16, 5, replace=False),  # chain 1: stem + block 1
        ("e1b", "d1b"): rng.choice(32, 8, replace=False),  # block 1's hidden channels
        ("e2b", "d2b"): rng.choice(48, 10, replace=False),
        ("p2b", "p3b"): rng.choice(24, 6, replace=False),  # chain 2: blocks 2-3
        ("e3b", "d3b"): rng.choice(48, 12, replace=False),
    }
    for names, idx in dead.items():
        for name in names:
            _kill(model, name, idx)
    pruned = ArchSpec.parse("r8x8x1_c3s1c11_mb3s1h24c11r_mb5s2h38c18_mb3s1h36c18r_gap_fc10")
    small = prune_model(model, MB_SPEC, pruned)
    x = np.random.default_rng(1).uniform(0, 1, (64, 8, 8, 1)).astype(np.float32)
    a = model.predict(x, verbose=0)  # type: ignore[attr-defined]
    np.testing.assert_allclose(a, small.predict(x, verbose=0), atol=1e-5)
    # A uniform narrowing of a residual space keeps tied layers equally wide.
    narrowed = plan(MB_SPEC, 0.5, get_space("mbv2"))
    assert all(b.residual for b in narrowed.blocks[::2]) and str(narrowed).count("r_") == 2
    with pytest.raises(TinyzooError, match="needs stride 1 and 16 .* give it 16 channels"):
        ArchSpec.parse("r8x8x1_c3s1c16_mb3s1h32c12r_gap_fc10")
    with pytest.raises(TinyzooError, match="drop the r or use stride 1"):
        ArchSpec.parse("r8x8x1_c3s1c16_mb3s2h32c16r_gap_fc10")


@pytest.mark.parametrize("spec", [SPEC, MB_SPEC], ids=str)
def test_folding_batch_norm_keeps_the_function(spec: ArchSpec) -> None:
    from nas.qat import fold

    model = _randomized(spec)
    x = np.random.default_rng(2).uniform(0, 1, (64, 8, 8, 1)).astype(np.float32)
    folded = fold(model, spec)
    np.testing.assert_allclose(
        model.predict(x, verbose=0),  # type: ignore[attr-defined]
        folded.predict(x, verbose=0),
        atol=1e-5,
    )
    assert not any(layer.__class__.__name__ == "BatchNormalization" for layer in folded.layers)


def _converter_ranges(q: object, folded: object, x: np.ndarray) -> None:
    """Give each fake-quant layer of `q` the range the converter calibrates for its tensor: the
    float model's min and max over the calibration images."""
    import keras

    names = [layer.name for layer in q.layers if layer.name.startswith("q_")]  # type: ignore[attr-defined]
    probe = keras.Model(
        folded.input,  # type: ignore[attr-defined]
        [folded.input if n == "q_in" else folded.get_layer(n[2:]).output for n in names],  # type: ignore[attr-defined]
    )
    for name, out in zip(names, probe.predict(x, verbose=0), strict=True):
        layer = q.get_layer(name)  # type: ignore[attr-defined]
        layer.lo.assign(float(out.min()))
        layer.hi.assign(float(out.max()))
        layer.seen.assign(1.0)


def _steps_from_tflm(spec: ArchSpec, seed: int) -> tuple[float, float, float, float, float]:
    """Train `spec` on 8x8 digits for 3 epochs, convert it, and measure the mean distance, in
    TFLM output steps, of the test logits from TFLM's int8 ones: the QAT model's (with the
    converter's ranges), the float model's, and the QAT model's without widened projection
    ranges; also the share of the QAT model's classes that TFLM's agree with, and how far the
    ranges QAT tracks itself are from the converter's."""
    from tflite_micro import runtime

    from nas.data import load_task
    from nas.qat import fold, qat_model
    from nas.quantize import convert_int8
    from nas.train import train

    d = load_task("digits").at_resolution(8)
    res = train(spec, d.x_train, d.y_train, d.x_val, d.y_val, epochs=3, seed=seed, batch_size=32)
    folded = fold(res.model, spec)
    rep = d.x_train[:300]
    ip = runtime.Interpreter.from_bytes(convert_int8(folded, rep), arena_size=1 << 20)
    iq = ip.get_input_details(0)["quantization_parameters"]
    oq = ip.get_output_details(0)["quantization_parameters"]
    s_in, z_in = float(iq["scales"][0]), int(iq["zero_points"][0])
    s_out, z_out = float(oq["scales"][0]), int(oq["zero_points"][0])
    xs = d.x_test
    tflm = []
    for x in xs:
        ip.set_input(np.clip(np.round(x[None] / s_in) + z_in, -128, 127).astype(np.int8), 0)
        ip.invoke()
        tflm.append((ip.get_output(0)[0].astype(np.float32) - z_out) * s_out)
    t = np.array(tflm)

    def ranged(widen: bool) -> Any:  # a QAT model with the converter's ranges
        q = qat_model(folded, spec)
        q(rep[:1])
        _converter_ranges(q, folded, rep)
        for layer in q.layers:
            if not widen and hasattr(layer, "widen"):
                layer.widen = None
        return q

    def steps(y: np.ndarray) -> float:
        return float(np.abs(y - t).mean() / s_out)

    reference = ranged(widen=True)
    fq = np.asarray(reference.predict(xs, verbose=0))
    agree = float(np.mean(fq.argmax(1) == t.argmax(1)))
    # QAT's own range tracking, from its first training batch (the same images): the largest
    # gap of a range from the converter's, in shares of its width.
    tracked = qat_model(folded, spec)
    tracked(rep, training=True)
    gap = 0.0
    for layer in tracked.layers:
        if layer.name.startswith("q_"):
            ref = reference.get_layer(layer.name)
            lo, hi = float(ref.lo.numpy()), float(ref.hi.numpy())
            own = (float(layer.lo.numpy()), float(layer.hi.numpy()))
            gap = max(gap, abs(own[0] - lo) / (hi - lo), abs(own[1] - hi) / (hi - lo))
    unwidened = steps(ranged(widen=False).predict(xs, verbose=0))
    return steps(fq), steps(folded.predict(xs, verbose=0)), unwidened, agree, gap


# Rounding differences compound with depth: MB_SPEC has 12 int8 tensors to SPEC's 7. Training is
# not bit-exact across machines, so the test averages seeds 0-2. Measured per seed: SPEC 0.16-0.23
# steps, float 0.45-0.61; MB_SPEC 0.39-0.44, float 0.70-1.22, and 0.59-0.71 without the widened
# projection ranges; classes agree on 99.6-100 % of the test images; QAT's own first-batch
# ranges are within 0.8-2.3 % of each range's width of the converter's (computed on fake-quantized
# inputs, not the float model's).
@pytest.mark.parametrize(("spec", "max_steps"), [(SPEC, 0.35), (MB_SPEC, 0.6)], ids=str)
def test_the_fake_quantized_model_computes_what_tflm_computes(
    spec: ArchSpec, max_steps: float
) -> None:
    """With the ranges the converter calibrates, the QAT model's logits are TFLM's int8 logits
    to within a fraction of one output step, much closer than the float model's, and its
    classes agree; with residual adds only if QAT follows the converter's widened projection
    ranges. (Ranges from QAT's own first batch differ from the converter's, which calibrates on
    the float model, and put the two output grids apart by about half a step.)"""
    qat, flt, unwidened, agree, gap = np.mean([_steps_from_tflm(spec, s) for s in range(3)], 0)
    assert qat < min(max_steps, 0.8 * flt), (qat, flt)
    assert agree >= 0.98
    assert gap < 0.05, gap
    if spec is MB_SPEC:
        assert unwidened > qat + 0.1, (unwidened, qat)


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    from zoo.cli import main

    try:
        code = main(list(argv))
    except SystemExit as e:
        code = int(e.code or 0)
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("flags", "fragment"),
    [
        (("--prune", "0"), "above 0 and below 1"),
        (("--prune", "1.5"), "above 0 and below 1"),
        (("--prune", "0.999"), "cannot be reached in the dscnn space"),
        (("--qat-threshold", "-1"), "--qat-threshold is in accuracy points"),
    ],
)
def test_bad_compression_flags_exit_2_before_any_training(
    capsys: pytest.CaptureFixture[str], tracking_uri: str, flags: tuple[str, ...], fragment: str
) -> None:
    import time
    from pathlib import Path

    t0 = time.monotonic()
    code, err = _cli(capsys, "search", "--board", "l010", "--task", "digits", *flags)
    assert code == 2 and len(err.strip().splitlines()) == 1 and fragment in err, err
    assert time.monotonic() - t0 < 60  # refused up front, not after a search
    studies = Path(tracking_uri.removeprefix("sqlite:///")).parent / "studies"
    assert not studies.exists() or not list(studies.iterdir())  # nothing written


@pytest.mark.slow
def test_the_chain_prunes_quantizes_with_qat_and_measures_every_stage() -> None:
    from rich.console import Console

    from nas.compress import Compress, report_markdown, run_chain
    from nas.data import load_task
    from nas.pipeline import Distil, Recipe
    from nas.quantize import verify

    d = load_task("digits").at_resolution(8)
    out = run_chain(
        SPEC, d=d, recipe=Recipe(100_000, 1, 6, batch_size=32), seed=0,
        distil=Distil(None, 4.0, 0.5), logits=None, options=Compress(prune=0.4, qat=True),
        space=get_space("dscnn"), console=Console(quiet=True),
    )  # fmt: skip
    assert [s.key for s in out.stages] == ["student", "pruned", "ptq", "qat"]
    student, pruned, ptq, qat = out.stages
    assert pruned.macs <= 0.6 * student.macs and out.spec != SPEC
    assert str(out.spec) == pruned.arch == ptq.arch == qat.arch
    assert [s.measured for s in out.stages] == [False, False, True, True]
    assert sum(s.kept for s in out.stages) == 1 and (ptq.kept or qat.kept)
    kept = ptq if ptq.kept else qat
    assert qat.kept == (qat.val_accuracy >= ptq.val_accuracy)
    # The registered figures are the kept stage's, re-measurable on its .tflite.
    v = verify(out.tflite, d.x_test, d.y_test)
    assert v.int8_accuracy == out.verification.int8_accuracy == kept.test_accuracy
    assert max(v.arena_bytes, v.recorded_total) == kept.arena_bytes
    assert len(out.tflite) == kept.tflite_bytes
    assert kept.test_accuracy > 0.8
    table = report_markdown([s.to_dict() for s in out.stages])
    assert table.count("\n| ") == 4 and "(registered)" in table  # a row per stage
