"""search -> final training -> int8 -> TFLM verification -> C sources -> zoo registration."""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from nas.boards import Board, Budget, budget_for, figures, get_board
from nas.compress import Compress, check_options, metrics, report_files, run_chain
from nas.distill import DEFAULT_ALPHA, DEFAULT_TEMPERATURE, check_params
from nas.errors import TinyzooError, from_ctrl_c
from nas.storage import open_storage, redact
from nas.workers import Job, Workers, check_workers, usable_cores

__all__ = ["Interrupted", "Recipe", "RECIPES", "register_bundle", "run_search", "zoo_name"]


@dataclass(frozen=True)
class Distil:
    """How the winner's final training distils: no teacher means plain training."""

    teacher: Any  # nas.teacher.Teacher | None
    temperature: float
    alpha: float

    def describe(self) -> str:
        if self.teacher is None:
            return "no distillation"
        return f"distilled from {self.teacher.entry.ref} (T {self.temperature}, alpha {self.alpha})"


class Interrupted(TinyzooError):
    """Ctrl-C during a search; the message says how to resume."""


@dataclass(frozen=True)
class Recipe:
    """How much training each phase gets (fashion's keeps `make demo` near 20 min on 2 cores)."""

    proxy_samples: int  # training images per proxy trial (stratified subset)
    proxy_epochs: int
    final_epochs: int
    batch_size: int = 128
    finalists: int = 3  # retrained in full, in rank order, until one passes TFLM verification


RECIPES = {
    "fashion": Recipe(proxy_samples=8000, proxy_epochs=4, final_epochs=6),
    "digits": Recipe(proxy_samples=100_000, proxy_epochs=8, final_epochs=60, batch_size=32),
    # 120 final epochs: at 40 the DS-CNN at half the reference's .tflite tests 3 points lower;
    # the reference moves -0.7 (within its spread) (docs/RESULTS.md, kws-frontier-40, -120).
    "kws": Recipe(proxy_samples=100_000, proxy_epochs=8, final_epochs=120, batch_size=64),
}
DEFAULT_RECIPE = Recipe(proxy_samples=5000, proxy_epochs=5, final_epochs=20)


def default_study(
    name: str, space: Any, seed: int, data: Any = None, *, settings: dict[str, Any] | None = None
) -> str:
    """`<zoo name>-<space>-<tag>-s<seed>`, the tag a hash of the space's choices and of
    `settings` (the budget, sampler and objectives, which `run_study` refuses to resume with
    others): after a space changes (dscnn gained stems of 40 and 48 channels), or with a budget
    field overridden, another sampler or other objectives, the same board's command starts its
    own study instead of being refused by the one another command made. Given `data` (a user's
    folder), `-d<hash of its arrays>` follows the tag: the same command on other recordings or
    images starts afresh instead of resuming trials scored on others. Without `settings`: the
    name before 2026-11-29 (the choices alone), which a search still resumes (`_pick_study`)."""
    key = json.dumps(
        space.choices() if settings is None else {"choices": space.choices(), **settings},
        sort_keys=True, default=list,
    )  # fmt: skip
    tag = hashlib.sha1(key.encode()).hexdigest()[:6]
    if data is not None:
        tag += f"-d{data.fingerprint[:6]}"
    return f"{name}-{space.name}-{tag}-s{seed}"


def _pick_study(
    names: list[str], studies: Path, url: str | None, check: Callable[[str, Any], None]
) -> tuple[str, Path, Any]:
    """The study to run: (name, journal, storage or None). The first of `names` that exists
    and passes `check` (which raises a TinyzooError for a study started with other settings:
    for the first name, a named or today's default study, that refusal stands; the later
    names are older default names, skipped then), else the first name, new. The storage is
    None for a journal not yet written."""
    from nas.search import study_attrs

    remote = open_storage(url, studies / f"{names[0]}.log") if url else None
    for i, study in enumerate(names):
        journal = studies / f"{study}.log"
        st = remote if url else open_storage(None, journal) if journal.exists() else None
        if st is None or study_attrs(st, study) is None:
            continue
        try:
            check(study, st)
        except TinyzooError:
            if i == 0:
                raise
            continue
        return study, journal, st
    return names[0], studies / f"{names[0]}.log", remote


def zoo_name(task: str, board: Board | None, budget: Budget) -> str:
    """`<task>-<board>` for a board's budget; without a board `<task>-<N>k`, N the thousands
    of bytes (rounded down) of the RAM budget, else of the activation peak budget (muNAS's
    2,500 B: `digits-2k`); `<task>-custom` for budgets with neither."""
    if board is not None:
        return f"{task}-{board.name}"
    memory = budget.ram_bytes if budget.ram_bytes is not None else budget.max_peak_bytes
    if memory is not None:
        return f"{task}-{max(1, memory // 1000)}k"
    return f"{task}-custom"


def check_prune_reachable(space: Any, geometry: Any, fraction: float) -> None:
    """Refuse, before any training, a --prune that no architecture of the space can reach."""
    from nas.prune import max_fraction, reachable

    largest = space.largest(geometry)
    most = max_fraction(largest, space)
    if not reachable(largest, fraction, space):
        raise TinyzooError(
            f"--prune {fraction:g} cannot be reached in the {space.name} space: even its largest "
            f"member {largest} loses only {100 * most:.1f} % of its MACs at the narrowest channels. "
            f"Use --prune {int(most * 100) / 100:g} or less."
        )


def proxy_trainer(data: Any, recipe: Recipe, seed: int) -> Any:
    """The search's trainer: `recipe.proxy_epochs` on a stratified subset, per resolution."""
    from nas.train import train

    by_res: dict[int, Any] = {}
    proxy = (
        data.subset(recipe.proxy_samples, seed=seed)
        if recipe.proxy_samples < len(data.x_train)
        else data
    )

    def trainer(spec: Any, trial_seed: int, report: Any) -> float:
        r = spec.input_shape[0]
        if r not in by_res:
            by_res[r] = proxy.at_resolution(r)
        d = by_res[r]
        res = train(
            spec,
            d.x_train,
            d.y_train,
            d.x_val,
            d.y_val,
            epochs=recipe.proxy_epochs,
            seed=trial_seed,
            batch_size=recipe.batch_size,
            on_epoch=report,
        )
        return res.val_accuracy

    return trainer


def _studies_dir(tracking_uri: str | None) -> Path:
    from zoo._store import resolve_tracking_uri

    uri = resolve_tracking_uri(tracking_uri)
    if uri.startswith("sqlite:///"):
        return Path(uri[len("sqlite:///") :]).parent / "studies"
    return Path.home() / ".cache" / "tinyzoo" / "studies"


def run_search(
    *,
    board: str | None,
    task: str,
    trials: int = 20,
    timeout: float | None = None,
    max_ram: int | None = None,
    max_flash: int | None = None,
    max_macs: int | None = None,
    max_latency_ms: float | None = None,
    max_peak: int | None = None,
    max_weights: int | None = None,
    seed: int = 0,
    space: str = "dscnn",
    data_dir: Path | None = None,
    tracking_uri: str | None = None,
    study_name: str | None = None,
    recipe: Recipe | None = None,
    epochs: int | None = None,
    finalists: int | None = None,
    teacher: str = "auto",
    temperature: float = DEFAULT_TEMPERATURE,
    alpha: float = DEFAULT_ALPHA,
    compress: Compress | None = None,
    workers: int = 1,
    storage: str | None = None,
    search_only: bool = False,
    objectives: tuple[str, ...] = ("accuracy",),
    sampler: str = "tpe",
    console: Any = None,
) -> Any:
    """Search `task` under the board's budget and register the verified int8 winner.

    `workers` > 1 runs that many search processes against the study's journal file
    (nas/workers.py); the finalists are trained once all of them are done. `storage` (a
    database URL) holds the study instead, for processes on several machines (nas/storage.py);
    `search_only` runs trials and returns None, leaving finalists and registration to the one
    process that runs without it. `objectives` ("accuracy", "latency") makes the search a
    Pareto search against the latency estimate; the front is printed and logged, and its most
    accurate members are the finalists. `finalists` (default: the recipe's, 3) is how many of
    the proxy's best are retrained in full before the winner is chosen.

    The winner's final training distils from `teacher` ("auto": the task's teacher-<task>,
    trained and registered on first use; a zoo name; or "none"), then goes through the
    compression chain `compress` (nas.compress: pruning, PTQ, QAT), each stage measured.

    Returns the registered `zoo.ZooEntry`.
    """
    from rich.console import Console

    from nas.data import load_task
    from nas.data._dataset import AUGMENT_MIN_EPOCHS
    from nas.search import (
        check_choices,
        check_feasible,
        check_resume,
        check_run,
        check_sampler,
        settings_of,
        study_attrs,
    )  # fmt: skip
    from nas.teacher import resolve_teacher
    from searchspaces import get_space

    console = console or Console(stderr=True)
    check_params(temperature, alpha)
    compress = compress or Compress()
    check_options(compress)
    check_workers(workers)
    check_sampler(sampler)
    check_run(
        trials=trials, epochs=epochs, finalists=finalists, seed=seed, timeout=timeout,
        study_name=study_name, task=task, own_data=data_dir is not None,
    )  # fmt: skip
    if "latency" in objectives and not board:
        raise TinyzooError(
            "--objectives accuracy,latency needs --board: the latency is the board's estimate."
        )
    b = get_board(board) if board else None
    budget = budget_for(
        b,
        max_ram=max_ram,
        max_flash=max_flash,
        max_macs=max_macs,
        max_latency_ms=max_latency_ms,
        max_peak=max_peak,
        max_weights=max_weights,
    )
    sp = get_space(space)
    studies = _studies_dir(tracking_uri)  # a bad --tracking-uri fails here, before the data
    data = load_task(task, data_dir=data_dir, seed=seed)
    geometry = data.geometry()
    check_feasible(sp, geometry, budget)  # before any training
    if compress.prune is not None:
        check_prune_reachable(sp, geometry, compress.prune)
    recipe = recipe or RECIPES.get(data.name, DEFAULT_RECIPE)
    if epochs is not None:
        recipe = replace(recipe, final_epochs=epochs)
    if finalists is not None:
        recipe = replace(recipe, finalists=finalists)
    name = zoo_name(data.name, b, budget)
    identity = {"board": b.name if b else None, "task": data.name,
                "data": data.fingerprint if data_dir is not None else None}  # fmt: skip

    def resumable(study: str, st: Any) -> None:  # refuses a study started with other settings
        check_resume(study_attrs(st, study), study, space=sp.name, budget=budget,
                     sampler=sampler, objectives=objectives, identity=identity)  # fmt: skip
        check_choices(st, study, sp, geometry)  # or another version of the space

    if study_name is not None:
        names = [study_name]
    else:
        own = data if data_dir is not None else None
        settings = settings_of(sp.name, budget, sampler, objectives, None)
        names = [default_study(name, sp, seed, own, settings=settings),
                 default_study(name, sp, seed, own)]  # fmt: skip
    # Before any output or teacher: an unreachable server fails here, a study resumed with
    # other settings is refused; a journal is only opened if it exists (a run refused before
    # the search leaves no empty one behind).
    study_name, journal, study_storage = _pick_study(names, studies, storage, resumable)
    where = journal if storage is None else redact(storage)
    # A wrong --teacher fails here, before any output; a missing teacher is trained here.
    distil = Distil(
        teacher=resolve_teacher(
            teacher,
            data=data,
            space=sp,
            # One teacher per data split: builtin tasks' splits are fixed, a folder's follows seed.
            seed=seed if data_dir is not None else 0,
            tracking_uri=tracking_uri,
            console=console,
        ),
        temperature=temperature,
        alpha=alpha,
    )
    study_storage = study_storage or open_storage(None, journal)
    trained_on = data.for_epochs(recipe.final_epochs)  # the teacher keeps its own recipe
    if trained_on is not data:
        console.print(
            f"augmentation {data.augmentation} is off: it pays from "
            f"{AUGMENT_MIN_EPOCHS[data.augmentation]} final epochs, this run has "
            f"{recipe.final_epochs} (--epochs)"
        )
        data = trained_on
    console.print(
        f"[bold]tinyzoo search[/] {name}: task {data.name} ({len(data.x_train)} train / "
        f"{len(data.x_val)} val / {len(data.x_test)} test), space {sp.name}, budget "
        + _budget_text(budget)
    )
    job = Job(
        task=task,
        data_dir=str(data_dir) if data_dir is not None else None,
        data_seed=seed,
        space=sp.name,
        budget=budget,
        recipe=recipe,
        journal=str(journal),
        storage=storage,
        study_name=study_name,
        objectives=objectives,
        sampler=sampler,
        trials=trials,
        timeout=timeout,
        seed=seed,
        threads=max(1, usable_cores() // workers),
    )
    try:
        return _run(
            job=job,
            workers=workers,
            name=name,
            distil=distil,
            compress=compress,
            board=b,
            budget=budget,
            space=sp,
            data=data,
            recipe=recipe,
            trials=trials,
            timeout=timeout,
            seed=seed,
            storage=study_storage,
            remote=storage is not None,
            search_only=search_only,
            objectives=objectives,
            identity=identity,
            study_name=study_name,
            tracking_uri=tracking_uri,
            console=console,
        )
    except (KeyboardInterrupt, OSError) as exc:
        if not from_ctrl_c(exc):
            raise
        raise Interrupted(
            f"search interrupted. Finished trials are kept in study {study_name!r} ({where}), "
            "full trainings beside it (finished ones, and the epochs of the one in progress); "
            "run the same command again to resume, nothing was registered."
        ) from None


def _budget_text(budget: Budget) -> str:
    """The bounds a search keeps to, as its first line shows them (those not set are left out)."""
    bounds = (
        ("RAM", budget.ram_bytes, " B"), ("flash", budget.flash_bytes, " B"),
        ("MACs", budget.max_macs, ""), ("latency", budget.max_latency_ms, " ms (est.)"),
        ("peak", budget.max_peak_bytes, " B"), ("weights", budget.max_weight_bytes, " B"),
    )  # fmt: skip
    return ", ".join(
        f"{k} {f'{v:,}' if isinstance(v, int) else f'{v:g}'}{unit}"
        for k, v, unit in bounds
        if v is not None
    )


def _run(
    *,
    job: Job,
    workers: int,
    name: str,
    distil: Distil,
    compress: Compress,
    board: Board | None,
    budget: Budget,
    space: Any,
    data: Any,
    recipe: Recipe,
    trials: int,
    timeout: float | None,
    seed: int,
    storage: Any,
    remote: bool,
    search_only: bool,
    objectives: tuple[str, ...],
    identity: dict[str, str | None],
    study_name: str,
    tracking_uri: str | None,
    console: Any,
) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from nas.search import run_study

    start = time.monotonic()
    with Progress(
        TextColumn("[bold]search"),
        BarColumn(bar_width=20),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[status]}"),
        console=console,
    ) as progress:
        bar = progress.add_task("search", total=trials, status="starting")
        shown: list[str] = []

        def on_trial(c: Counter[str], best: Any) -> None:
            status = (
                f"trained {c['complete']} · infeasible {c['infeasible']} · pruned {c['pruned']}"
            )
            status += "".join(f" · {k} {c[k]}" for k in ("repeat", "failed") if c[k])  # the rest
            if best is not None:
                status += f" · best {best.val_accuracy:.3f}"
                if str(best.spec) not in shown:  # the architecture gets a line of its own
                    shown.append(str(best.spec))
                    progress.console.print(f"  new best {best.val_accuracy:.3f}  {best.spec}")
            progress.update(bar, completed=min(sum(c.values()), trials), status=status)

        pool = Workers(job, workers) if workers > 1 else None

        def wait_for_workers() -> None:
            if pool is not None:
                progress.update(bar, status=f"waiting for the other {workers - 1} worker(s)")
                pool.join()
            if remote and not search_only:  # processes on other machines may still be training
                _wait_for_running(storage, study_name, lambda n: progress.update(
                    bar, status=f"waiting for {n} trial(s) running elsewhere"))  # fmt: skip

        try:
            result = run_study(
                space=space,
                geometry=data.geometry(),
                budget=budget,
                trainer=proxy_trainer(data, recipe, seed),
                trials=trials,
                timeout=timeout,
                seed=seed,
                storage=storage,
                study_name=study_name,
                on_trial=on_trial,
                on_start=pool.start if pool is not None else None,
                on_end=wait_for_workers,
                objectives=objectives,
                sampler=job.sampler,
                identity=identity,
            )
        except BaseException:
            if pool is not None:
                pool.stop()
            raise
    search_s = time.monotonic() - start
    if result.front:
        console.print(f"[bold]Pareto front[/] ({len(result.front)}): val accuracy vs estimated ms")
        for c in result.front:
            console.print(f"  {c.val_accuracy:.3f}  {c.latency_ms:8.2f} ms  {c.spec}")
    if search_only:
        console.print(
            f"search-only: {sum(result.outcomes.values())} trials in study {study_name!r} "
            f"({dict(result.outcomes)}); the process without --search-only trains and registers "
            "the winner."
        )
        return None
    if not result.ranked:
        raise TinyzooError(
            f"no feasible architecture was trained in {sum(result.outcomes.values())} trials "
            f"({dict(result.outcomes)}). Run more --trials or loosen the budget."
        )
    ranked = result.ranked
    if compress.prune is not None:  # before the hours of full training, not after them
        ranked = prunable(ranked, compress.prune, space, console)
    keep = Path(job.journal).with_suffix(".finals")
    finalists = _full_fidelity(
        ranked[: recipe.finalists], data=data, recipe=recipe, seed=seed, distil=distil,
        console=console, keep=keep,
    )  # fmt: skip
    from nas.train import remove_checkpoints

    chains = []  # the chains' other full training (the labels-only baseline) checkpoints too
    for rank, (cand, full_val, trained, key) in enumerate(finalists, start=1):
        console.print(
            f"[bold]final[/] #{rank} {cand.spec} (full val {full_val:.4f}, proxy val "
            f"{cand.val_accuracy:.3f})"
        )
        chains.append(keep / f"{key}.chain.npz")
        out = _finalise(
            cand.spec, data=data, recipe=recipe, seed=seed, budget=budget, console=console,
            distil=distil, compress=compress, space=space, trained=trained,
            checkpoint=chains[-1],
        )  # fmt: skip
        if out is None:
            continue
        out.update(
            name=name,
            board=board,
            budget=budget,
            space=space.name,
            seed=seed,
            search_s=search_s,
            result=result,
            total_s=time.monotonic() - start,
            trials=trials,
            recipe=recipe,
            proxy_val=cand.val_accuracy,
            full_val=full_val,
            finalists=len(finalists),
            rank=rank,
            distil=distil,
            compress=compress,
        )
        entry = _register(out, tracking_uri=tracking_uri, console=console)
        _log_trials(entry, storage, study_name, tracking_uri, console)
        remove_checkpoints(*chains)  # the search is decided: the baselines' are done with
        return entry
    remove_checkpoints(*chains)
    raise TinyzooError(
        f"none of the top {recipe.finalists} architectures fits once measured on TFLM; "
        "nothing was registered. Loosen the budget or run more --trials."
    )


def prunable(ranked: list[Any], fraction: float, space: Any, console: Any) -> list[Any]:
    """The candidates of `ranked` that channel pruning can take `fraction` of the MACs from
    (`check_prune_reachable` judged by the space's largest member, a search may train only
    smaller ones); a TinyzooError when none can, before any of them is trained in full."""
    from nas.prune import max_fraction, reachable

    ok = [c for c in ranked if reachable(c.spec, fraction, space)]
    if not ok:
        most = max(max_fraction(c.spec, space) for c in ranked)
        best = math.floor(most * 100) / 100
        instead = f"--prune {best:g} or less" if best > 0 else "no --prune"
        raise TinyzooError(
            f"--prune {fraction:g} cannot be reached by any of the {len(ranked)} architectures "
            f"the search trained: channel pruning removes at most {100 * most:.1f} "
            f"% of one's MACs. Nothing was registered; use {instead} (the finished trials are "
            "kept: the same command with that resumes the study)."
        )
    if len(ok) < len(ranked):
        console.print(
            f"{len(ranked) - len(ok)} of {len(ranked)} trained architectures cannot lose "
            f"{100 * fraction:g} % of their MACs to --prune; the finalists come from the rest"
        )
    return ok


def _full_fidelity(
    finalists: list[Any],
    *,
    data: Any,
    recipe: Recipe,
    seed: int,
    distil: Distil,
    console: Any,
    keep: Path | None = None,
) -> list[tuple[Any, float, tuple[Any, float], str]]:
    """Multi-fidelity: the proxy's top k retrained in full (the final recipe, distilled when
    there is a teacher), best validation accuracy first: (candidate, full validation accuracy,
    (model, seconds), key). Each model is kept for the chain; the key names its files in `keep`.

    With `keep` (a folder beside the study's journal) each finished full training is saved
    there, and a run of the same study that finds one with the same key reuses it; the one in
    progress leaves a checkpoint after each epoch there (nas.train), which the next run goes
    on from: Ctrl-C during the finalists' hours loses at most the epoch in progress.
    """
    from nas.train import progress, remove_checkpoints, train

    out, teach = [], None  # the teacher's logits: computed once, when a finalist trains
    for i, cand in enumerate(finalists, start=1):
        d = data.at_resolution(cand.spec.input_shape[0])
        key = _final_key(cand.spec, d, recipe=recipe, seed=seed, distil=distil)
        kept = None if keep is None else _load_final(keep, key, cand.spec)
        if kept is not None:
            model, val, seconds = kept
            console.print(
                f"  full training {i}/{len(finalists)}: val {val:.4f}, finished in an earlier "
                f"run ({seconds:.0f} s), reused from {keep} · {cand.spec}"
            )
            out.append((cand, val, (model, seconds), key))
            continue
        if teach is None:
            teach = (
                {"teacher_logits": distil.teacher.logits(data), "temperature": distil.temperature,
                 "alpha": distil.alpha}
                if distil.teacher is not None else {}
            )  # fmt: skip
        ck = None if keep is None else keep / f"{key}.epoch.npz"
        t0 = time.monotonic()
        text = f"full training {i}/{len(finalists)}: {cand.spec}"
        with console.status(f"{text}, {recipe.final_epochs} epochs") as status:
            res = train(
                cand.spec, d.x_train, d.y_train, d.x_val, d.y_val, epochs=recipe.final_epochs,
                seed=seed, batch_size=recipe.batch_size, augment=d.augment, checkpoint=ck,
                on_epoch=progress(status, text, recipe.final_epochs), **teach,
            )  # fmt: skip
        seconds = time.monotonic() - t0 + res.earlier_seconds
        went_on = (
            f" (went on from epoch {res.resumed_epochs} of an interrupted run, {ck})"
            if res.resumed_epochs else ""
        )  # fmt: skip
        console.print(
            f"  full training {i}/{len(finalists)}: val {res.val_accuracy:.4f} (proxy "
            f"{cand.val_accuracy:.3f}) · {seconds:.0f} s · {cand.spec}{went_on}"
        )
        if keep is not None and ck is not None:
            _save_final(keep, key, cand.spec, res.model, float(res.val_accuracy), seconds)
            remove_checkpoints(ck)  # kept whole now
        out.append((cand, float(res.val_accuracy), (res.model, seconds), key))
    return sorted(out, key=lambda c: -c[1])


def _final_key(spec: Any, d: Any, *, recipe: Recipe, seed: int, distil: Distil) -> str:
    """Everything a full training's result depends on: the architecture, the recipe, the
    seed, the teacher (by its weights' checksum) and the data (by content)."""
    import hashlib

    from nas.teacher import KERAS_FILE

    h = hashlib.sha256()
    for a in (d.x_train, d.y_train, d.x_val, d.y_val):
        h.update(a.tobytes())
    teacher = distil.teacher
    return hashlib.sha256(
        json.dumps(
            {
                "spec": str(spec),
                "epochs": recipe.final_epochs,
                "batch_size": recipe.batch_size,
                "seed": seed,
                "augmentation": d.augmentation,
                "data": h.hexdigest(),
                "teacher": None if teacher is None else teacher.entry.sha256[KERAS_FILE],
                "temperature": None if teacher is None else distil.temperature,
                "alpha": None if teacher is None else distil.alpha,
            },
            sort_keys=True,
        ).encode()
    ).hexdigest()[:16]


def _save_final(keep: Path, key: str, spec: Any, model: Any, val: float, seconds: float) -> None:
    """The weights, then the record that names them: a record on disk means a whole file."""
    from searchspaces._build import save_weights

    keep.mkdir(parents=True, exist_ok=True)
    part = keep / f"{key}.part.weights.h5"
    save_weights(spec, model, part)
    part.replace(keep / f"{key}.weights.h5")
    record = keep / f"{key}.part.json"
    record.write_text(
        json.dumps({"spec": str(spec), "val_accuracy": val, "seconds": seconds}), encoding="utf-8"
    )
    record.replace(keep / f"{key}.json")


def _load_final(keep: Path, key: str, spec: Any) -> tuple[Any, float, float] | None:
    """A kept full training, or None when there is none (or only part of one)."""
    from searchspaces._build import load_weights

    record, weights = keep / f"{key}.json", keep / f"{key}.weights.h5"
    if not (record.exists() and weights.exists()):
        return None
    meta = json.loads(record.read_text(encoding="utf-8"))
    return load_weights(spec, weights), float(meta["val_accuracy"]), float(meta["seconds"])


def _finalise(
    spec: Any,
    *,
    data: Any,
    recipe: Recipe,
    seed: int,
    budget: Budget,
    console: Any,
    distil: Distil,
    compress: Compress,
    space: Any,
    trained: tuple[Any, float] | None = None,
    checkpoint: Path | None = None,
) -> dict[str, Any] | None:
    from nas.profile import profile_spec, profile_tflite

    d = data.at_resolution(spec.input_shape[0])
    logits = distil.teacher.logits(data) if distil.teacher is not None else None
    out = run_chain(
        spec, d=d, recipe=recipe, seed=seed, distil=distil, logits=logits, options=compress,
        space=space, console=console, trained=trained, checkpoint=checkpoint,
    )  # fmt: skip
    spec, tflite, v = out.spec, out.tflite, out.verification
    measured = profile_tflite(tflite)
    predicted = profile_spec(spec)
    arena = v.arena
    ops = len(measured.layers)
    reasons = budget.violations(**figures(measured, arena_bytes=arena))
    ms = budget.latency_ms(measured.macs, ops)
    console.print(
        f"  int8 test {v.int8_accuracy:.4f} (float {out.float_test:.4f}) · TFLM arena {arena} B "
        f"(predicted before training {predicted.arena_bytes} B; activations {v.head_bytes} B) · "
        f"tflite {len(tflite)} B" + ("" if ms is None else f" · ~{ms:.1f} ms (estimate)")
    )
    if reasons:
        console.print(
            f"  [yellow]breaks the budget once measured: {'; '.join(reasons)}; next candidate[/]"
        )
        return None
    return {
        "spec": spec,
        "tflite": tflite,
        "verification": v,
        "profile": measured,
        "predicted": predicted,
        "arena": arena,
        "float_acc": out.float_test,
        "val_acc": out.float_val,
        "stages": out.stages,
        "data": d,
    }


def _wait_for_running(storage: Any, study_name: str, show: Any, poll_s: float = 5.0) -> None:
    """Block while trials of the study run in other processes; dead ones are failed by
    Optuna's heartbeat (nas/storage.py GRACE_S), so this ends."""
    import optuna

    study = optuna.load_study(study_name=study_name, storage=storage)
    while True:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Optuna marks it experimental
            optuna.storages.fail_stale_trials(study)
        running = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
        if not running:
            return
        show(len(running))
        time.sleep(poll_s)


def _log_trials(
    entry: Any, storage: Any, study_name: str, tracking_uri: str | None, console: Any
) -> None:
    """The search's trials as nested runs of the winner's run (nas/tracking.py)."""
    import optuna

    from nas.tracking import log_search
    from zoo._store import make_client

    study = optuna.load_study(study_name=study_name, storage=storage)
    with console.status("logging the search's trials to MLflow"):
        n = log_search(make_client(tracking_uri), entry.run_id, study)
    console.print(f"  {n} trials logged as nested runs of MLflow run {entry.run_id}")


def _register(out: dict[str, Any], *, tracking_uri: str | None, console: Any) -> Any:
    from nas.data import own_fingerprint
    from nas.huffman import weight_sizes
    from zoo._entry import DATA_TAG

    v, prof, spec, d = out["verification"], out["profile"], out["spec"], out["data"]
    board: Board | None = out["board"]
    flash_reserved = board.flash_reserved if board else 0
    result = out["result"]
    weights = weight_sizes(out["tflite"])
    budget: Budget = out["budget"]
    latency = budget.latency_ms(prof.macs, len(prof.layers))
    entry = {
        "name": out["name"],
        "task": d.name,
        "board": board.name if board else None,
        "space": out["space"],
        "arch": str(spec),
        "seed": out["seed"],
        "labels": list(d.labels),
        "input_shape": list(spec.input_shape),
        "preprocessing": d.preprocessing(spec.input_shape[0]),
        "input_quant": {"scale": v.input_scale, "zero_point": v.input_zero_point},
        "output_quant": {"scale": v.output_scale, "zero_point": v.output_zero_point},
        "budget": budget.to_dict(),
        "latency": None if budget.latency is None else budget.latency.to_dict(),
        "source": "search",
        "metrics": {
            "int8_accuracy": v.int8_accuracy,
            "float_accuracy": out["float_acc"],
            "val_accuracy": out["val_acc"],
            "proxy_val_accuracy": out["proxy_val"],
            "full_val_accuracy": out["full_val"],  # the full-fidelity retraining's best epoch
            "finalists_retrained": out["finalists"],
            "arena_bytes": out["arena"],
            "activation_bytes": v.head_bytes,
            "persistent_bytes": v.tail_bytes,
            "predicted_activation_bytes": out["predicted"].activation_bytes,
            "predicted_arena_bytes": out["predicted"].arena_bytes,
            "tflite_bytes": prof.tflite_bytes,
            "flash_bytes": prof.flash_bytes(flash_reserved),
            "weights_int8_bytes": weights.int8_bytes,
            "weights_huffman_bytes": weights.huffman_bytes,
            "macs": prof.macs,
            "params": prof.params,
            "search_wall_s": round(out["search_s"], 1),
            "total_wall_s": round(out["total_s"], 1),
            "trials_complete": result.outcomes["complete"],
            "trials_infeasible": result.outcomes["infeasible"],
            "trials_pruned": result.outcomes["pruned"],
            "trials_repeat": result.outcomes["repeat"],
            "test_samples": v.n_eval,
            **({} if latency is None else {"latency_ms_estimate": round(latency, 3)}),
            **metrics(out["stages"]),
        },
        "params": {
            "study": result.study_name,
            "trials": out["trials"],
            "finalist_rank": out["rank"],
            "final_epochs": out["recipe"].final_epochs,
            "augmentation": d.augmentation,  # of full trainings (nas.data AUGMENTATIONS)
            "proxy_samples": out["recipe"].proxy_samples,
            "proxy_epochs": out["recipe"].proxy_epochs,
            "teacher": out["distil"].teacher.entry.ref if out["distil"].teacher else "none",
            "temperature": out["distil"].temperature,
            "alpha": out["distil"].alpha,
            "prune": out["compress"].prune or 0,
            "qat": "forced" if out["compress"].qat else f"auto > {out['compress'].qat_threshold}",
            "compression": " > ".join(st.key for st in out["stages"]),
            # a user's folder: what the accuracy was measured on (the champion compares
            # only versions on the same data; zoo._registry)
            **({} if (own := own_fingerprint(d)) is None else {DATA_TAG: own}),
        },
        "compression": [st.to_dict() for st in out["stages"]],
    }
    return register_bundle(
        entry, out["tflite"], v, prof, arena=out["arena"], tracking_uri=tracking_uri,
        console=console,
        extra_files=report_files(entry["compression"]),
    )  # fmt: skip


def register_bundle(
    entry: dict[str, Any],
    tflite: bytes,
    v: Any,
    prof: Any,
    *,
    arena: int,
    tracking_uri: str | None,
    console: Any,
    extra_files: dict[str, bytes] | None = None,
) -> Any:
    """Write the bundle (model, C sources, profile, entry, card, extras) and register it."""
    import zoo
    from nas.card import model_card
    from nas.codegen import write_c_sources

    bundle = Path(tempfile.mkdtemp(prefix="tinyzoo-bundle-"))
    try:
        (bundle / "model.tflite").write_bytes(tflite)
        write_c_sources(tflite, bundle, arena_bytes=arena, labels=entry["labels"])
        (bundle / "profile.json").write_text(
            json.dumps(
                {
                    **prof.to_dict(),
                    "measured": {  # on the TFLM runtime, beside the prediction above
                        "arena_bytes": arena,
                        "min_arena_bytes": v.arena_bytes,
                        "recorded_total_bytes": v.recorded_total,
                        "head_bytes": v.head_bytes,
                        "tail_bytes": v.tail_bytes,
                    },
                },
                indent=2,
            )
        )
        (bundle / "entry.json").write_text(json.dumps(entry, indent=2))
        (bundle / "README.md").write_text(model_card(entry, prof))
        for fname, data in (extra_files or {}).items():
            (bundle / fname).write_bytes(data)
        with console.status("registering in the zoo"):
            return zoo.register(bundle, tracking_uri=tracking_uri)
    finally:
        shutil.rmtree(bundle, ignore_errors=True)
