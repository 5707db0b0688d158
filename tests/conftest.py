"""Shared fixtures."""

from __future__ import annotations

import shutil
import signal
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def _migrated_mlflow_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty MLflow sqlite db with its schema, made once: migrating one costs about 2 s."""
    from zoo._store import make_client

    db = tmp_path_factory.mktemp("mlflow-template") / "tinyzoo.db"
    make_client(f"sqlite:///{db}").search_experiments()
    return db


@pytest.fixture
def tracking_uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _migrated_mlflow_db: Path) -> str:
    """A fresh, empty zoo (sqlite under tmp_path/mlflow/), also set as $TINYZOO_TRACKING_URI.

    Entries shipped in zoo/pretrained/ are left out (an empty $TINYZOO_PRETRAINED_DIR), so a
    test sees only what it registers.
    """
    store = tmp_path / "mlflow"
    store.mkdir()
    shutil.copyfile(_migrated_mlflow_db, store / "tinyzoo.db")
    (tmp_path / "no-pretrained").mkdir()
    uri = f"sqlite:///{store / 'tinyzoo.db'}"
    monkeypatch.setenv("TINYZOO_TRACKING_URI", uri)
    monkeypatch.setenv("TINYZOO_PRETRAINED_DIR", str(tmp_path / "no-pretrained"))
    return uri


def sigint_default() -> None:
    """`preexec_fn` for a child the test stops with Ctrl-C: SIGINT back to its default. A
    shell without job control starts background commands with SIGINT ignored, children inherit
    that, and Python then installs no KeyboardInterrupt handler (`make test &` would fail)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
