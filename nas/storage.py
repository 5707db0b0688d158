"""Where a search's Optuna study lives: a journal file on this machine, or a database server.

The default is a journal file beside the zoo (`studies/<study>.log`): processes on one machine
share it (`--workers`), and a rerun resumes it. `--storage postgresql://user:pass@host/db`
puts the study in a PostgreSQL database instead, so that processes on several machines run
trials for one study: each runs the same `tinyzoo search ... --storage URL --study NAME`, all
but one with `--search-only`; the one without waits for the others' running trials, then
trains the finalists and registers the winner. Trials of a process that dies are failed by
Optuna's heartbeat after `GRACE_S` seconds, so they never block that wait.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

from nas.errors import TinyzooError

__all__ = ["SCHEMES", "open_storage", "redact"]

SCHEMES = ("postgresql", "postgresql+psycopg2", "sqlite", "mysql", "mysql+pymysql")
HEARTBEAT_S = 30
GRACE_S = 120
CONNECT_TIMEOUT_S = 10


def redact(url: str) -> str:
    """`url` with its password hidden, for messages and logs."""
    return re.sub(r"(//[^:/@]+:)[^@]*@", r"\1***@", url)


def check_url(url: str) -> None:
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme not in SCHEMES:
        raise TinyzooError(
            f"--storage {redact(url)!r}: not a database URL tinyzoo can use. Give "
            "postgresql://USER:PASSWORD@HOST:PORT/DATABASE (or sqlite:///PATH, mysql://...)."
        )


def open_storage(url: str | None, journal: Path) -> Any:
    """The Optuna storage: the journal file when `url` is None, else the database at `url`.

    A database that cannot be reached fails here, in one line, before any training.
    """
    import optuna.storages

    if url is None:
        from optuna.storages.journal import JournalFileBackend

        journal.parent.mkdir(parents=True, exist_ok=True)
        return optuna.storages.JournalStorage(JournalFileBackend(str(journal)))
    check_url(url)
    connect_args = {"connect_timeout": CONNECT_TIMEOUT_S} if url.startswith("postgresql") else {}
    # SQLAlchemy 2.1 reads a bare postgresql:// as psycopg 3; tinyzoo ships psycopg2.
    engine_url = re.sub(r"^postgresql://", "postgresql+psycopg2://", url)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Optuna marks the heartbeat experimental
            return optuna.storages.RDBStorage(
                engine_url,
                engine_kwargs={"pool_pre_ping": True, "connect_args": connect_args},
                heartbeat_interval=HEARTBEAT_S,
                grace_period=GRACE_S,
            )
    except ModuleNotFoundError as e:
        raise TinyzooError(
            f"--storage {redact(url)!r} needs the Python package {e.name!r}, which is not "
            "installed (PostgreSQL's, psycopg2-binary, comes with tinyzoo)."
        ) from None
    except Exception as e:  # SQLAlchemy's OperationalError and friends: the server said no
        detail = " ".join(str(getattr(e, "orig", e) or e).split())[:300]
        raise TinyzooError(
            f"cannot open the study storage {redact(url)!r} ({detail}). Check that the server "
            "is running and reachable, and the user, password and database name."
        ) from None
