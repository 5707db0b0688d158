"""A winner's compression chain, one measured stage at a time (issue 4).

    student      the architecture trained on the labels alone (float)
    distilled    the same, trained from the teacher's soft targets and the labels (float)
    pruned       --prune F: L1 channel pruning to (1 - F) of the MACs, fine-tuned (float)
    int8 PTQ     full-integer post-training quantization, run on TFLM
    int8 QAT     quantization-aware fine-tuning, run on TFLM: when PTQ loses more than the
                 threshold on validation, or with --qat

Each stage records validation and test accuracy, the int8 .tflite size, TFLM arena and MACs
(for float stages: the int8 model its architecture converts to, predicted; for int8 stages:
measured) and its training time. The int8 model registered is QAT's when it scores at least
PTQ's validation accuracy on TFLM, else PTQ's.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from nas.errors import TinyzooError

__all__ = [
    "Compress",
    "Outcome",
    "Stage",
    "check_options",
    "metrics",
    "report_files",
    "report_markdown",
    "run_chain",
]

DEFAULT_QAT_THRESHOLD = 0.5  # points of validation accuracy lost to PTQ that trigger QAT
PRUNE_EPOCHS = 0.5  # fine-tuning after pruning, as a share of the final epochs (lr 1e-3)
QAT_EPOCHS = 1 / 3  # QAT fine-tuning, as a share of the final epochs (lr 3e-4)


@dataclass(frozen=True)
class Compress:
    """What the chain does beyond distillation and PTQ."""

    prune: float | None = None  # fraction of the winner's MACs to remove; None: no pruning
    qat: bool = False  # always run QAT
    qat_threshold: float = DEFAULT_QAT_THRESHOLD  # points; QAT runs when PTQ loses more
    baseline: bool = True  # also train the student on labels alone (the report's first row)


def check_options(c: Compress) -> None:
    from nas.prune import check_fraction

    if c.prune is not None:
        check_fraction(c.prune)
    if not 0 <= c.qat_threshold <= 100:
        raise TinyzooError(
            f"--qat-threshold is in accuracy points, from 0 to 100 (default "
            f"{DEFAULT_QAT_THRESHOLD}), got {c.qat_threshold}."
        )


@dataclass(frozen=True)
class Stage:
    key: str  # student | distilled | pruned | ptq | qat
    name: str
    arch: str
    precision: str  # float32 | int8
    val_accuracy: float
    test_accuracy: float
    tflite_bytes: int  # of the int8 model
    arena_bytes: int
    macs: int
    measured: bool  # int8 stages: on TFLM; float stages: predicted from the architecture
    seconds: float
    kept: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Outcome:
    spec: Any  # the final architecture (pruned or not)
    tflite: bytes
    verification: Any  # nas.quantize.Verification of `tflite`, on the test split
    float_test: float
    float_val: float
    stages: tuple[Stage, ...]
    models: dict[str, Any]  # each float stage's keras model, by key (for benchmarks)


def _float_stage(key: str, name: str, spec: Any, model: Any, d: Any, seconds: float) -> Stage:
    from nas.profile import profile_spec
    from nas.train import accuracy

    p = profile_spec(spec)
    return Stage(
        key, name, str(spec), "float32", accuracy(model, d.x_val, d.y_val),
        accuracy(model, d.x_test, d.y_test), p.tflite_bytes, p.arena_bytes, p.macs, False,
        round(seconds, 1),
    )  # fmt: skip


def _int8_stage(key: str, name: str, spec: Any, tflite: bytes, v: Any, d: Any, s: float) -> Stage:
    from nas.profile import profile_tflite
    from nas.quantize import tflm_accuracy

    arena = v.arena
    val = tflm_accuracy(tflite, d.x_val, d.y_val, v.arena_bytes) or 0.0
    return Stage(
        key, name, str(spec), "int8", val, float(v.int8_accuracy or 0.0), len(tflite), arena,
        profile_tflite(tflite).macs, True, round(s, 1),
    )  # fmt: skip


def run_chain(
    spec: Any,
    *,
    d: Any,
    recipe: Any,
    seed: int,
    distil: Any,
    logits: Any,
    options: Compress,
    space: Any,
    console: Any,
    trained: tuple[Any, float] | None = None,
    checkpoint: Path | None = None,
) -> Outcome:
    """Train, compress and verify `spec` on `d` (a Dataset at the spec's resolution).

    `trained` is (model, seconds) of this recipe's main training already done (distilled with a
    teacher, else on the labels): the search's full-fidelity step trained it, so it is reused.
    `checkpoint` is where the main training keeps its state after each epoch, so that a run
    that was interrupted goes on from there (nas.train); the labels-only baseline's is beside
    it (`.labels.npz`). The caller deletes both once it has kept the outcome.
    """
    from nas.prune import plan, prune_model
    from nas.quantize import convert_and_verify
    from nas.train import progress, train

    pruned_spec = plan(spec, options.prune, space) if options.prune else None  # fails early
    stages: list[Stage] = []
    models: dict[str, Any] = {}

    def fit(what: str, sp: Any, epochs: int, **kw: Any) -> tuple[Any, float]:
        t0 = time.monotonic()
        text = f"{what}: {sp}"
        with console.status(f"{text}, {epochs} epochs on {len(d.x_train)} images") as status:
            res = train(
                sp, d.x_train, d.y_train, d.x_val, d.y_val, epochs=epochs, seed=seed,
                batch_size=recipe.batch_size, augment=d.augment,
                on_epoch=progress(status, text, epochs), **kw,
            )  # fmt: skip
        if res.resumed_epochs:
            console.print(
                f"  {what}: went on from epoch {res.resumed_epochs} of an interrupted run"
            )
        return res.model, time.monotonic() - t0 + res.earlier_seconds

    def show(st: Stage) -> None:
        stages.append(st)
        size = "" if st.measured else " (predicted)"
        console.print(
            f"  {st.name:<10} val {st.val_accuracy:.4f} · test {st.test_accuracy:.4f} · "
            f"{st.precision} · tflite {st.tflite_bytes:,} B{size} · arena {st.arena_bytes:,} B · "
            f"MACs {st.macs:,} · {st.seconds:.0f} s"
        )

    teach = {"teacher_logits": logits, "temperature": distil.temperature, "alpha": distil.alpha}
    epochs = recipe.final_epochs
    if logits is None or options.baseline:
        if logits is None and trained is not None:
            model, s = trained
        else:
            labels = checkpoint
            if checkpoint is not None and logits is not None:
                labels = checkpoint.with_suffix(".labels.npz")
            model, s = fit("training on labels alone", spec, epochs, checkpoint=labels)
        show(_float_stage("student", "student", spec, model, d, s))
        models["student"] = model
    if logits is not None:
        model, s = (
            trained
            if trained is not None
            else fit(distil.describe(), spec, epochs, checkpoint=checkpoint, **teach)
        )
        show(_float_stage("distilled", "distilled", spec, model, d, s))
        models["distilled"] = model
    if pruned_spec is not None:
        kw = teach if logits is not None else {}
        model, s = fit(
            f"pruned {spec} by L1 norm; fine-tuning",
            pruned_spec,
            max(1, round(epochs * PRUNE_EPOCHS)),
            model=prune_model(model, spec, pruned_spec),
            learning_rate=1e-3,
            **kw,
        )
        spec = pruned_spec
        show(_float_stage("pruned", f"pruned {options.prune:g}", spec, model, d, s))
        models["pruned"] = model
    float_stage = stages[-1]
    t0 = time.monotonic()
    with console.status("int8 post-training quantization and TFLM verification"):
        tflite, v = convert_and_verify(model, d, seed)
        show(_int8_stage("ptq", "int8 PTQ", spec, tflite, v, d, time.monotonic() - t0))
    ptq = stages[-1]
    loss = 100 * (float_stage.val_accuracy - ptq.val_accuracy)
    chosen = ptq
    if options.qat or loss > options.qat_threshold:
        why = "--qat" if options.qat else f"PTQ lost {loss:.2f} points on validation"
        from nas.qat import fold, qat_model, unwrap

        folded = fold(model, spec)
        kw = teach if logits is not None else {}
        q, s = fit(
            f"quantization-aware training ({why})",
            spec,
            max(1, round(epochs * QAT_EPOCHS)),
            model=qat_model(folded, spec),
            learning_rate=3e-4,
            **kw,
        )
        t0 = time.monotonic()
        with console.status("int8 conversion of the QAT model and TFLM verification"):
            q_tflite, q_v = convert_and_verify(unwrap(q, folded), d, seed)
            show(_int8_stage("qat", "int8 QAT", spec, q_tflite, q_v, d, s + time.monotonic() - t0))
        if stages[-1].val_accuracy >= ptq.val_accuracy:
            chosen, tflite, v = stages[-1], q_tflite, q_v
        console.print(f"  keeping {chosen.name} (the better int8 validation accuracy)")
    stages = [
        Stage(**{**st.to_dict(), "kept": st is chosen}) if st.precision == "int8" else st
        for st in stages
    ]
    return Outcome(
        spec=spec,
        tflite=tflite,
        verification=v,
        float_test=float_stage.test_accuracy,
        float_val=float_stage.val_accuracy,
        stages=tuple(stages),
        models=models,
    )


def metrics(stages: tuple[Stage, ...]) -> dict[str, float]:
    """MLflow metrics: stage/<key>/<field>."""
    out: dict[str, float] = {}
    for st in stages:
        for f in ("val_accuracy", "test_accuracy", "tflite_bytes", "arena_bytes", "macs"):
            out[f"stage/{st.key}/{f}"] = float(getattr(st, f))
    return out


REPORT_FILES = ("compression.json", "compression.md")  # report_files' names


def report_files(stages: list[dict[str, Any]]) -> dict[str, bytes]:
    """The report as a zoo bundle's artefacts: the stages as JSON, and their table."""
    blobs = (json.dumps(stages, indent=2).encode(), report_markdown(stages).encode())
    return dict(zip(REPORT_FILES, blobs, strict=True))


def report_markdown(stages: list[dict[str, Any]]) -> str:
    """The stage table (rows as `Stage.to_dict()`), for the card and the run's artefacts."""
    rows = [
        "| stage | architecture | precision | val % | test % | int8 .tflite B | TFLM arena B | "
        "MACs | training s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for st in stages:
        est = "" if st["measured"] else " (pred.)"
        name = f"**{st['name']}** (registered)" if st["kept"] else st["name"]
        rows.append(
            f"| {name} | `{st['arch']}` | {st['precision']} | {100 * st['val_accuracy']:.2f} | "
            f"{100 * st['test_accuracy']:.2f} | {st['tflite_bytes']:,}{est} | "
            f"{st['arena_bytes']:,}{est} | {st['macs']:,} | {st['seconds']:.0f} |"
        )
    return "\n".join(rows) + (
        "\n\nFloat rows: accuracy of the float model; size and arena of the int8 model its "
        "architecture converts to, predicted before conversion (the arena exactly, the size as an "
        "upper bound). int8 rows: measured on TFLM's reference kernels.\n"
    )
