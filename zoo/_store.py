"""Where the zoo lives: the MLflow tracking URI, the artifact root, and a quiet client.

By default the zoo is an embedded sqlite store under `<project>/mlflow/` (no server to start);
`TINYZOO_TRACKING_URI` or an explicit `tracking_uri=` points it at any MLflow backend, a
shared server included. MLflow is imported inside the functions: `import zoo` stays fast.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Any

from nas.errors import TinyzooError

__all__ = [
    "ENV_ARTIFACTS",
    "ENV_URI",
    "EXPERIMENT",
    "PROJECT_ROOT",
    "artifact_root",
    "experiment_id",
    "make_client",
    "quiet_mlflow",
    "resolve_tracking_uri",
    "sqlite_path",
]

ENV_URI = "TINYZOO_TRACKING_URI"
# For non-sqlite backends only: where runs' files go when this client creates the experiment
# (a server started with --serve-artifacts decides by itself when this is unset).
ENV_ARTIFACTS = "TINYZOO_ARTIFACT_ROOT"
EXPERIMENT = "tinyzoo"
# Editable install: zoo/ sits in the project root, next to mlflow/.
PROJECT_ROOT = Path(__file__).resolve().parents[1]
_SQLITE = "sqlite:///"


def resolve_tracking_uri(tracking_uri: str | None = None) -> str:
    """The explicit URI, else $TINYZOO_TRACKING_URI, else the project's embedded sqlite db."""
    uri = tracking_uri or os.environ.get(ENV_URI) or ""
    uri = uri.strip()
    if not uri:
        return f"{_SQLITE}{PROJECT_ROOT / 'mlflow' / 'tinyzoo.db'}"
    if ":" not in uri and ("/" in uri or uri.endswith(".db")):  # a path, not a URI
        raise TinyzooError(
            f"tracking URI {uri!r} is a path, not a URI. Use sqlite:///{Path(uri).resolve()} "
            "for a sqlite file, http(s)://host:port for an MLflow server, or leave it unset "
            "for the project's embedded store."
        )
    db = sqlite_path(uri)
    if db is not None and db.is_dir():  # sqlite would retry opening it for minutes
        raise TinyzooError(
            f"tracking URI {uri!r} names a folder, not a database file. Use "
            f"sqlite:///{db / 'tinyzoo.db'} (created on first use), or leave it unset."
        )
    return uri


def sqlite_path(uri: str) -> Path | None:
    """The database file of a `sqlite:///` URI (absolute), None for any other backend."""
    if not uri.startswith(_SQLITE):
        return None
    return Path(uri[len(_SQLITE) :].split("?")[0]).resolve()


def artifact_root(uri: str) -> str | None:
    """Where bundles are stored: `<db dir>/artifacts` beside a sqlite db.

    For other backends $TINYZOO_ARTIFACT_ROOT, or None to let the server choose (its
    --default-artifact-root, or proxied artifacts with --serve-artifacts).
    """
    db = sqlite_path(uri)
    if db is None:
        return os.environ.get(ENV_ARTIFACTS) or None
    return (db.parent / "artifacts").as_uri()


def quiet_mlflow() -> None:
    """Keep MLflow's, alembic's and SQLAlchemy's notices off the terminal; no telemetry."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    # Read by MLflow when it is imported (its handler's level), here and in `mlflow ui`.
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "ERROR")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # tqdm on stderr
    # "View run at <url>" lines on stdout after each run against a server.
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    for name in ("mlflow", "alembic", "sqlalchemy"):
        logging.getLogger(name).setLevel(logging.ERROR)
    for module in ("mlflow", "alembic", "sqlalchemy", "pydantic"):
        warnings.filterwarnings("ignore", module=module)
    warnings.filterwarnings("ignore", message=".*mlflow.*", category=FutureWarning)


def make_client(tracking_uri: str | None = None) -> Any:
    """An `MlflowClient` for tracking and registry on the same URI (created db included)."""
    quiet_mlflow()
    uri = resolve_tracking_uri(tracking_uri)
    db = sqlite_path(uri)
    if db is not None:
        db.parent.mkdir(parents=True, exist_ok=True)
    from mlflow import MlflowClient

    try:
        return MlflowClient(tracking_uri=uri, registry_uri=uri)
    except Exception as e:  # a bad scheme or unreachable database: say which URI
        raise TinyzooError(
            f"cannot open the zoo at {uri!r}: {e}. Check --tracking-uri / ${ENV_URI}."
        ) from e


def experiment_id(client: Any) -> str:
    """Id of the experiment 'tinyzoo', created with its artifact root on first use."""
    from mlflow.exceptions import MlflowException

    exp = client.get_experiment_by_name(EXPERIMENT)
    if exp is not None:
        if exp.lifecycle_stage == "deleted":
            client.restore_experiment(exp.experiment_id)
        return str(exp.experiment_id)
    try:
        return str(
            client.create_experiment(
                EXPERIMENT, artifact_location=artifact_root(client.tracking_uri)
            )
        )
    except MlflowException:  # another process created it between our two calls
        exp = client.get_experiment_by_name(EXPERIMENT)
        if exp is None:
            raise
        return str(exp.experiment_id)
