"""`--workers N`: N - 1 more search processes on this machine, sharing the study's journal file.

Each worker is a fresh Python process (spawned, not forked: TensorFlow's threads do not survive
a fork) that loads the same data, opens the same Optuna study through the journal file (which
locks) and runs trials until the study holds the requested number (at most N - 1 more, those
already running when the count is reached). Each extra worker gets cores / N TensorFlow threads;
the calling process, worker 0, keeps TensorFlow's default (its TensorFlow may be running
already). It reports progress and, once every worker has finished, trains the finalists. A
worker whose main process dies stops as if interrupted.

Ctrl-C reaches every process of the terminal's group; a worker that is interrupted ends its
trial (Optuna records it as failed) and exits with 130, as the main process does.
"""

from __future__ import annotations

import os
import signal
import sys
from dataclasses import dataclass
from typing import Any

from nas.boards import Budget
from nas.errors import TinyzooError, catch_interrupts, from_ctrl_c

__all__ = ["Job", "Workers", "check_workers"]


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity, where the system has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def check_workers(n: int) -> None:
    """1 to the CPU cores: each worker is a process with cores / N TensorFlow threads."""
    cores = usable_cores()
    if not 1 <= n <= cores:
        raise TinyzooError(
            f"--workers must be from 1 (the search process itself) to {cores} (this machine's "
            f"CPU cores; each worker is one process), got {n}. For more, run --search-only "
            "processes on other machines against one --storage."
        )


@dataclass(frozen=True)
class Job:
    """Everything a worker needs to rebuild the search (all plain, picklable data)."""

    task: str
    data_dir: str | None
    data_seed: int
    space: str
    budget: Budget
    recipe: Any  # nas.pipeline.Recipe
    journal: str
    storage: str | None  # a database URL (nas/storage.py), else the journal file
    study_name: str
    objectives: tuple[str, ...]
    sampler: str  # "tpe" or "random" (nas.search.SAMPLERS)
    trials: int
    timeout: float | None
    seed: int
    threads: int  # TensorFlow intra-op threads for this worker


def _watch_parent() -> None:
    """Interrupt this worker, as Ctrl-C would, if the main process dies (SIGKILL, a crash).

    With SIGTERM: a search started from a script as `cmd &` gives its workers SIGINT ignored."""
    import threading
    import time

    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(2.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="tinyzoo-parent-watch", daemon=True).start()


def _work(job: Job, index: int) -> None:
    """A worker process's body (module level: spawn pickles it by name)."""
    _watch_parent()
    # `kill` of the process group (timeout, systemd) stops a worker as Ctrl-C does: its trial
    # is recorded as failed, not left RUNNING, which a resumed study would count as done.
    catch_interrupts(signal.SIGINT, signal.SIGTERM)
    try:
        from nas._quiet import quiet_tensorflow

        quiet_tensorflow()
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(job.threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        from pathlib import Path

        from nas.data import load_task
        from nas.pipeline import proxy_trainer
        from nas.search import run_study
        from nas.storage import open_storage
        from searchspaces import get_space

        data = load_task(
            job.task, data_dir=Path(job.data_dir) if job.data_dir else None, seed=job.data_seed
        )
        run_study(
            space=get_space(job.space),
            geometry=data.geometry(),
            budget=job.budget,
            trainer=proxy_trainer(data, job.recipe, job.seed),
            trials=job.trials,
            timeout=job.timeout,
            seed=job.seed,
            storage=open_storage(job.storage, Path(job.journal)),
            study_name=job.study_name,
            worker=index,
            objectives=job.objectives,
            sampler=job.sampler,
        )
    except (KeyboardInterrupt, OSError) as exc:
        if not from_ctrl_c(exc):
            raise
        sys.exit(130)


class Workers:
    """Workers 1..n-1 of a search; `start` once the study exists, `join` before ranking."""

    def __init__(self, job: Job, n: int) -> None:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        self.procs = [
            ctx.Process(target=_work, args=(job, i), name=f"tinyzoo-worker-{i}")
            for i in range(1, n)
        ]
        self.started = False

    def start(self) -> None:
        self.started = True
        for p in self.procs:
            p.start()

    def join(self) -> None:
        """Wait for every worker; a worker that failed is an error, an interrupted one too."""
        if not self.started:
            return
        for p in self.procs:
            p.join()
        codes = [p.exitcode for p in self.procs]
        if any(c in (130, -signal.SIGINT, -signal.SIGTERM) for c in codes):
            raise KeyboardInterrupt
        bad = [(p.name, c) for p, c in zip(self.procs, codes, strict=True) if c != 0]
        if bad:
            raise TinyzooError(
                f"search worker {bad[0][0]} failed (exit code {bad[0][1]}; its traceback is "
                "above). Finished trials are kept: rerun the same command to resume."
            )

    def stop(self) -> None:
        """End every live worker (after Ctrl-C or an error in the main one); never raises.

        A terminal's Ctrl-C has reached the workers already: they get a few seconds to record
        their trial and exit before a SIGTERM of their own (the main process alone was
        interrupted, or it failed; SIGTERM, which a worker takes as Ctrl-C, since SIGINT may
        be ignored), then a minute before SIGKILL.
        """
        if not self.started:
            return
        for p in self.procs:
            p.join(timeout=5)
        for p in self.procs:
            if p.is_alive():
                p.terminate()
        for p in self.procs:
            p.join(timeout=60)
            if p.is_alive():
                p.kill()
                p.join()
