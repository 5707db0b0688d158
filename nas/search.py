"""The Optuna study: sample -> profile -> (reject | proxy-train) -> validation accuracy.

Budgets are hard: a candidate whose analytic profile breaks any budget field is recorded as
an infeasible trial (its constraint values say by how much) and never trained.
"""

from __future__ import annotations

import math
import os
import socket
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nas.boards import BOUNDS, Budget, figures
from nas.errors import TinyzooError
from nas.profile import Profile, profile_for_budget
from searchspaces import ArchSpec, Space
from searchspaces._registry import Geometry

__all__ = [
    "Candidate", "SearchResult", "check_choices", "check_feasible", "check_resume", "run_study",
    "study_attrs",
]  # fmt: skip

OUTCOMES = ("complete", "infeasible", "pruned", "repeat", "failed")
PROCESS = f"{socket.gethostname()}:{os.getpid()}"  # which process ran a trial (several may)


OBJECTIVES = ("accuracy", "latency")  # validation accuracy (maximised), estimated ms (minimised)


@dataclass(frozen=True)
class Candidate:
    spec: ArchSpec
    val_accuracy: float
    trial: int
    latency_ms: float | None = None  # the estimate, when the board has one


@dataclass
class SearchResult:
    study_name: str
    # Feasible, trained, one per architecture, best first: by accuracy; with the latency
    # objective the Pareto front (by accuracy) comes first, then the dominated rest.
    ranked: list[Candidate]
    outcomes: Counter[str] = field(default_factory=Counter)
    wall_s: float = 0.0
    front: list[Candidate] = field(default_factory=list)  # Pareto front (latency objective)


SAMPLERS = ("tpe", "random")


def check_sampler(name: str) -> None:
    if name not in SAMPLERS:
        raise TinyzooError(
            f"--sampler {name!r} is not one of {', '.join(SAMPLERS)}; tpe (the default) learns "
            "from the trials so far, random is a baseline."
        )


def _sampler(name: str, seed: int) -> Any:
    import optuna

    check_sampler(name)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=5)


SEED_MAX = 2**32 - 1  # NumPy's and Keras's seeds are 32-bit


def check_run(
    *,
    trials: int,
    epochs: int | None,
    finalists: int | None,
    seed: int,
    timeout: float | None,
    study_name: str | None,
    task: str | None = None,
    own_data: bool = False,
) -> None:
    """--trials, --epochs, --finalists, --seed, --timeout, --study and, with --data, --task:
    before anything loads (the CLI calls it before TensorFlow does, run_search again).

    The study name is also its journal file's name, and a task given with --data names the
    zoo entries (`<task>-<board>`, `teacher-<task>`): each is one plain name, and the latter
    is never a builtin task's, whose shipped entries were made on the builtin data.
    """
    from nas.data import TASKS
    from zoo._ref import NAME_RE  # what a zoo name may hold

    for flag, n in (("--trials", trials), ("--epochs", epochs), ("--finalists", finalists)):
        if n is not None and n < 1:
            raise TinyzooError(f"{flag} must be at least 1, got {n}.")
    if not 0 <= seed <= SEED_MAX:
        raise TinyzooError(f"--seed must be a whole number from 0 to {SEED_MAX}, got {seed}.")
    if timeout is not None and not (timeout > 0 and math.isfinite(timeout)):
        raise TinyzooError(
            f"--timeout must be a positive number of seconds, got {timeout}; leave it out to "
            "stop after --trials only."
        )
    if study_name is not None and not NAME_RE.fullmatch(study_name):
        raise TinyzooError(
            f"--study {study_name!r} is not a plain name: use letters, digits, '.', '_' and '-' "
            "(starting with a letter or digit), e.g. --study kws-night-run."
        )
    if own_data and task is not None:
        if task.lower() in TASKS or task.lower().startswith("teacher"):
            raise TinyzooError(
                f"--task {task} with --data: {task!r} names the builtin task, whose zoo entries "
                f"were made on its own data. Name your data's task, e.g. --task my-{task}."
            )
        if not NAME_RE.fullmatch(task) or task != task.lower():
            raise TinyzooError(
                f"--task {task!r} with --data names your zoo entries, so it must be a plain "
                "name: lower-case letters, digits, '.', '_' and '-', e.g. --task my-words."
            )


def check_objectives(text: str) -> tuple[str, ...]:
    """`--objectives` as a tuple: "accuracy" or "accuracy,latency"."""
    got = tuple(x.strip() for x in text.split(",") if x.strip())
    if got not in (("accuracy",), ("accuracy", "latency")):
        raise TinyzooError(
            f"--objectives {text!r} is not supported: use accuracy (the default) or "
            "accuracy,latency (a Pareto search; needs --board)."
        )
    return got


def pareto_front(cands: list[Candidate]) -> list[Candidate]:
    """Candidates no other one beats on both accuracy (higher) and latency (lower)."""

    def dominates(a: Candidate, b: Candidate) -> bool:
        assert a.latency_ms is not None and b.latency_ms is not None
        return (
            a.val_accuracy >= b.val_accuracy
            and a.latency_ms <= b.latency_ms
            and (a.val_accuracy > b.val_accuracy or a.latency_ms < b.latency_ms)
        )

    return [c for c in cands if not any(dominates(o, c) for o in cands)]


def check_feasible(space: Space, geometry: Geometry, budget: Budget) -> Profile:
    """Fail before any training when even the space's smallest member breaks the budget."""
    smallest = space.smallest(geometry)
    p = profile_for_budget(smallest, budget)
    reasons = budget.violations(**figures(p))
    if reasons:
        ms = budget.latency_ms(p.macs, len(p.layers))
        est = "" if ms is None else f", an estimated {ms:.2f} ms"
        key, (value, _) = next(
            (k, f) for k, f in budget.bounded(**figures(p)).items() if f[0] > f[1]
        )
        hint = (
            f"--max-latency-ms {value:.2f} or a faster board"
            if key == "latency"
            else f"{BOUNDS[key][0]} {value}"
        )
        extra = (
            f", an activation peak of {p.paper_peak_bytes} B and {p.params} weights"
            if budget.max_peak_bytes is not None or budget.max_weight_bytes is not None
            else ""
        )
        raise TinyzooError(
            f"no architecture in space {space.name!r} fits this budget ({'; '.join(reasons)}). "
            f"The smallest, {smallest}, needs a TFLM arena of {p.arena_bytes} B, {p.tflite_bytes} B of "
            f"flash and {p.macs} MACs{est}{extra}: raise the budget to at least that (e.g. {hint})."
        )
    return p


def study_attrs(storage: Any, study_name: str) -> dict[str, Any] | None:
    """The attributes of the study named `study_name` in `storage`, or None when it has none:
    read without creating it, so that a run can be refused before it trains or prints."""
    try:
        study_id = storage.get_study_id_from_name(study_name)
    except KeyError:
        return None
    return dict(storage.get_study_user_attrs(study_id))


SETTINGS_ATTR = "tinyzoo"  # the study attribute holding what it was started with


def check_resume(
    meta: dict[str, Any] | None,
    study_name: str,
    *,
    space: str,
    budget: Budget,
    sampler: str,
    objectives: tuple[str, ...],
    identity: dict[str, str | None] | None = None,
) -> None:
    """Refuse to go on with a study (its attributes `meta`) that was started with another
    space, budget, sampler or objectives, or another board, task or data: its finished
    trials were scored for something else. `run_study` records these in one attribute, so a
    process joining a study being created never reads half of them; studies from before
    2026-11-29 kept the first four as separate attributes, and the identity not at all."""
    meta = meta or {}
    if SETTINGS_ATTR in meta:
        then = meta[SETTINGS_ATTR]
    elif "space" in meta:  # written by an earlier version, one attribute at a time
        then = {"space": meta["space"], "budget": meta.get("budget"),
                "sampler": meta.get("sampler", "tpe"),
                "objectives": meta.get("objectives", ["accuracy"])}  # fmt: skip
    else:
        return  # a new study, or one whose creator has not yet written its settings
    now = settings_of(space, budget, sampler, objectives, identity)
    for key in now:
        if key in then and then[key] != now[key]:
            what = "--sampler" if key == "sampler" else key
            raise TinyzooError(
                f"study {study_name!r} was started with {what} {then[key]!r}; this run asks for "
                f"{now[key]!r}, and its finished trials were scored for the other. Use another "
                "--study name (or none: the default name follows these settings)."
            )


def settings_of(
    space: str,
    budget: Budget,
    sampler: str,
    objectives: tuple[str, ...],
    identity: dict[str, str | None] | None,
) -> dict[str, Any]:
    """What a study is started with, as its attribute holds it (JSON: lists, not tuples)."""
    return {"space": space, "budget": budget.to_dict(), "sampler": sampler,
            "objectives": list(objectives), **(identity or {})}  # fmt: skip


# trainer(spec, seed, report) -> val accuracy; report(epoch, acc) returns True to stop (prune)
Trainer = Callable[[ArchSpec, int, Callable[[int, float], bool]], float]


def run_study(
    *,
    space: Space,
    geometry: Geometry,
    budget: Budget,
    trainer: Trainer,
    trials: int,
    timeout: float | None,
    seed: int,
    storage: Any,
    study_name: str,
    on_trial: Callable[[Counter[str], Candidate | None], None] | None = None,
    worker: int = 0,
    on_start: Callable[[], None] | None = None,
    on_end: Callable[[], None] | None = None,
    objectives: tuple[str, ...] = ("accuracy",),
    sampler: str = "tpe",
    identity: dict[str, str | None] | None = None,
) -> SearchResult:
    """Run `trials` trials in all (finished ones in `storage` count), then rank what trained.

    Several processes may run this on one study (`--workers`): `worker` numbers them (0 is the
    one that reports; each gets its own sampler seed), the trial count is shared, `on_start`
    runs once the study exists and trials remain, `on_end` before the result is read (to wait
    for the others). `objectives` ("accuracy", "latency") makes it a Pareto search of
    accuracy against the board's latency estimate: no pruning then (Optuna prunes only
    single-objective studies), and the front is ranked first. `sampler` "random" replaces
    TPE by Optuna's RandomSampler (a baseline: bench/search.py); all else stays. `identity`
    (board, task, data fingerprint) is recorded with the study: see `check_resume`.
    """
    import optuna

    multi = "latency" in objectives
    if multi and budget.latency is None:
        raise TinyzooError(
            "--objectives accuracy,latency needs a board with a latency estimate: give --board "
            "NAME (a 32-bit core; see `tinyzoo boards`)."
        )

    # Not WARNING: Optuna would print a traceback for the trial that Ctrl-C stops. A real error
    # propagates (catch=()) and is reported by the caller.
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(
        study_name=study_name,
        storage=storage,
        load_if_exists=True,
        directions=["maximize", "minimize"] if multi else ["maximize"],
        sampler=_sampler(sampler, seed + 1000 * worker),
        # Epoch-0 accuracy is too noisy to judge by; compare from the second epoch on.
        pruner=optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=1),
    )
    check_resume(study.user_attrs, study_name, space=space.name, budget=budget,
                 sampler=sampler, objectives=objectives, identity=identity)  # fmt: skip
    check_choices(storage, study_name, space, geometry)
    if not study.trials and sampler == "tpe" and worker == 0:
        seed_params = _seed_trial(space, geometry, budget)
        if seed_params is not None:  # the first trial: the space's hand design, scaled to fit
            study.enqueue_trial(seed_params)
    if SETTINGS_ATTR not in study.user_attrs:  # one write: the first process's settings
        settings = settings_of(space.name, budget, sampler, objectives, identity)
        study.set_user_attr(SETTINGS_ATTR, settings)

    def counts() -> Counter[str]:
        c: Counter[str] = Counter()
        for t in study.get_trials(deepcopy=False):
            if t.state == optuna.trial.TrialState.PRUNED:
                c["pruned"] += 1
            elif t.state == optuna.trial.TrialState.FAIL:
                c["failed"] += 1
            elif t.state == optuna.trial.TrialState.COMPLETE:
                c[t.user_attrs.get("outcome", "complete")] += 1
        return c

    def objective(trial: optuna.Trial) -> Any:
        spec = space.decode(space.sample(trial, geometry), geometry)
        p = profile_for_budget(spec, budget)
        trial.set_user_attr("arch", str(spec))
        trial.set_user_attr("worker", worker)
        trial.set_user_attr("process", PROCESS)
        for k in ("macs", "params", "activation_bytes", "paper_peak_bytes", "arena_bytes",
                  "tflite_bytes"):  # fmt: skip
            trial.set_user_attr(k, getattr(p, k))
        ms = budget.latency_ms(p.macs, len(p.layers))
        if ms is not None:
            trial.set_user_attr("latency_ms_estimate", round(ms, 3))
        # Constraint values > 0 mean infeasible; TPE learns the feasible region from them.
        # ram, flash and macs are always there (-1: unbounded); the other fields only when
        # bounded, so that studies without them keep their three.
        bounded = budget.bounded(**figures(p))
        excess = {"ram": -1.0, "flash": -1.0, "macs": -1.0}
        excess |= {key: float(value - limit) for key, (value, limit) in bounded.items()}
        for key, value in excess.items():
            trial.set_constraint(key, value)
        reasons = budget.violations(**figures(p))

        def values(acc: float) -> Any:
            return (acc, ms) if multi else acc

        if reasons:
            trial.set_user_attr("outcome", "infeasible")
            trial.set_user_attr("reason", "; ".join(reasons))
            return values(0.0)
        for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
            if t.user_attrs.get("arch") == str(spec) and t.user_attrs.get("outcome") == "complete":
                trial.set_user_attr("outcome", "repeat")  # TPE re-proposed a trained architecture
                return values(float(t.values[0]))

        def report(epoch: int, acc: float) -> bool:
            if multi:
                return False
            trial.report(acc, epoch)
            return trial.should_prune()

        acc = trainer(spec, seed, report)
        if not multi and trial.should_prune():
            trial.set_user_attr("outcome", "pruned")
            raise optuna.TrialPruned()
        trial.set_user_attr("outcome", "complete")
        return values(acc)

    def callback(study: optuna.Study, _: optuna.trial.FrozenTrial) -> None:
        if on_trial is not None:
            ranked = _ranked(study)
            on_trial(counts(), ranked[0] if ranked else None)

    start = time.monotonic()
    waiting = optuna.trial.TrialState.WAITING  # an enqueued seed is still to run
    done = sum(t.state != waiting for t in study.get_trials(deepcopy=False))
    remaining = max(0, trials - done)
    if on_trial is not None:
        ranked = _ranked(study)
        on_trial(counts(), ranked[0] if ranked else None)
    if remaining:
        if on_start is not None:
            on_start()
        # Every worker stops once the study holds `trials` trials, whoever ran them.
        total = optuna.study.MaxTrialsCallback(trials, states=None)
        study.optimize(
            objective, n_trials=remaining, timeout=timeout, callbacks=[callback, total], catch=()
        )
    if on_end is not None:
        on_end()
    ranked = _ranked(study)
    front = pareto_front(ranked) if multi else []
    if multi:
        ranked = front + [c for c in ranked if c not in front]
    return SearchResult(
        study_name=study_name,
        ranked=ranked,
        outcomes=counts(),
        wall_s=time.monotonic() - start,
        front=front,
    )


class _Asked:
    """Stands in for an Optuna trial in `Space.sample`: keeps each distribution asked for and
    answers with the first choice and the lowest integer, or with `high` the highest (the
    most blocks, so that the questions later blocks raise are asked too)."""

    def __init__(self, high: bool = False) -> None:
        self.asked: dict[str, Any] = {}
        self.high = high

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        from optuna.distributions import CategoricalDistribution

        self.asked[name] = CategoricalDistribution(list(choices))
        return list(choices)[0]

    def suggest_int(self, name: str, low: int, high: int, step: int = 1, log: bool = False) -> int:
        from optuna.distributions import IntDistribution

        self.asked[name] = IntDistribution(low, high, log=log, step=step)
        return high if self.high else low


def check_choices(storage: Any, study_name: str, space: Space, geometry: Geometry) -> None:
    """A resumed study's trials drew from the space as it is now: Optuna refuses a parameter
    whose choices changed (a space that gained a width, say) in the middle of `optimize`.
    Read from `storage` without creating the study (nothing to check when there is none)."""
    from optuna.distributions import check_distribution_compatibility

    try:
        study_id = storage.get_study_id_from_name(study_name)
    except KeyError:
        return
    asked: dict[str, Any] = {}
    for high in (False, True):
        probe = _Asked(high)
        space.sample(probe, geometry)
        asked |= probe.asked
    for t in storage.get_all_trials(study_id, deepcopy=False):
        for name, old in t.distributions.items():
            if name in asked:
                try:
                    check_distribution_compatibility(old, asked[name])
                except ValueError:
                    raise TinyzooError(
                        f"study {study_name!r} was started with another version of the "
                        f"{space.name!r} space: its {name!r} drew from {_shown(old)}, the "
                        f"space now from {_shown(asked[name])}. Use another --study name "
                        "(or the tinyzoo version that started it)."
                    ) from None


def _shown(d: Any) -> str:
    choices = getattr(d, "choices", None)
    return str(list(choices)) if choices is not None else str(d)


def _seed_trial(space: Space, geometry: Geometry, budget: Budget) -> dict[str, Any] | None:
    """The first of the space's hand-designed members (`Space.seeds`) that fits."""
    for params in space.seeds(geometry):
        p = profile_for_budget(space.decode(params, geometry), budget)
        if not budget.violations(**figures(p)):
            return params
    return None


def _ranked(study: Any) -> list[Candidate]:
    import optuna

    seen, out = set(), []
    trials = [
        t
        for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        if t.user_attrs.get("outcome") == "complete"
    ]
    for t in sorted(trials, key=lambda t: (-t.values[0], t.number)):
        arch = t.user_attrs["arch"]
        if arch not in seen:
            seen.add(arch)
            ms = t.user_attrs.get("latency_ms_estimate")
            out.append(
                Candidate(
                    ArchSpec.parse(arch), float(t.values[0]), t.number,
                    None if ms is None else float(ms),
                )
            )  # fmt: skip
    return out
