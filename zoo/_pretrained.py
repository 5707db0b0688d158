"""Entries the project ships (zoo/pretrained/<name>/), imported into the store on first use.

A shipped entry is model.tflite, entry.json, profile.json and README.md: the C sources are
regenerated at import (codegen is deterministic), which keeps the package small. An entry is
imported when no version of its name carries the sha256 of every file of its folder as
imported (the model, card, entry.json, profile, a teacher's weights; not the files the import
writes itself): importing is idempotent and costs one registry query when there is nothing to
do, and a shipped entry whose card or figures a later tinyzoo corrects becomes a new version
of the same model in stores that imported the old one. The versions before it stay, and the
zoo's champion rule holds: the new version is champion when its int8 accuracy is the best or
ties it (then it is also `@latest`, over a search's version of the same name registered
before the upgrade).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nas.codegen import C_SOURCES
from nas.compress import REPORT_FILES
from nas.errors import TinyzooError
from zoo._entry import SHA_PREFIX, ZooEntry
from zoo._store import sqlite_path

__all__ = ["ENV_PRETRAINED", "PRETRAINED_ROOT", "Shipped", "ensure_pretrained", "shipped"]

PRETRAINED_ROOT = Path(__file__).resolve().parent / "pretrained"
# Another folder of shipped entries (a team's own set; tests use an empty one).
ENV_PRETRAINED = "TINYZOO_PRETRAINED_DIR"
# Written by the import (C sources, compression report): not copied from a shipped folder and
# not part of its identity, so a stale copy there (a pulled bundle, say) changes neither.
_GENERATED = frozenset((*C_SOURCES, *REPORT_FILES))


@dataclass(frozen=True)
class Shipped:
    name: str
    path: Path  # the entry's folder
    # Of each file as imported (entry.json with its source set): the identity the import
    # compares with a version's `sha256.<file>` tags.
    sha256: dict[str, str] = field(hash=False)


def _root(root: Path | None) -> Path:
    if root is not None:
        return Path(root)
    env = os.environ.get(ENV_PRETRAINED)
    return Path(env) if env else PRETRAINED_ROOT


def shipped(root: Path | None = None) -> list[Shipped]:
    """The entries under `root` (default zoo/pretrained, or $TINYZOO_PRETRAINED_DIR)."""
    from zoo._registry import sha256_file

    base = _root(root)
    if not base.is_dir():
        return []
    out = []
    for d in sorted(p for p in base.iterdir() if p.is_dir()):
        if not ((d / "entry.json").is_file() and (d / "model.tflite").is_file()):
            continue
        try:
            data = json.loads((d / "entry.json").read_text(encoding="utf-8"))
            name = data["name"]
        except (ValueError, KeyError, TypeError) as e:
            raise TinyzooError(
                f"shipped entry {d}/entry.json is unreadable ({e}); fix or remove it."
            ) from None
        sha = {f.name: sha256_file(f) for f in _files(d)}
        sha["entry.json"] = hashlib.sha256(_imported_entry(data)).hexdigest()
        out.append(Shipped(name=str(name), path=d, sha256=sha))
    return out


def _files(folder: Path) -> list[Path]:
    """The files of a shipped folder that the import copies."""
    return [f for f in sorted(folder.iterdir()) if f.is_file() and f.name not in _GENERATED]


def _imported_entry(data: dict[str, Any]) -> bytes:
    """entry.json as the import registers it: the shipped entry with its source set."""
    return json.dumps(data | {"source": "pretrained"}, indent=2).encode("utf-8")


def _missing(client: Any, entries: list[Shipped]) -> list[Shipped]:
    """Shipped entries no version of their name has yet, every file the same (one search
    query)."""
    names = ", ".join(f"'{n}'" for n in sorted({e.name for e in entries}))
    versions = client.search_model_versions(f"name IN ({names})", max_results=10000)

    def imported(e: Shipped, tags: dict[str, str]) -> bool:
        return all(tags.get(f"{SHA_PREFIX}{f}") == h for f, h in e.sha256.items())

    return [
        e for e in entries
        if not any(mv.name == e.name and imported(e, mv.tags or {}) for mv in versions)
    ]  # fmt: skip


@contextlib.contextmanager
def _import_lock(client: Any) -> Iterator[None]:
    """Serialise imports between processes sharing a sqlite store (a server store: no lock)."""
    db = sqlite_path(client.tracking_uri)
    if db is None:
        yield
        return
    import fcntl

    db.parent.mkdir(parents=True, exist_ok=True)
    with open(db.parent / ".pretrained.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _import(client: Any, entry: Shipped) -> ZooEntry:
    from nas.codegen import write_c_sources
    from zoo._registry import register_with

    with tempfile.TemporaryDirectory(prefix="tinyzoo-pretrained-") as tmp:
        bundle = Path(tmp)
        for f in _files(entry.path):
            shutil.copy2(f, bundle / f.name)
        data = json.loads((bundle / "entry.json").read_text(encoding="utf-8"))
        (bundle / "entry.json").write_bytes(_imported_entry(data))
        data["source"] = "pretrained"
        if data.get("compression"):  # the report's files, as a search's run logs them
            from nas.compress import report_files

            for file, blob in report_files(data["compression"]).items():
                (bundle / file).write_bytes(blob)
        try:
            arena = int(data["metrics"]["arena_bytes"])
        except (KeyError, TypeError, ValueError):
            raise TinyzooError(
                f"shipped entry {entry.path}/entry.json lacks metrics.arena_bytes; fix it."
            ) from None
        write_c_sources(
            (bundle / "model.tflite").read_bytes(), bundle, arena_bytes=arena,
            labels=data.get("labels"),
        )  # fmt: skip
        return register_with(client, bundle)


def ensure_pretrained(client: Any, *, root: Path | None = None) -> list[ZooEntry]:
    """Import every shipped entry the store lacks; returns what was imported (often nothing)."""
    entries = shipped(root)
    if not entries or not _missing(client, entries):
        return []
    with _import_lock(client):
        return [_import(client, e) for e in _missing(client, entries)]  # re-checked under lock
