"""End to end on the real stack: search -> train -> int8 -> TFLM -> C -> MLflow zoo -> pull."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import sigint_default

from nas.pipeline import Recipe, run_search

FAST = Recipe(proxy_samples=100_000, proxy_epochs=3, final_epochs=15, batch_size=32)


@pytest.mark.slow
def test_search_registers_a_verified_model_that_pulls(tracking_uri: str, tmp_path: Path) -> None:
    import zoo
    from nas.compress import Compress
    from nas.distill import DEFAULT_ALPHA, DEFAULT_TEMPERATURE

    entry = run_search(
        board="l010", task="digits", trials=4, seed=0, recipe=FAST, tracking_uri=tracking_uri,
        compress=Compress(prune=0.3, qat=True),
    )  # fmt: skip
    assert entry.name == "digits-l010"
    budget_ram = 20 * 1024 - 5 * 1024
    assert 0 < entry.arena_bytes <= budget_ram
    assert entry.int8_accuracy > 0.8
    # Distilled from the digits teacher, trained and registered on first use.
    from zoo._store import make_client

    run = make_client(tracking_uri).get_run(entry.run_id).data
    params = run.params
    assert params["augmentation"] == "none"  # digits: a mirrored digit is another symbol
    assert (params["teacher"], params["temperature"], params["alpha"]) == (
        "teacher-digits/1",
        str(DEFAULT_TEMPERATURE),
        str(DEFAULT_ALPHA),
    )
    # Every compression stage is in MLflow, and the registered one is the pruned architecture.
    assert params["compression"] == "student > distilled > pruned > ptq > qat"
    for stage in ("student", "distilled", "pruned", "ptq", "qat"):
        assert 0 < run.metrics[f"stage/{stage}/test_accuracy"] <= 1
    assert run.metrics["stage/pruned/macs"] <= 0.7 * run.metrics["stage/distilled/macs"]
    assert run.metrics["stage/pruned/macs"] == entry.macs
    # Multi-fidelity: the top 3 retrained in full; the winner's full training is its distilled
    # stage, not trained again.
    assert run.metrics["finalists_retrained"] == min(3, run.metrics["trials_complete"])
    assert run.metrics["full_val_accuracy"] == pytest.approx(
        run.metrics["stage/distilled/val_accuracy"], abs=1e-6
    )

    out = zoo.pull(f"{entry.name}/{entry.version}", tmp_path / "pulled", tracking_uri=tracking_uri)
    names = {p.name for p in out.iterdir()}
    assert {
        "model.tflite",
        "model_data.h",
        "model_data.cc",
        "main.cc",
        "profile.json",
        "README.md",
        "compression.json",
        "compression.md",
    } <= names
    card = (out / "README.md").read_text()
    assert "## Compression" in card and "int8 QAT" in card and "(registered)" in card
    tflite = (out / "model.tflite").read_bytes()
    assert len(tflite) == entry.tflite_bytes

    # Every figure in the zoo is re-measurable on the pulled artefact.
    from nas.profile import profile_tflite
    from nas.quantize import verify

    v = verify(tflite)
    assert max(v.arena_bytes, v.recorded_total) == entry.arena_bytes
    assert profile_tflite(tflite).activation_bytes == v.head_bytes == entry.activation_bytes
    assert f"kTensorArenaSize = {entry.arena_bytes};" in (out / "model_data.h").read_text()
    labels = "".join(f'    "{label}",\n' for label in entry.labels)  # class names in C
    assert f"kLabels[] = {{\n{labels}}};" in (out / "model_data.cc").read_text()
    assert "kLabels[best]" in (out / "main.cc").read_text()
    profile = json.loads((out / "profile.json").read_text())
    assert profile["macs"] == entry.macs and profile["layers"]
    # The latency estimate of the registered (pruned) model on its board, labelled as such.
    from nas.boards import budget_for, get_board

    ms = budget_for(get_board("l010")).latency_ms(entry.macs, len(profile["layers"]))
    assert entry.latency_ms_estimate == pytest.approx(ms, abs=1e-3)
    assert "ESTIMATE, not a measurement" in card

    # The search is in MLflow: each trial a nested run of the winner's run, the plots beside.
    client = make_client(tracking_uri)
    exp = client.get_run(entry.run_id).info.experiment_id
    trials = client.search_runs(
        [exp], filter_string=f"tags.mlflow.parentRunId = '{entry.run_id}'", max_results=100
    )
    assert len(trials) == 4
    for t in trials:
        assert t.data.tags["outcome"] in ("complete", "infeasible", "pruned", "repeat")
        assert t.data.tags["arch"].startswith("r8x8x1_") and t.data.params
        assert t.data.metrics["macs"] > 0 and t.data.metrics["latency_ms_estimate"] > 0
    assert any(t.data.metrics.get("proxy_val_accuracy", 0) > 0.5 for t in trials)
    plots = [a.path for a in client.list_artifacts(entry.run_id, "search")]
    assert "search/history.png" in plots


def _journal_ops(studies: Path) -> Iterator[tuple[tuple[str, Any], dict[str, Any]]]:
    """Each operation written so far to the study journals under `studies`, with its trial's
    key (journal, trial id); a line still being written is skipped."""
    for log in studies.glob("*.log") if studies.exists() else []:
        for line in log.read_text().splitlines():
            try:
                op = json.loads(line)
            except ValueError:
                continue
            yield (log.name, op.get("trial_id")), op


def _trained_trials(studies: Path) -> int:
    """Trials the journal records as finished (state COMPLETE) after training to the end.

    The objective sets the user attribute outcome=complete before Optuna writes the state, so
    both are needed: a signal between the two must not count as a finished trial.
    """
    import optuna

    complete, trained = set(), set()
    for key, op in _journal_ops(studies):
        if (op.get("user_attr") or {}).get("outcome") == "complete":
            trained.add(key)
        if op.get("state") == optuna.trial.TrialState.COMPLETE.value and "trial_id" in op:
            complete.add(key)
    return len(trained & complete)


def _training(studies: Path, worker: int) -> bool:
    """Whether a trial of search worker `worker` has reported an epoch and not yet ended."""
    import optuna

    ended = {s.value for s in optuna.trial.TrialState if s.is_finished()}
    mine, reporting, done = set(), set(), set()
    for key, op in _journal_ops(studies):
        if (op.get("user_attr") or {}).get("worker") == worker:
            mine.add(key)
        if "intermediate_value" in op:
            reporting.add(key)
        if op.get("state") in ended:
            done.add(key)
    return bool((mine & reporting) - done)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "kill"])
def test_ctrl_c_or_kill_keeps_the_study_and_says_how_to_resume(
    tracking_uri: str, tmp_path: Path, sig: signal.Signals
) -> None:
    env = {**os.environ, "TINYZOO_TRACKING_URI": tracking_uri}
    cmd = [
        sys.executable,
        "-m",
        "zoo.cli",
        "search",
        "--board",
        "l010",
        "--task",
        "digits",
        "--trials",
        "200",
        "--teacher",
        "none",
    ]
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=sigint_default,
    )  # fmt: skip
    studies = Path(tracking_uri.removeprefix("sqlite:///")).parent / "studies"
    deadline = time.monotonic() + 300
    while not _trained_trials(studies):  # wait until a trained trial is stored
        assert proc.poll() is None and time.monotonic() < deadline, "no trial finished"
        time.sleep(0.5)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    last = err.strip().splitlines()[-1]
    assert "interrupted" in last and "run the same command again to resume" in last

    import optuna
    from optuna.storages.journal import JournalFileBackend

    log = next(studies.glob("*.log"))
    storage = optuna.storages.JournalStorage(JournalFileBackend(str(log)))
    study = optuna.load_study(study_name=log.stem, storage=storage)
    assert any(
        t.state == optuna.trial.TrialState.COMPLETE and t.user_attrs["outcome"] == "complete"
        for t in study.trials
    )

    import zoo

    assert [e for e in zoo.list_models(tracking_uri=tracking_uri) if e.name == "digits-l010"] == []


def _ignore_sigint_in_own_group() -> None:
    """`preexec_fn`: a search started as `cmd &` from a script (SIGINT ignored), in a process
    group of its own so that the test can find its workers."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.setpgrp()


@pytest.mark.slow
def test_workers_stop_when_the_main_process_dies(tracking_uri: str) -> None:
    # The workers' parent watch stops them with SIGTERM: with SIGINT they would keep running
    # trials here; a stopped worker records its trial as failed, not RUNNING.
    env = {**os.environ, "TINYZOO_TRACKING_URI": tracking_uri}
    cmd = [sys.executable, "-m", "zoo.cli", "search", "--board", "l010", "--task", "digits",
           "--trials", "200", "--teacher", "none", "--workers", "2"]  # fmt: skip
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        preexec_fn=_ignore_sigint_in_own_group,
    )  # fmt: skip
    studies = Path(tracking_uri.removeprefix("sqlite:///")).parent / "studies"

    def group() -> list[str]:  # the spawned workers in the search's process group
        ps = subprocess.run(["ps", "-eww", "-o", "pgid=,args="], capture_output=True, text=True)
        return [line for line in ps.stdout.splitlines()
                if line.split()[0] == str(proc.pid) and "spawn_main" in line]  # fmt: skip

    try:
        deadline = time.monotonic() + 300
        # a trial is stored, and the spawned worker (1) is inside one, training
        while not (_trained_trials(studies) and group() and _training(studies, worker=1)):
            assert proc.poll() is None and time.monotonic() < deadline, "no trial or no worker"
            time.sleep(0.5)
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 120
        while group():
            assert time.monotonic() < deadline, f"workers outlived their parent: {group()}"
            time.sleep(0.5)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # whatever is left, when the test failed

    import optuna
    from optuna.storages.journal import JournalFileBackend

    log = next(studies.glob("*.log"))
    storage = optuna.storages.JournalStorage(JournalFileBackend(str(log)))
    states = [t.state for t in optuna.load_study(study_name=log.stem, storage=storage).trials]
    # The killed main process leaves its own trial RUNNING (SIGKILL); the worker's is not.
    assert states.count(optuna.trial.TrialState.RUNNING) <= 1, states
    assert optuna.trial.TrialState.FAIL in states, states


@pytest.mark.slow
def test_two_workers_share_one_study_and_its_trial_count(tracking_uri: str) -> None:
    import optuna
    from optuna.storages.journal import JournalFileBackend

    # Long enough (10 trials of 3 epochs) that worker 1 is up before worker 0 alone is done.
    recipe = Recipe(proxy_samples=100_000, proxy_epochs=3, final_epochs=2, batch_size=64)
    entry = run_search(
        board="l010", task="digits", trials=10, seed=0, recipe=recipe, tracking_uri=tracking_uri,
        teacher="none", workers=2, study_name="two-workers",
    )  # fmt: skip
    log = Path(tracking_uri.removeprefix("sqlite:///")).parent / "studies" / "two-workers.log"
    storage = optuna.storages.JournalStorage(JournalFileBackend(str(log)))
    study = optuna.load_study(study_name="two-workers", storage=storage)
    # Both processes ran trials; together they stop at the count asked for (one trial each may
    # already be running when the other reaches it).
    assert {t.user_attrs["worker"] for t in study.trials} == {0, 1}
    assert 10 <= len(study.trials) <= 11
    assert all(t.state != optuna.trial.TrialState.RUNNING for t in study.trials)
    assert entry.arch in {t.user_attrs["arch"] for t in study.trials}
    finals = log.parent / "two-workers.finals"
    assert list(finals.glob("*.json")) and not list(finals.glob("*.npz*"))  # no checkpoint left

    # The same command again: no trial reruns, and the finalists' full trainings are reused.
    import io

    from rich.console import Console

    said = io.StringIO()
    again = run_search(
        board="l010", task="digits", trials=10, seed=0, recipe=recipe, tracking_uri=tracking_uri,
        teacher="none", study_name="two-workers", console=Console(file=said, width=300),
    )  # fmt: skip
    assert len(optuna.load_study(study_name="two-workers", storage=storage).trials) == len(
        study.trials
    )
    kept = len(list(finals.glob("*.json")))
    assert 1 <= kept <= 3 and said.getvalue().count("finished in an earlier run") == kept
    assert (again.arch, again.int8_accuracy, again.version) == (
        entry.arch, entry.int8_accuracy, entry.version + 1,
    )  # fmt: skip

    # --finalists 1: only the proxy's best is retrained in full (here, found kept) and wins.
    assert kept >= 2  # the pruner spares the first 4 complete trials: 3 finalists were trained
    said = io.StringIO()
    top = run_search(
        board="l010", task="digits", trials=10, seed=0, recipe=recipe, tracking_uri=tracking_uri,
        teacher="none", study_name="two-workers", finalists=1,
        console=Console(file=said, width=300),
    )  # fmt: skip
    assert "full training 1/1" in said.getvalue() and "full training 2/" not in said.getvalue()
    best = max((t for t in study.trials if t.value is not None), key=lambda t: t.value)
    assert top.arch == best.user_attrs["arch"] and top.version == entry.version + 2


def test_a_finished_full_training_is_kept_and_reused(tmp_path: Path) -> None:
    import io

    import numpy as np
    from rich.console import Console

    from nas.data import load_task
    from nas.pipeline import Distil, _full_fidelity
    from nas.search import Candidate
    from searchspaces import ArchSpec

    data = load_task("digits")
    cand = Candidate(ArchSpec.parse("r8x8x1_c3s1c8_ds3s2c16_gap_fc10"), 0.5, trial=0)
    recipe = Recipe(proxy_samples=100, proxy_epochs=1, final_epochs=2, batch_size=64)
    plain = Distil(teacher=None, temperature=4.0, alpha=0.5)

    def full(seed: int) -> tuple[str, tuple[float, list[np.ndarray]]]:
        out = io.StringIO()
        ((_, val, (model, _), _),) = _full_fidelity(
            [cand], data=data, recipe=recipe, seed=seed, distil=plain,
            console=Console(file=out, width=300), keep=tmp_path / "finals",
        )  # fmt: skip
        return out.getvalue(), (val, model.get_weights())

    said, first = full(0)
    assert "earlier run" not in said
    said, again = full(0)
    assert "finished in an earlier run" in said
    assert again[0] == first[0]
    assert all(np.array_equal(a, b) for a, b in zip(again[1], first[1], strict=True))
    # Another seed is another training; a record whose weights file is gone is none at all.
    said, _ = full(1)
    assert "earlier run" not in said
    for w in (tmp_path / "finals").glob("*.weights.h5"):
        w.unlink()
    said, _ = full(0)
    assert "earlier run" not in said


def test_a_full_training_interrupted_mid_way_goes_on_from_its_last_epoch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C during a finalist's training (here after its second of three epochs): the next
    run goes on from the checkpoint and ends with the weights of an uninterrupted run."""
    import io

    import numpy as np
    from rich.console import Console

    import nas.train
    from nas.data import load_task
    from nas.pipeline import Distil, _full_fidelity
    from nas.search import Candidate
    from searchspaces import ArchSpec

    data = load_task("digits")
    cand = Candidate(ArchSpec.parse("r8x8x1_c3s1c8_ds3s2c16_gap_fc10"), 0.5, trial=0)
    recipe = Recipe(proxy_samples=100, proxy_epochs=1, final_epochs=3, batch_size=64)
    plain = Distil(teacher=None, temperature=4.0, alpha=0.5)

    def full(keep: Path) -> tuple[str, list[np.ndarray]]:
        out = io.StringIO()
        ((_, _, (model, _), _),) = _full_fidelity(
            [cand], data=data, recipe=recipe, seed=0, distil=plain,
            console=Console(file=out, width=300), keep=keep,
        )  # fmt: skip
        return out.getvalue(), model.get_weights()

    _, whole = full(tmp_path / "whole")
    real, calls = nas.train.accuracy, []

    def ctrl_c_in_epoch_3(*args: object, **kwargs: object) -> float:
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(nas.train, "accuracy", ctrl_c_in_epoch_3)
    with pytest.raises(KeyboardInterrupt):
        full(tmp_path / "finals")
    monkeypatch.setattr(nas.train, "accuracy", real)
    assert len(list((tmp_path / "finals").glob("*.epoch.npz"))) == 1
    said, resumed = full(tmp_path / "finals")
    assert "went on from epoch 2 of an interrupted run" in said
    assert all(np.array_equal(a, b) for a, b in zip(resumed, whole, strict=True))
    assert not list((tmp_path / "finals").glob("*.epoch.npz"))  # done: only the kept model


def test_a_study_resumed_under_another_budget_is_refused_before_anything_runs(
    tracking_uri: str,
) -> None:
    import io
    import multiprocessing

    import optuna
    from optuna.storages.journal import JournalFileBackend
    from rich.console import Console

    from nas.errors import TinyzooError

    studies = Path(tracking_uri.removeprefix("sqlite:///")).parent / "studies"
    studies.mkdir(parents=True, exist_ok=True)
    storage = optuna.storages.JournalStorage(JournalFileBackend(str(studies / "mine.log")))
    study = optuna.create_study(study_name="mine", storage=storage)
    study.set_user_attr("space", "dscnn")
    study.set_user_attr("budget", {"ram_bytes": 1, "flash_bytes": 1, "max_macs": None})
    said = io.StringIO()
    with pytest.raises(TinyzooError, match=r"was started with budget \{'ram_bytes': 1, "):
        run_search(
            board="l010", task="digits", trials=3, teacher="none", workers=2,
            study_name="mine", tracking_uri=tracking_uri, console=Console(file=said),
        )  # fmt: skip
    assert said.getvalue() == ""  # refused before the header, the teacher and the progress bar
    assert multiprocessing.active_children() == []
    assert len(optuna.load_study(study_name="mine", storage=storage).trials) == 0


def test_an_error_raised_while_handling_ctrl_c_counts_as_ctrl_c() -> None:
    # Optuna's journal lock can raise FileNotFoundError in its cleanup after the SIGINT.
    from nas.errors import from_ctrl_c

    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise FileNotFoundError("lock.rename") from None  # __context__ is kept
    except OSError as e:
        assert from_ctrl_c(e)
    assert not from_ctrl_c(FileNotFoundError("lock.rename"))


def test_an_error_from_native_code_after_a_signal_is_the_interruption() -> None:
    # TensorFlow's C++ can swallow the KeyboardInterrupt raised in a training step and raise
    # SystemError instead (seen: Ctrl-C during fit); `interruptible` gives the interruption back.
    import signal

    from nas.errors import from_ctrl_c, interruptible, raise_interrupt

    def native_step() -> None:  # what the training step did with the handler's exception
        try:
            signal.raise_signal(signal.SIGTERM)
        except KeyboardInterrupt:
            raise SystemError("Objects/listobject.c:338: bad argument") from None

    old_term = signal.signal(signal.SIGTERM, raise_interrupt)  # as tinyzoo's commands set it
    old_int = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal
    try:
        with pytest.raises(SystemError):  # without the wrapper the SystemError escapes
            native_step()
        with pytest.raises(KeyboardInterrupt) as caught, interruptible():
            native_step()
        assert from_ctrl_c(caught.value) and isinstance(caught.value.__cause__, SystemError)
        with pytest.raises(ValueError), interruptible():  # no signal: errors pass unchanged
            raise ValueError("a real failure")
        swallowed = contextlib.suppress(KeyboardInterrupt)  # the signal lost without an error
        with pytest.raises(KeyboardInterrupt), interruptible(), swallowed:
            signal.raise_signal(signal.SIGTERM)
        with interruptible():  # Ctrl-C too, for callers of nas.train outside the CLI
            assert signal.getsignal(signal.SIGINT) is raise_interrupt
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGTERM, old_term)
        signal.signal(signal.SIGINT, old_int)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"seed": -1}, "--seed must be a whole number"),
        ({"timeout": 0.0}, "--timeout must be a positive number"),
        ({"study_name": "a/b"}, "is not a plain name"),
    ],
)
def test_run_search_refuses_bad_settings_before_the_store_is_touched(
    tmp_path: Path, kwargs: dict, fragment: str
) -> None:
    from nas.errors import TinyzooError

    with pytest.raises(TinyzooError, match=fragment):
        run_search(
            board="l010", task="digits", trials=3, teacher="none",
            tracking_uri=f"sqlite:///{tmp_path}/mlflow.db", **kwargs,
        )  # fmt: skip
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_a_search_on_a_users_image_folder_registers_its_own_entry(
    tracking_uri: str, tmp_path: Path
) -> None:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)

    def band(folder: Path, rows: slice, i: int) -> None:  # a bright band over noise
        pixels = rng.integers(0, 60, (24, 24)).astype(np.uint8)
        pixels[rows] += 180
        Image.fromarray(pixels, "L").save(folder / f"{i:02d}.png")

    for label, rows in (("dark", slice(0, 12)), ("light", slice(12, 24))):
        (tmp_path / "data" / label).mkdir(parents=True)
        for i in range(12):
            band(tmp_path / "data" / label, rows, i)
    kw = {"board": "l010", "task": "bands", "data_dir": tmp_path / "data", "trials": 2,
          "epochs": 2, "finalists": 1, "tracking_uri": tracking_uri}  # fmt: skip
    entry = run_search(**kw)
    assert (entry.name, entry.task, entry.labels) == ("bands-l010", "bands", ("dark", "light"))
    assert entry.input_shape[0] in (16, 24)  # 24x24 images are not enlarged to 32
    studies = Path(tracking_uri.removeprefix("sqlite:///")).parent / "studies"
    (log,) = studies.glob("bands-l010-*.log")
    assert "-d" in log.stem.removeprefix("bands-l010-dscnn-")  # the data's hash is in the name

    # The folder changes: a new study, and a new teacher, trained on exactly this data.
    band(tmp_path / "data" / "dark", slice(0, 12), 12)
    run_search(**kw)
    assert len(list(studies.glob("bands-l010-*.log"))) == 2
    from zoo._registry import _versions_of, make_client

    teachers = _versions_of(make_client(tracking_uri), "teacher-bands")
    assert len(teachers) == 2 and teachers[0].tags["data"] != teachers[1].tags["data"]
    # the champion is the model measured on the data as it is now (the other test split's
    # figure is not compared), and each version records its data
    import zoo

    assert zoo.get("bands-l010", tracking_uri=tracking_uri).version == 2
    students = _versions_of(make_client(tracking_uri), "bands-l010")
    assert sorted(mv.tags["data"] for mv in students) == sorted(mv.tags["data"] for mv in teachers)

    # A teacher named for the folder it was trained on is taken; once the folder changes it is
    # refused: images it trained on may now be validation or test images.
    from rich.console import Console

    from nas.data import load_task
    from nas.errors import TinyzooError
    from nas.teacher import resolve_teacher
    from searchspaces import get_space

    named = resolve_teacher(
        "teacher-bands/2", data=load_task("bands", data_dir=tmp_path / "data"),
        space=get_space("dscnn"), seed=0, tracking_uri=tracking_uri, console=Console(quiet=True),
    )  # fmt: skip
    assert named is not None and named.entry.ref == "teacher-bands/2"

    band(tmp_path / "data" / "light", slice(12, 24), 12)
    with pytest.raises(TinyzooError, match="trained on other data than this folder"):
        run_search(**kw, teacher="teacher-bands/2")
    assert len(_versions_of(make_client(tracking_uri), "bands-l010")) == 2  # nothing added
