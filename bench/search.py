"""Does the search win? tinyzoo's search against random search and hand-designed models, per budget.

    .venv/bin/python bench/search.py [--settings fashion,digits,kws-nano33ble,kws-32k]
                                     [--trials 20] [--seed 0] [--epochs N] [--ship]
                                     [--store DIR] [--final-seeds N] [--finalists K]
                                     [--methods tinyzoo,random,reference]

For each setting, in one run and on one scratch zoo:
1. `tinyzoo`: the search as `tinyzoo search` runs it (TPE, its first trial the space's hand
   design scaled to fit where it has one (`Space.seeds`: the DS-CNN on kws, dscnn's widest
   member narrowed to fit on images), median pruner, proxy training, the top 3 retrained in
   full, the best by validation kept);
2. `random`: the same with Optuna's RandomSampler and the same number of trials (no seed
   trial);
3. `reference`: a hand-designed architecture scaled to fit the budget, trained once in full.
All three get the same final recipe: the task's final epochs, distilled from the task's teacher
(the default T and alpha), int8 post-training quantization (QAT when it loses more than 0.5
points of validation accuracy), verified on TFLM's reference kernels over the whole test split.
None trains the labels-only student that `tinyzoo search` adds to a winner's compression report
(`Compress(baseline=False)`): it changes no row and would cost each method one more final
training (50 minutes of fashion's 60 epochs), so a shipped winner's compression report starts
at the distilled model. The teacher is trained (or imported) before the
clocks start. CPU time is user + system time of
this process, which runs everything (no workers).

References: for images, MobileNetV1 (the `mbv1` space) at width 0.25, with the depth, input
resolution and stem stride that give the most MACs within the budget (narrower widths only if
nothing at 0.25 fits). For kws, MLPerf Tiny's DS-CNN as published (bench/compress.py's
REFERENCES: a 10x4 stride-2 stem and four depthwise-separable blocks, 64 channels; before the
grammar had non-square kernels the tables used its 3x3-stem variant, DS_CNN_3X3, 0.59 points
stronger). For kws the searches get the board's budget and, on top, half the reference's
.tflite bytes and MACs: the goal is the reference's accuracy at half its flash and compute.

`--final-seeds N` trains each method's architecture again at seeds --seed+1 .. --seed+N-1
through the same final recipe, and the verdict compares means over the N seeds: one kws
training's int8 accuracy moves by about a point with the seed (docs/RESULTS.md,
kws-frontier-120), and a search's own figure is the best of its finalists by validation. The
table gives each method's own figure and the mean ± sd beside it; the further trainings are
kept and resumed like the methods, and their CPU time is not in the search cost.

kws's verdict is on an extended test set: the test split (960 clips) and 9,600 further clips of
its speakers (`nas.data.kws.extra_test`), 10,560 in all. The test split alone measures one
model to about 0.8 points and a difference between two to about 0.75 (bench/agreement.py),
the size of the gaps the goal asks about. The table gives both figures; the extended clips
are used for nothing else (no training, no choice). Each final training keeps its int8 model
beside its row (rows/*.tflite); a kept row without the extended figure is measured on its
model (a search's comes from the zoo) or, where an earlier run kept none, trained again.

`--finalists K` has both searches retrain their proxy's top K in full instead of 3 (`tinyzoo
search --finalists`). `--methods` runs only the methods named: kws always trains the reference
as well (the searches' budget is half of it). A table without all three methods goes to the
section `search-SETTING-METHODS` (the methods it has), leaving the three-method table as it is,
and leaves out the comparisons with methods that did not run.

`--ship` copies each setting's tinyzoo winner (seed 0's model) into zoo/pretrained/ (SHIP
names them), its card carrying the setting's table, unless the entry shipped under that name
tests better (the zoo's champion rule: bench/_ship.py).

`--store DIR` keeps the scratch zoo in DIR instead of a temporary folder, and each finished
method's row beside it (rows/, keyed by setting, method, trials, seed, epochs and `--finalists`
where it is not the recipe's). Run the same
command again with the same DIR after an interruption and finished methods are not redone; an
interrupted search resumes its study's finished trials and finished full trainings, and the
one in progress from its last epoch (as the reference's training does). A method that ran over
several runs reports the sum of their wall and CPU times: an interruption (Ctrl-C, SIGTERM or
SIGHUP) leaves them in rows/*.spent.json. A run killed outright (SIGKILL, a lost machine) leaves
its trials and epoch checkpoints, which the next run goes on from, but not its time: that
method's CPU and wall time are then lower bounds. Rows are not invalidated by code changes: use
a fresh DIR after changing the recipe or the code. The study is the same whatever
`--finalists` says: a search row run with another `--finalists` on a used DIR reuses its trials
and kept full trainings, and its CPU time leaves them out; give it a fresh DIR.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._results import mean_sd, seeds_text, standard_error, write_section  # noqa: E402
from bench._ship import ship  # noqa: E402
from bench.compress import REFERENCES  # noqa: E402
from nas.boards import figures  # noqa: E402
from nas.errors import catch_interrupts  # noqa: E402


@dataclass(frozen=True)
class Setting:
    key: str
    task: str
    board: str | None
    limits: dict[str, Any]  # run_search's budget keywords
    budget_text: str
    goal: str


SETTINGS = {
    "fashion": Setting(
        "fashion", "fashion", None, {"max_ram": 64_000, "max_flash": 64_000},
        "TFLM arena ≤ 64,000 B and .tflite ≤ 64,000 B (muNAS's Fashion-MNIST budget, stricter: "
        "muNAS counts activations and weights only)",
        "int8 test accuracy ≥ 92.5 %",
    ),
    "digits": Setting(
        "digits", "digits", None, {"max_peak": 2_500, "max_weights": 4_500},
        "muNAS's MNIST budget on its definitions: activation peak ≤ 2,500 B (whole tensors, "
        "best order), weights ≤ 4,500 B (one byte per parameter)",
        "int8 test accuracy ≥ 98 %",
    ),
    "kws-nano33ble": Setting(
        "kws-nano33ble", "kws", "nano33ble", {},
        "nano33ble (RAM 196,608 B, flash 917,504 B after reserves)",
        "the reference's int8 accuracy or better, with ≤ 50 % of its .tflite bytes and MACs",
    ),
    "kws-32k": Setting(
        "kws-32k", "kws", None, {"max_ram": 32_768, "max_flash": 65_536},
        "TFLM arena ≤ 32 KiB, .tflite ≤ 64 KiB",
        "the reference's int8 accuracy or better, with ≤ 50 % of its .tflite bytes and MACs",
    ),
}  # fmt: skip


METHODS = ("tinyzoo", "random", "reference")
SAMPLERS = {"tinyzoo": "tpe", "random": "random"}  # the search methods' Optuna samplers
SHIP = {"fashion": "fashion-64k", "digits": "digits-2k", "kws-nano33ble": "kws-nano33ble",
        "kws-32k": "kws-32k"}  # fmt: skip


@dataclass(frozen=True)
class Row:
    method: str
    arch: str
    int8_test: float
    arena: int
    tflite: int
    macs: int
    peak: int  # paper peak (muNAS's definition)
    params: int
    latency_ms: float | None
    cpu_s: float
    note: str = ""
    ref: str = ""  # the zoo entry (searches)
    wall_s: float = 0.0
    int8_extended: float | None = None  # on the extended test set (kws: `extended_test`)


def timed(make: Callable[[], Row], keep: Path | None) -> Row:
    """`make()`'s row with its wall time; kept in `keep` (a JSON file) and reused from there.

    An attempt that is interrupted leaves its CPU and wall seconds in `keep`'s `.spent.json`,
    and the attempt that finishes adds them to its row: a resumed method costs what all its
    attempts cost.
    """
    if keep is not None and keep.exists():
        row = Row(**json.loads(keep.read_text(encoding="utf-8")))
        print(f"{row.method}: finished in an earlier run, reusing {keep}", flush=True)
        return row
    spent = None if keep is None else keep.with_suffix(".spent.json")
    before = {"cpu_s": 0.0, "wall_s": 0.0}
    if spent is not None and spent.exists():
        before = json.loads(spent.read_text(encoding="utf-8"))
        print(f"{keep}: {before['cpu_s'] / 3600:.2f} CPU h spent by interrupted runs, counted")
    t0, cpu = time.monotonic(), _cpu()
    try:
        row = make()
    except BaseException:
        if spent is not None:
            _write_json(spent, {"cpu_s": before["cpu_s"] + _cpu() - cpu,
                                "wall_s": before["wall_s"] + time.monotonic() - t0})  # fmt: skip
        raise
    row = replace(
        row, cpu_s=row.cpu_s + before["cpu_s"], wall_s=before["wall_s"] + time.monotonic() - t0
    )
    if keep is not None:
        _write_json(keep, asdict(row))
        if spent is not None:
            spent.unlink(missing_ok=True)
    return row


def _write_json(path: Path, obj: Any) -> None:
    """Whole or absent."""
    _write_bytes(path, json.dumps(obj, indent=1).encode())


def _write_bytes(path: Path, data: bytes) -> None:
    """Whole or absent."""
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_suffix(".part")
    part.write_bytes(data)
    part.replace(path)


def measured(
    r: Row, kept: Path | None, make: Callable[[], Row] | None,
    extended: tuple[Any, Any] | None, store: str,
) -> Row:  # fmt: skip
    """`r` with its figure on the extended test set, if it lacks one: measured on its model,
    the zoo's (a search's row) or the .tflite kept beside `kept`, its row (then rewritten with
    the figure). A row whose earlier run kept no model is trained again with `make` (the final
    recipe repeats on one machine); the old row waits in `*.old.json` until the new one is
    written, and the two test-split figures are compared."""
    from nas.quantize import tflm_accuracy
    from zoo import load

    if extended is None or r.int8_extended is not None:
        return r
    model = None if kept is None else kept.with_suffix(".tflite")
    if r.ref:
        tflite = load(r.ref, tracking_uri=store).tflite
    elif model is not None and model.exists():
        tflite = model.read_bytes()
    elif kept is not None and make is not None:
        print(f"{kept.name}: no model kept; training it again for the extended test set")
        old = kept.with_suffix(".old.json")
        if kept.exists():
            kept.replace(old)
        again = timed(make, kept)
        same = "the same" if again.int8_test == r.int8_test else "NOT the same"
        print(
            f"{kept.name}: int8 test {100 * again.int8_test:.2f} % trained again, "
            f"{100 * r.int8_test:.2f} % before: {same}",
            flush=True,
        )
        old.unlink(missing_ok=True)
        return again
    else:
        raise ValueError(f"row {r.method} {r.arch}: no model to measure and no way to train it")
    r = replace(r, int8_extended=tflm_accuracy(tflite, *extended, r.arena))
    if kept is not None:
        _write_json(kept, asdict(r))
    return r


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime + c.ru_utime + c.ru_stime


def image_reference(space: Any, geometry: Any, budget: Any) -> Any:
    """The MobileNetV1 at width 0.25 (or narrower) with the most MACs that fits `budget`."""
    from nas.profile import profile_spec

    for alpha in sorted((a for a in space.alphas if a <= 0.25), reverse=True):
        best = None
        for r in geometry.resolutions:
            for depth in range(space.min_depth, space.max_depth + 1):
                for stride in space.stem_strides:
                    params = {
                        "resolution": r,
                        "alpha": alpha,
                        "depth": depth,
                        "stem_stride": stride,
                    }
                    spec = space.decode(params, geometry)
                    p = profile_spec(spec)
                    if not budget.violations(**figures(p)) and (best is None or p.macs > best[0]):
                        best = (p.macs, spec)
        if best is not None:
            return best[1]
    raise SystemExit(f"no MobileNetV1 of width <= 0.25 fits {budget}")


def extended_test(data: Any) -> tuple[Any, Any] | None:
    """kws's extended test set: the test split and nas.data.kws.extra_test's 9,600 further
    clips of its speakers (10,560 in all); None for the other tasks."""
    if data.name != "kws":
        return None
    import numpy as np

    from nas.data.kws import extra_test

    x, y = extra_test()
    return np.concatenate([data.x_test, x]), np.concatenate([data.y_test, y])


def final_chain(
    spec: Any, data: Any, teacher: Any, seed: int, epochs: int | None,
    checkpoint: Path | None = None, kd: tuple[float, float] | None = None,
) -> Any:  # fmt: skip
    """`spec` through the winner's final recipe at `seed`: distilled from `teacher` at the
    default T and alpha (or `kd`'s), int8 (QAT when PTQ loses too much), verified on TFLM.
    Returns nas.compress.run_chain's result (the .tflite, its verification)."""
    from rich.console import Console

    from nas.compress import Compress, run_chain
    from nas.distill import DEFAULT_ALPHA, DEFAULT_TEMPERATURE
    from nas.pipeline import RECIPES, Distil
    from searchspaces import get_space

    task = data.name
    recipe = replace(RECIPES[task], final_epochs=epochs or RECIPES[task].final_epochs)
    d = data.for_epochs(recipe.final_epochs).at_resolution(spec.input_shape[0])  # as the searches
    return run_chain(
        spec, d=d, recipe=recipe, seed=seed,
        distil=Distil(teacher, *(kd or (DEFAULT_TEMPERATURE, DEFAULT_ALPHA))),
        logits=teacher.logits(data),
        options=Compress(baseline=False), space=get_space("dscnn"), console=Console(stderr=True),
        checkpoint=checkpoint,
    )  # fmt: skip


def final_chain_alone(
    spec: Any, data: Any, seed: int, epochs: int | None, kd: tuple[float, float] | None = None
) -> Any:
    """`final_chain` with the task's teacher fetched the way the benchmark does (shipped, else
    trained), in a scratch store of its own: one training, outside any benchmark run."""
    from rich.console import Console

    from nas.teacher import resolve_teacher
    from searchspaces import get_space

    with tempfile.TemporaryDirectory(prefix="tinyzoo-bench-") as tmp:
        teacher = resolve_teacher(
            "auto", data=data, space=get_space("dscnn"), seed=0,
            tracking_uri=f"sqlite:///{tmp}/bench.db", console=Console(stderr=True),
        )  # fmt: skip
        assert teacher is not None
        return final_chain(spec, data, teacher, seed, epochs, kd=kd)


def train_reference(
    spec: Any, data: Any, teacher: Any, budget: Any, seed: int, epochs: int | None,
    checkpoint: Path | None = None, method: str = "reference",
    extended: tuple[Any, Any] | None = None, model: Path | None = None,
) -> Row:  # fmt: skip
    """The reference (or `method`'s architecture, for another seed) through the winner's final
    recipe: distilled, compressed, verified; its training keeps its state after each epoch in
    `checkpoint`, and an interrupted one goes on from there. With `extended` (x, y) the int8
    model is measured on it too; with `model` its .tflite is written there."""
    from nas.profile import profile_tflite
    from nas.quantize import tflm_accuracy

    cpu = _cpu()
    out = final_chain(spec, data, teacher, seed, epochs, checkpoint)
    v, p = out.verification, profile_tflite(out.tflite)
    arena = v.arena
    broken = budget.violations(**figures(p, arena_bytes=arena))
    if model is not None:
        _write_bytes(model, out.tflite)
    return Row(
        method, str(out.spec), v.int8_accuracy, arena, len(out.tflite), p.macs,
        p.paper_peak_bytes, p.params, budget.latency_ms(p.macs, len(p.layers)), _cpu() - cpu,
        "breaks the budget once measured: " + "; ".join(broken) if broken else "",
        int8_extended=None if extended is None else tflm_accuracy(out.tflite, *extended, arena),
    )  # fmt: skip


def search(s: Setting, sampler: str, limits: dict[str, Any], trials: int, seed: int,
           store: str, epochs: int | None, finalists: int | None = None) -> Row:  # fmt: skip
    from nas.compress import Compress
    from nas.pipeline import run_search
    from nas.profile import profile_tflite
    from zoo import load

    cpu = _cpu()
    entry = run_search(
        board=s.board, task=s.task, trials=trials, seed=seed, tracking_uri=store,
        study_name=f"bench-{s.key}-{sampler}-{seed}", sampler=sampler, epochs=epochs,
        finalists=finalists, compress=Compress(baseline=False), **limits,
    )  # fmt: skip
    spent = _cpu() - cpu
    p = profile_tflite(load(entry.ref, tracking_uri=store).tflite)
    (method,) = (m for m, name in SAMPLERS.items() if name == sampler)
    return Row(
        method, entry.arch, entry.int8_accuracy,
        entry.arena_bytes, entry.tflite_bytes, entry.macs, p.paper_peak_bytes, entry.params,
        entry.latency_ms_estimate, spent, ref=entry.ref,
    )  # fmt: skip


def run_setting(
    s: Setting, trials: int, seed: int, store: str, epochs: int | None, rows_dir: Path | None,
    final_seeds: int = 1, methods: tuple[str, ...] = METHODS, finalists: int | None = None,
) -> tuple[list[str], list[Row]]:  # fmt: skip
    from rich.console import Console

    from nas.boards import budget_for, get_board
    from nas.data import load_task
    from nas.pipeline import RECIPES
    from nas.profile import profile_spec
    from nas.teacher import resolve_teacher
    from searchspaces import ArchSpec, get_space

    board = get_board(s.board) if s.board else None
    budget = budget_for(board, **s.limits)
    data = load_task(s.task)
    extended = extended_test(data)
    # The teacher before any clock starts: every method then finds it in the scratch zoo.
    teacher = resolve_teacher(
        "auto", data=data, space=get_space("dscnn"), seed=0, tracking_uri=store,
        console=Console(stderr=True),
    )  # fmt: skip
    assert teacher is not None
    if s.task == "kws":
        ref_spec = ArchSpec.parse(REFERENCES["kws"])
        assert not budget.violations(**figures(profile_spec(ref_spec))), "the reference must fit"
    else:
        ref_spec = image_reference(get_space("mbv1"), data.geometry(), budget)

    def keep(method: str) -> Path | None:
        searched = method in ("tpe", "random")  # not the reference, nor the further seeds
        default = finalists is None or finalists == RECIPES[s.task].finalists
        top = "" if default or not searched else f"-f{finalists}"
        key = f"{s.key}-{method}-t{trials}-s{seed}-e{epochs or 'recipe'}{top}.json"
        return None if rows_dir is None else rows_dir / key

    def final(spec: Any, method: str, at: int, kept: Path | None) -> Row:
        """`spec` through the final recipe at seed `at`, kept (and resumed) like a method."""
        ck = None if kept is None else kept.with_suffix(".epoch.npz")
        model = None if kept is None else kept.with_suffix(".tflite")

        def make() -> Row:
            return train_reference(
                spec, data, teacher, budget, at, epochs, ck, method, extended, model
            )

        row = measured(timed(make, kept), kept, make, extended, store)
        if ck is not None:  # the row is kept now
            from nas.train import remove_checkpoints

            remove_checkpoints(ck)
        return row

    # kws trains the reference whatever --methods says: the searches' budget is half of it.
    wanted = "reference" in methods or s.task == "kws"
    ref = final(ref_spec, "reference", seed, keep("reference")) if wanted else None
    limits = dict(s.limits)
    if ref is not None and s.task == "kws":  # half its flash and compute, within the board's
        limits["max_flash"] = min(budget.flash_bytes or 1 << 40, ref.tflite // 2)
        limits["max_macs"] = ref.macs // 2
    rows = [
        measured(
            timed(
                lambda m=m: search(s, m, limits, trials, seed, store, epochs, finalists), keep(m)
            ),
            keep(m),
            None,
            extended,
            store,
        )  # fmt: skip
        for method, m in SAMPLERS.items()
        if method in methods
    ]
    rows += [ref] if ref is not None else []

    # Each method's architecture again at the next seeds: one training's figure moves by about
    # a point with the seed (kws), and a search's includes its pick among the finalists.
    def again(r: Row, at: int) -> Row:
        kept = keep(f"{r.method}-seed{at}")
        if kept is not None and kept.exists() and json.loads(kept.read_text())["arch"] != r.arch:
            kept.unlink()  # another architecture's, from before its method was redone
            if kept.with_suffix(".tflite").exists():
                kept.with_suffix(".tflite").unlink()
        return final(ArchSpec.parse(r.arch), r.method, at, kept)

    seeds = {r.method: [r, *(again(r, seed + k) for k in range(1, final_seeds))] for r in rows}
    more = {m: [x.int8_test for x in rs] for m, rs in seeds.items()} if final_seeds > 1 else None
    ext = (
        {m: [float(x.int8_extended) for x in rs if x.int8_extended is not None]
         for m, rs in seeds.items()}
        if extended is not None else None
    )  # fmt: skip
    n_ext = None if extended is None else len(extended[1])
    return report(s, rows, trials, seed, limits, epochs, more, finalists, ext, n_ext), rows


def report(
    s: Setting, rows: list[Row], trials: int, seed: int, limits: dict[str, Any],
    epochs: int | None, more: dict[str, list[float]] | None = None,
    finalists: int | None = None, extended: dict[str, list[float]] | None = None,
    n_extended: int | None = None,
) -> list[str]:  # fmt: skip
    """The setting's table and verdict. With `more` (per method, the int8 test accuracy of its
    architecture at seeds `seed`, `seed + 1`, ...: the first the row's own) the verdict and the
    differences are of means over those seeds, paired by seed. With `extended` (the same on the
    extended test set of `n_extended` examples, kws) the verdict and differences are on those,
    and the test split's alone is given beside. `rows` holds the methods that ran
    (`--methods`); a comparison with a method that did not run is left out."""
    from nas.pipeline import RECIPES

    n = len(next(iter(more.values()))) if more else 1
    over = seeds_text(n, seed)
    if extended is not None and n_extended is None:
        raise ValueError("report: give n_extended, the extended test set's size, with extended")
    ext_col = f" extended test % ({n_extended or 0:,} clips{', ' + over if more else ''}) |"
    lat = "est. ms (" + (s.board or "no board") + ")"
    lines = [
        f"**{s.key}**: task `{s.task}`, budget {s.budget_text}"
        + (f"; the searches also got {json.dumps(limits)}" if limits != s.limits else "")
        + f". Goal: {s.goal}. {trials} trials per search, seed {seed}, final training "
        f"{epochs or RECIPES[s.task].final_epochs} epochs"
        + (f", the proxy's top {finalists} retrained in full" if finalists is not None else "")
        + "."
        + (f" Each method's architecture was trained again at {seeds_text(n - 1, seed + 1)} "
           f"through the same final recipe; the verdict is on the means over {over}."
           if more else "")
        + (f" The extended test set is the test split and further clips of its speakers, "
           f"{n_extended or 0:,} in all (nas.data.kws.extra_test: the test split's 0.8-point "
           "standard error is too coarse for the goal); the verdict is on it."
           if extended else ""),
        "",
        f"| method | int8 test % |{f' mean ± sd, {over} |' if more else ''}{ext_col if extended else ''} TFLM arena B | .tflite B | MACs | peak B (paper) | params | {lat} | CPU h | architecture |",
        "|---|---|---|---|---|---|---|---|---|---|" + ("---|" if more else "")
        + ("---|" if extended else ""),
    ]  # fmt: skip
    for r in rows:
        ms = "—" if r.latency_ms is None else f"{r.latency_ms:.1f}"
        spread = f" {mean_sd(more[r.method])} |" if more else ""
        if extended:
            xs = extended[r.method]
            spread += f" {mean_sd(xs) if more else f'{100 * xs[0]:.2f}'} |"
        lines.append(
            f"| {r.method} | {100 * r.int8_test:.2f} |{spread} {r.arena:,} | {r.tflite:,} | "
            f"{r.macs:,} | {r.peak:,} | {r.params:,} | {ms} | {r.cpu_s / 3600:.2f} | `{r.arch}` |"
        )
    by = {r.method: r for r in rows}
    figure = extended or more
    split = {r.method: statistics.mean(more[r.method]) if more else r.int8_test for r in rows}
    acc = {r.method: statistics.mean(figure[r.method]) if figure else r.int8_test for r in rows}
    what = f"mean over {over}" if more else "int8" if extended else "int8 test"
    what += ", extended test set" if extended else ""
    lines += ["", *(f"- {r.method}: {r.note}" for r in rows if r.note)]
    tz, ref = by.get("tinyzoo"), by.get("reference")
    if tz is not None and s.task == "kws" and ref is not None:
        met = (
            acc["tinyzoo"] >= acc["reference"]
            and tz.tflite <= ref.tflite / 2
            and tz.macs <= ref.macs / 2
        )
        lines.append(
            f"- Goal {'met' if met else 'NOT met'}: tinyzoo {100 * acc['tinyzoo']:.2f} % vs "
            f"reference {100 * acc['reference']:.2f} % ({what}), at "
            f"{tz.tflite / ref.tflite:.2f}x its .tflite and {tz.macs / ref.macs:.2f}x its MACs."
            + (f" On the test split alone: {100 * split['tinyzoo']:.2f} % vs "
               f"{100 * split['reference']:.2f} %." if extended else "")
        )  # fmt: skip
    elif tz is not None and s.task != "kws":
        target = 0.925 if s.task == "fashion" else 0.98
        lines.append(
            f"- Goal {'met' if acc['tinyzoo'] >= target else 'NOT met'}: tinyzoo "
            f"{100 * acc['tinyzoo']:.2f} % ({what}) against {100 * target:.1f} %."
        )
    others = [m for m in ("random", "reference") if tz is not None and m in by]

    def error(m: str) -> str:
        """The standard error of the mean paired difference from the seeds' spread: every seed
        is tested on the same clips, so the part from the choice of clips is not in it
        (bench/agreement.py measures that)."""
        if not figure or n < 2:
            return ""
        d = [a - b for a, b in zip(figure["tinyzoo"], figure[m], strict=True)]
        return f" (standard error over seeds {100 * standard_error(d):.2f})"

    if others:
        lines.append(
            "- "
            + "; ".join(
                f"tinyzoo - {m}: {100 * (acc['tinyzoo'] - acc[m]):+.2f} points{error(m)}"
                for m in others
            )
            + (f" ({what}, paired by seed)." if more else ".")
        )
    alone = {"reference": " (its final training alone)"}
    lines += [
        "- Search cost in CPU-hours: "
        + ", ".join(f"{r.method}{alone.get(r.method, '')} {r.cpu_s / 3600:.2f}" for r in rows)
        + (" (the trainings at further seeds not counted)." if more else "."),
        f"- Wall time of {'the three' if len(rows) == 3 else 'these'}: "
        f"{sum(r.wall_s for r in rows) / 3600:.2f} h (the teacher, trained or imported first, "
        "not counted).",
        "",
    ]
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--settings", default=",".join(SETTINGS))
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, help="final epochs for all (default: the task's recipe)")
    ap.add_argument("--ship", action="store_true", help="ship the winners to zoo/pretrained/")
    ap.add_argument(
        "--final-seeds", type=int, default=1,
        help="train each method's architecture at this many seeds (from --seed); the verdict "
        "is on the means",
    )  # fmt: skip
    ap.add_argument(
        "--methods", default=",".join(METHODS),
        help="run only these of tinyzoo, random, reference (kws always trains the reference: "
        "the searches' budget is half of it); the section is then search-SETTING-METHODS",
    )  # fmt: skip
    ap.add_argument(
        "--finalists", type=int,
        help="the searches retrain their proxy's top K in full (default: the recipe's, 3)",
    )  # fmt: skip
    ap.add_argument(
        "--store", type=Path,
        help="keep the scratch zoo and finished rows in DIR; the same command again resumes",
    )  # fmt: skip
    args = ap.parse_args()
    catch_interrupts(signal.SIGINT, signal.SIGTERM, signal.SIGHUP)  # the time spent is written down
    if args.final_seeds < 1:
        ap.error(f"--final-seeds must be 1 or more, got {args.final_seeds}")
    if args.finalists is not None and args.finalists < 1:
        ap.error(f"--finalists must be 1 or more, got {args.finalists}")
    methods = tuple(args.methods.split(","))
    if set(methods) - set(METHODS):
        ap.error(f"--methods {args.methods!r}: give some of {', '.join(METHODS)}, comma-separated")
    if args.ship and "tinyzoo" not in methods:
        ap.error("--ship ships the tinyzoo row: add tinyzoo to --methods")
    keys = args.settings.split(",")
    unknown = [k for k in keys if k not in SETTINGS]
    if unknown:
        ap.error(f"unknown setting(s) {', '.join(unknown)}; valid: {', '.join(SETTINGS)}")
    command = " ".join([".venv/bin/python bench/search.py", *sys.argv[1:]])
    if args.store is not None and args.store.exists() and not args.store.is_dir():
        ap.error(f"--store {args.store} is a file; give a folder (new or from an earlier run)")
    with contextlib.ExitStack() as stack:
        if args.store is None:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tinyzoo-bench-")))
        else:
            folder = args.store.resolve()
            folder.mkdir(parents=True, exist_ok=True)
        store = f"sqlite:///{folder}/bench.db"  # a scratch zoo: shipped teachers are imported
        rows_dir = None if args.store is None else folder / "rows"
        for key in keys:
            lines, rows = run_setting(
                SETTINGS[key], args.trials, args.seed, store, args.epochs, rows_dir,
                args.final_seeds, methods, args.finalists,
            )  # fmt: skip
            every = {r.method for r in rows} == set(METHODS)
            section = f"search-{key}" + ("" if every else "-" + "-".join(r.method for r in rows))
            heading = (
                "Search against random search and references"
                if every
                else "Search, " + ", ".join(r.method for r in rows) + " only"
            )
            body = f"## {heading}: {key}\n\n`{command}`\n\n"
            write_section(section, body + "\n".join(lines))
            if args.ship:
                (tz,) = (r for r in rows if r.method == "tinyzoo")
                where, kept = ship(tz.ref, SHIP[key], store, f"`{command}`\n\n" + "\n".join(lines))
                print(
                    f"shipped {tz.ref} as {where}"
                    if kept is None
                    else f"not shipped: {where} "
                    f"tests better ({100 * kept:.2f} % int8), the zoo's champion rule",
                    flush=True,
                )
            print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main()
