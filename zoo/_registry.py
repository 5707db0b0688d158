"""The zoo's verbs over MLflow: register a bundle, list, get, pull and load models.

A registered version is one MLflow run (params, metrics, the bundle's files as artifacts)
plus a model version whose tags carry every ZooEntry fact and each file's sha256. The alias
`champion` follows the best int8 accuracy (a user's folder's models: among the versions on the
newest version's data). Reading verbs first import the entries the project
ships (`ensure_pretrained`), so a fresh store is never empty.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nas.errors import TinyzooError, unknown_name
from zoo._entry import (
    BUNDLE_FILES,
    DATA_TAG,
    SCHEMA_TAG,
    ZooEntry,
    entry_from_version,
    read_entry,
    version_tags,
)
from zoo._pretrained import ensure_pretrained
from zoo._ref import ModelRef, parse_ref
from zoo._store import experiment_id, make_client

__all__ = [
    "CHAMPION",
    "LoadedModel",
    "get",
    "list_models",
    "load",
    "pull",
    "register",
    "register_with",
    "sha256_file",
]

CHAMPION = "champion"
LATEST = "latest"  # reserved by MLflow as an alias name; the zoo resolves it to the newest version
ARTIFACT_PATH = "bundle"


@dataclass(frozen=True)
class LoadedModel:
    """A zoo model in memory: its facts and its verified int8 .tflite bytes."""

    entry: ZooEntry
    tflite: bytes


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --- register ---------------------------------------------------------------------------


def _bundle_files(bundle: Path) -> dict[str, Path]:
    """The bundle's top-level files, after checking that every required one is there."""
    if not bundle.is_dir():
        raise TinyzooError(
            f"bundle {str(bundle)!r} is not a directory. Pass the folder the pipeline wrote "
            f"({', '.join(BUNDLE_FILES)})."
        )
    files = {p.name: p for p in sorted(bundle.iterdir()) if p.is_file()}
    missing = [f for f in BUNDLE_FILES if f not in files]
    if missing:
        raise TinyzooError(
            f"bundle {str(bundle)!r} lacks {', '.join(missing)}; a bundle holds "
            f"{', '.join(BUNDLE_FILES)}. Regenerate it with the pipeline."
        )
    return files


def register(bundle_dir: str | Path, *, tracking_uri: str | None = None) -> ZooEntry:
    """Register a bundle directory as a new version of the model `entry.json` names.

    Returns the registered entry (aliases included: `champion` when it is the best version).
    """
    client = make_client(tracking_uri)
    # Shipped entries go in first, so the version registered here is the newest (`@latest`).
    ensure_pretrained(client)
    return register_with(client, Path(bundle_dir))


def register_with(client: Any, bundle: Path) -> ZooEntry:
    """`register` on an open client (shared with the pretrained import)."""
    from mlflow.entities import Metric, Param, RunTag

    files = _bundle_files(bundle)
    entry = read_entry(files["entry.json"])
    size = files["model.tflite"].stat().st_size
    if int(entry["metrics"]["tflite_bytes"]) != size:
        raise TinyzooError(
            f"entry.json says tflite_bytes={entry['metrics']['tflite_bytes']} but "
            f"model.tflite has {size} bytes: the entry does not describe this model. "
            "Regenerate the bundle."
        )
    sha = {f: sha256_file(p) for f, p in files.items()}
    tags = version_tags(entry, sha)
    name = entry["name"]
    card = files["README.md"].read_text(encoding="utf-8", errors="replace")
    params = {
        **entry["params"],  # extra facts first: the identity below cannot be overwritten
        "arch": entry["arch"],
        "board": entry["board"] or "",
        "task": entry["task"],
        "seed": entry["seed"],
        "space": entry["space"],
        **{f"budget.{k}": v for k, v in entry["budget"].items()},
    }
    exp = experiment_id(client)
    run = client.create_run(
        exp,
        run_name=name,
        tags={"tinyzoo.name": name, "tinyzoo.source": entry["source"], "mlflow.note.content": card},
    )
    run_id = run.info.run_id
    version: str | None = None
    created_model = False
    try:
        now = int(time.time() * 1000)
        client.log_batch(
            run_id,
            metrics=[Metric(k, float(v), now, 0) for k, v in sorted(entry["metrics"].items())],
            params=[Param(k, "none" if v is None else str(v)) for k, v in sorted(params.items())],
            tags=[RunTag(k, v) for k, v in tags.items()],
        )
        for path in files.values():
            client.log_artifact(run_id, str(path), ARTIFACT_PATH)
        _log_memory_plot(client, run_id, files["model.tflite"], entry)
        created_model = _ensure_registered_model(client, entry)
        mv = client.create_model_version(
            name,
            source=f"{run.info.artifact_uri.rstrip('/')}/{ARTIFACT_PATH}",
            run_id=run_id,
            tags=tags,
            description=card,
        )
        version = str(mv.version)
        client.set_tag(run_id, "tinyzoo.version", version)
        _update_champion(client, name)
        client.set_terminated(run_id, "FINISHED")
    except BaseException as e:
        _roll_back(client, name, version, created_model, run_id)
        if isinstance(e, TinyzooError) or not isinstance(e, Exception):
            raise  # ours, or Ctrl-C: already says what happened
        raise TinyzooError(
            f"registering {name} failed: {type(e).__name__}: {e}. Nothing was registered "
            f"(MLflow run {run_id} is marked FAILED); check that the store is writable."
        ) from e
    return entry_from_version(client.get_model_version(name, version))


def _log_memory_plot(client: Any, run_id: str, tflite: Path, entry: dict[str, Any]) -> None:
    """Log `plots/memory.png`: the model's memory over TFLM's schedule (see nas.memplot)."""
    from nas.memplot import plot_memory
    from nas.profile import profile_tflite

    prof = profile_tflite(tflite.read_bytes())
    with tempfile.TemporaryDirectory(prefix="tinyzoo-plot-") as tmp:
        png = plot_memory(
            prof,
            Path(tmp) / "memory.png",
            title=f"{entry['name']}: memory over the TFLM schedule",
            ram_budget=entry["budget"].get("ram_bytes"),
        )
        client.log_artifact(run_id, str(png), "plots")


def _ensure_registered_model(client: Any, entry: dict[str, Any]) -> bool:
    """Create the registered model unless it exists; True when this call created it."""
    from mlflow.exceptions import MlflowException

    name = entry["name"]
    target = f"board {entry['board']}" if entry["board"] else "a custom budget"
    if (entry.get("params") or {}).get("role") == "teacher":
        target = "distillation (a teacher, trained with no board budget)"
    try:
        client.create_registered_model(
            name,
            tags={SCHEMA_TAG: "1", "task": entry["task"], "board": entry["board"] or ""},
            description=f"tinyzoo: int8 {entry['task']} models for {target}. "
            f"`tinyzoo pull {name}` fetches the champion.",
        )
    except MlflowException as e:
        if e.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
        return False
    return True


def _update_champion(client: Any, name: str) -> None:
    """Point `champion` at the best int8 accuracy (the newer version on a tie), among the
    versions measured on the newest version's data: a user's folder that changed (its
    fingerprint, the `data` tag) has another test split, whose accuracies are not compared
    with the old one's. Builtin tasks' versions carry no tag and all compare."""
    versions = _versions_of(client, name)
    if not versions:
        return
    data = max(versions, key=lambda mv: int(mv.version)).tags.get(DATA_TAG)
    best = max(
        (mv for mv in versions if mv.tags.get(DATA_TAG) == data),
        key=lambda mv: (float(mv.tags["int8_accuracy"]), int(mv.version)),
    )
    client.set_registered_model_alias(name, CHAMPION, str(best.version))


def _roll_back(
    client: Any, name: str, version: str | None, created_model: bool, run_id: str
) -> None:
    """Undo a half-done registration; the original error is what the caller sees."""
    steps = []
    if version is not None:
        steps.append(lambda: client.delete_model_version(name, version))
    if created_model:
        steps.append(
            lambda: None if _versions_of(client, name) else client.delete_registered_model(name)
        )
    else:
        steps.append(lambda: _update_champion(client, name))
    steps.append(lambda: client.set_terminated(run_id, "FAILED"))
    for step in steps:
        with contextlib.suppress(Exception):  # best effort: keep undoing the rest
            step()


# --- read -------------------------------------------------------------------------------


def _search_versions(client: Any, filter_string: str | None) -> list[Any]:
    """Every tinyzoo model version matching `filter_string`, across result pages."""
    out: list[Any] = []
    token = None
    while True:
        page = client.search_model_versions(filter_string, max_results=1000, page_token=token)
        out.extend(mv for mv in page if (mv.tags or {}).get(SCHEMA_TAG))
        token = page.token
        if not token:
            return out


def _versions_of(client: Any, name: str) -> list[Any]:
    return _search_versions(client, f"name = '{name}'")


def _alias_map(client: Any, name: str | None = None) -> dict[str, dict[str, list[str]]]:
    """name -> version -> its aliases; searched versions come without them, models have them."""
    from mlflow.exceptions import MlflowException

    if name is not None:
        try:
            models = [client.get_registered_model(name)]
        except MlflowException:
            models = []
    else:
        models, token = [], None
        while True:
            page = client.search_registered_models(max_results=1000, page_token=token)
            models.extend(page)
            token = page.token
            if not token:
                break
    out: dict[str, dict[str, list[str]]] = {}
    for rm in models:
        for alias, version in (rm.aliases or {}).items():
            out.setdefault(rm.name, {}).setdefault(str(version), []).append(alias)
    return out


def _pick(versions: list[Any], aliases: dict[str, list[str]]) -> Any:
    """The champion, else the newest version."""
    for mv in versions:
        if CHAMPION in aliases.get(str(mv.version), ()):
            return mv
    return max(versions, key=lambda mv: int(mv.version))


def list_models(
    *,
    task: str | None = None,
    board: str | None = None,
    max_ram: int | None = None,
    pattern: str | None = None,
    tracking_uri: str | None = None,
) -> list[ZooEntry]:
    """The champion (else newest) version of every zoo model, filtered, sorted by name.

    `max_ram` keeps models whose measured TFLM arena fits in that many bytes; `pattern` is a
    shell wildcard on the name (`kws-*`, `*-nano33ble`).
    """
    client = make_client(tracking_uri)
    ensure_pretrained(client)
    by_name: dict[str, list[Any]] = {}
    for mv in _search_versions(client, None):
        by_name.setdefault(mv.name, []).append(mv)
    aliases = _alias_map(client)
    entries = []
    for name, versions in sorted(by_name.items()):
        own = aliases.get(name, {})
        mv = _pick(versions, own)
        entries.append(entry_from_version(mv, own.get(str(mv.version), [])))
    if task is not None:
        entries = [e for e in entries if e.task == task.lower()]
    if board is not None:
        entries = [e for e in entries if e.board == board.lower()]
    if max_ram is not None:
        entries = [e for e in entries if e.arena_bytes <= max_ram]
    if pattern:
        entries = [e for e in entries if fnmatch.fnmatchcase(e.name.lower(), pattern.lower())]
    return entries


def _resolve(client: Any, ref: ModelRef) -> tuple[Any, ZooEntry]:
    """The ModelVersion a reference names, and its entry; errors list what does exist."""
    versions = _versions_of(client, ref.name)
    if not versions:
        names = sorted({mv.name for mv in _search_versions(client, None)})
        if not names:
            raise TinyzooError(
                f"unknown model {ref.name!r}: the zoo at {client.tracking_uri} is empty. "
                "Run `tinyzoo search --board B --task T` to add one."
            )
        raise unknown_name("model", ref.name, names, "See `tinyzoo list`.")
    aliases = _alias_map(client, ref.name).get(ref.name, {})
    if ref.version is not None:
        found = [mv for mv in versions if int(mv.version) == ref.version]
    elif ref.alias is not None and ref.alias.lower() == LATEST:
        found = [max(versions, key=lambda mv: int(mv.version))]
    elif ref.alias is not None:
        found = [mv for mv in versions if ref.alias in aliases.get(str(mv.version), ())]
    else:
        found = [_pick(versions, aliases)]
    if found:
        mv = found[0]
        return mv, entry_from_version(mv, aliases.get(str(mv.version), []))
    nums = sorted(int(mv.version) for mv in versions)
    named = sorted(f"@{a} -> {v}" for v, names in aliases.items() for a in names)
    named.append(f"@{LATEST} -> {nums[-1]}")
    missing = f"version {ref.version}" if ref.version is not None else f"alias @{ref.alias}"
    raise TinyzooError(
        f"{ref.name} has no {missing}. Versions: {', '.join(map(str, nums))}; aliases: "
        f"{', '.join(named)}. Use {ref.name}/N or {ref.name}@ALIAS."
    )


def get(ref: str, *, tracking_uri: str | None = None) -> ZooEntry:
    """The entry a reference names (`name`, `name@alias`, `name/version`)."""
    parsed = parse_ref(ref)
    client = make_client(tracking_uri)
    ensure_pretrained(client)
    return _resolve(client, parsed)[1]


@contextlib.contextmanager
def _downloaded(client: Any, mv: Any, sub: str = "") -> Iterator[Path]:
    """The version's bundle (or one file of it) in a temporary directory."""
    from mlflow.artifacts import download_artifacts

    uri = mv.source.rstrip("/") + (f"/{sub}" if sub else "")
    with tempfile.TemporaryDirectory(prefix="tinyzoo-pull-") as tmp:
        try:
            path = download_artifacts(
                artifact_uri=uri, dst_path=tmp, tracking_uri=client.tracking_uri
            )
        except Exception as e:
            raise TinyzooError(
                f"cannot download {mv.name}/{mv.version} from {uri}: {e}. Is the artifact "
                "store reachable (same machine or a server with --serve-artifacts)?"
            ) from e
        yield Path(path)


def _verify(entry: ZooEntry, path: Path, filename: str) -> None:
    expected = entry.sha256.get(filename)
    if expected is None:
        raise TinyzooError(f"{entry.ref} records no sha256 for {filename}; re-register it.")
    if not path.is_file():
        raise TinyzooError(
            f"{entry.ref}: {filename} is missing from the artifact store; the entry is damaged. "
            "Re-register it."
        )
    got = sha256_file(path)
    if got != expected:
        raise TinyzooError(
            f"{entry.ref}: {filename} fails its sha256 check (expected {expected[:12]}..., "
            f"got {got[:12]}...): the stored file changed after registration. Nothing was "
            "written; re-register the model or pull another version."
        )


def pull(ref: str, out_dir: str | Path | None = None, *, tracking_uri: str | None = None) -> Path:
    """Download a model's bundle into `out_dir` (default ./models/<name>/), sha256-verified.

    Every file is checked before any is moved, so a damaged entry leaves `out_dir` untouched.
    """
    parsed = parse_ref(ref)
    client = make_client(tracking_uri)
    ensure_pretrained(client)
    mv, entry = _resolve(client, parsed)
    if not entry.sha256:
        raise TinyzooError(f"{entry.ref} records no sha256 tags; re-register it.")
    out = Path(out_dir) if out_dir is not None else Path("models") / entry.name
    if out.exists() and not out.is_dir():
        raise TinyzooError(f"output {str(out)!r} exists and is not a directory; pick another -o.")
    held = _pulled_name(out)
    if held is not None and held != entry.name:  # its files would mix with this one's
        raise TinyzooError(
            f"output folder {str(out)!r} holds model {held!r}; pull {entry.name!r} into "
            "another -o (or delete that folder first)."
        )
    with _downloaded(client, mv) as bundle:
        for filename in entry.sha256:
            _verify(entry, bundle / filename, filename)
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise TinyzooError(
                f"cannot create output folder {str(out)!r} ({e.strerror}); pick another -o."
            ) from None
        if not os.access(out, os.W_OK):
            raise TinyzooError(f"output folder {str(out)!r} is not writable; pick another -o.")
        for filename in entry.sha256:
            shutil.move(str(bundle / filename), str(out / filename))
    return out


def _pulled_name(folder: Path) -> str | None:
    """The name of the model a pull left in `folder` (its entry.json), else None."""
    try:
        name = json.loads((folder / "entry.json").read_text(encoding="utf-8")).get("name")
    except (OSError, ValueError, AttributeError):
        return None
    return name if isinstance(name, str) else None


def load(ref: str, *, tracking_uri: str | None = None) -> LoadedModel:
    """A model's entry and its sha256-verified .tflite bytes, without writing files."""
    parsed = parse_ref(ref)
    client = make_client(tracking_uri)
    ensure_pretrained(client)
    mv, entry = _resolve(client, parsed)
    with _downloaded(client, mv, "model.tflite") as path:
        _verify(entry, path, "model.tflite")
        return LoadedModel(entry=entry, tflite=path.read_bytes())
