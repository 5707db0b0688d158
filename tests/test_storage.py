"""A study in a real PostgreSQL server (started here, on loopback) shared by two processes."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from nas.errors import TinyzooError
from nas.storage import open_storage, redact

# Debian's server binaries, newest major version installed.
PG_BIN = max(
    Path("/usr/lib/postgresql").glob("*/bin"),
    default=Path("/nonexistent"),
    key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on 127.0.0.1 (Debian's postgresql; `make setup`)."""
    if not (PG_BIN / "initdb").exists():
        pytest.fail("PostgreSQL is not installed: run `make setup` (apt-get install postgresql)")
    # Not under pytest's tmp_path: its parents are private to root, and the server runs as
    # the postgres user.
    root = Path(tempfile.mkdtemp(prefix="tinyzoo-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root: use its own system user
        shutil.chown(root, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", _free_port()
    subprocess.run(
        [*as_user, str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "tinyzoo"],
        check=True, capture_output=True,
    )  # fmt: skip
    opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    ctl = [*as_user, str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(root / "log")]
    subprocess.run([*ctl, "-o", opts, "-w", "start"], check=True, capture_output=True)
    try:
        yield f"postgresql://tinyzoo:unused@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*ctl, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def test_unreachable_and_malformed_storage_urls_fail_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(TinyzooError, match=r"cannot open the study storage .*\*\*\*@") as e:
        open_storage(f"postgresql://u:secret@127.0.0.1:{_free_port()}/db", tmp_path / "j.log")
    assert "secret" not in str(e.value)
    with pytest.raises(TinyzooError, match="not a database URL"):
        open_storage("http://example.org/db", tmp_path / "j.log")
    assert redact("postgresql://me:pw@h/db") == "postgresql://me:***@h/db"


def test_cli_unreachable_storage_is_exit_2(tmp_path: Path) -> None:
    url = f"postgresql://u:secret@127.0.0.1:{_free_port()}/db"
    out = subprocess.run(
        [sys.executable, "-m", "zoo.cli", "search", "--task", "digits", "--board", "l010",
         "--teacher", "none", "--storage", url, "--tracking-uri", f"sqlite:///{tmp_path}/z.db"],
        capture_output=True, text=True, env={**os.environ, "TINYZOO_PRETRAINED_DIR": str(tmp_path)},
    )  # fmt: skip
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot open the study storage"), lines


@pytest.mark.slow
def test_two_processes_share_a_postgresql_study(postgres: str, tracking_uri: str) -> None:
    import optuna

    from nas.pipeline import Recipe, run_search

    env = {**os.environ, "TINYZOO_TRACKING_URI": tracking_uri}
    # Another machine's process, in effect: only trials, no registration.
    other = subprocess.Popen(
        [sys.executable, "-m", "zoo.cli", "search", "--task", "digits", "--board", "l010",
         "--teacher", "none", "--trials", "8", "--study", "shared", "--storage", postgres,
         "--search-only"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    # It creates the study and starts a trial before this process joins (it starts slower,
    # and alone it could miss every trial of the eight).
    storage = open_storage(postgres, Path("unused"))

    def other_started() -> bool:
        try:
            study_id = storage.get_study_id_from_name("shared")
        except KeyError:
            return False
        # a trial begun, not the seed trial it queues (WAITING) before the study's attributes
        begun = [s for s in optuna.trial.TrialState if s != optuna.trial.TrialState.WAITING]
        return bool(storage.get_all_trials(study_id, deepcopy=False, states=begun))

    deadline = time.monotonic() + 300
    while not other_started():
        assert other.poll() is None, other.communicate()[1]
        assert time.monotonic() < deadline, "the other process started no trial"
        time.sleep(0.5)
    recipe = Recipe(proxy_samples=100_000, proxy_epochs=3, final_epochs=2, batch_size=64)
    entry = run_search(
        board="l010", task="digits", trials=8, seed=0, recipe=recipe, tracking_uri=tracking_uri,
        teacher="none", study_name="shared", storage=postgres,
    )  # fmt: skip
    _, err = other.communicate(timeout=600)
    assert other.returncode == 0, err
    assert "search-only: " in err
    study = optuna.load_study(study_name="shared", storage=storage)
    assert 8 <= len(study.trials) <= 9
    assert len({t.user_attrs["process"] for t in study.trials}) == 2  # both ran trials
    assert all(t.state != optuna.trial.TrialState.RUNNING for t in study.trials)
    assert entry.arch in {t.user_attrs["arch"] for t in study.trials}
