"""ZooEntry: one registered model version as typed, frozen data.

A bundle's `entry.json` is checked here (`read_entry`), its facts become tags on the MLflow
model version (`version_tags`), and a version's tags become a `ZooEntry` again
(`entry_from_version`). Tags, not the run, are the source: one registry call describes a
version, and the MLflow UI shows every fact beside the version.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from nas.errors import TinyzooError
from zoo._ref import NAME_RE

__all__ = [
    "BUNDLE_FILES",
    "SCHEMA_TAG",
    "SHA_PREFIX",
    "ZooEntry",
    "entry_from_version",
    "read_entry",
    "version_tags",
]

# What `tinyzoo pull` hands a user: the model, its C sources, its profile and card.
BUNDLE_FILES = (
    "model.tflite",
    "model_data.h",
    "model_data.cc",
    "main.cc",
    "profile.json",
    "README.md",
    "entry.json",
)
SHA_PREFIX = "sha256."
SCHEMA_TAG = "tinyzoo.schema"  # marks versions written by tinyzoo (a shared server has others)
SCHEMA = "1"
SOURCES = ("search", "pretrained")
METRICS = (
    "int8_accuracy",
    "float_accuracy",
    "arena_bytes",
    "activation_bytes",
    "tflite_bytes",
    "flash_bytes",
    "macs",
    "params",
)
_INT_METRICS = frozenset(METRICS[2:])
LATENCY_METRIC = "latency_ms_estimate"  # optional: only entries with a board whose core has one


@dataclass(frozen=True)
class ZooEntry:
    """What the zoo knows about one model version; every figure measured on its int8 .tflite."""

    name: str  # `<task>-<board>` or `<task>-<N>k`
    version: int  # MLflow model version, from 1
    aliases: tuple[str, ...]  # e.g. ("champion",)
    task: str
    board: str | None  # None: searched under a bare budget
    space: str  # search space that produced `arch`
    arch: str  # ArchSpec block string, the architecture's identity
    seed: int
    labels: tuple[str, ...]  # class names, in output order
    input_shape: tuple[int, ...]  # H, W, C (batch dimension left out)
    preprocessing: str  # exact recipe from raw data to the float input
    input_quant: dict[str, float]  # {"scale", "zero_point"}: q = round(x / scale) + zero_point
    output_quant: dict[str, float]  # real logit = (q - zero_point) * scale
    budget: dict[str, float | None]  # the budget it was searched under
    int8_accuracy: float  # test split, TFLM reference kernels
    float_accuracy: float  # same split, before quantization
    arena_bytes: int  # smallest TFLM arena it allocates in (kTensorArenaSize)
    activation_bytes: int  # planner head: non-persistent tensors
    tflite_bytes: int
    flash_bytes: int  # .tflite plus the board's runtime reserve
    macs: int
    params: int  # parameter count
    run_id: str  # the MLflow run that logged the bundle
    source: str  # "search" or "pretrained"
    sha256: dict[str, str]  # bundle file name -> hex digest, checked by pull/load
    # An ESTIMATE on the entry's board, never measured (nas/latency.py); None without a board
    # or for a core with no estimate.
    latency_ms_estimate: float | None = None

    @property
    def ref(self) -> str:
        """The exact reference of this version, `name/version`."""
        return f"{self.name}/{self.version}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-able facts (tuples as lists), for `--json` output and scripts."""
        return json.loads(json.dumps(asdict(self)))


def _bad(where: str, key: str, want: str, got: object) -> TinyzooError:
    return TinyzooError(
        f"{where}: {key!r} must be {want}, got {got!r}. Fix the bundle's entry.json "
        "(the pipeline writes it; see zoo/_entry.py for the schema)."
    )


def _number(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def read_entry(path: Path) -> dict[str, Any]:
    """Load and check a bundle's entry.json; TinyzooError naming the first bad key."""
    where = str(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TinyzooError(f"{where} is missing: a bundle needs its entry.json.") from None
    except (OSError, ValueError) as e:
        raise TinyzooError(f"{where} is not readable JSON ({e}).") from None
    if not isinstance(data, dict):
        raise _bad(where, "(top level)", "an object", type(data).__name__)
    checks: dict[str, tuple[str, Any]] = {
        "name": ("a name like fashion-nano33ble", lambda v: isinstance(v, str) and NAME_RE.fullmatch(v)),
        "task": ("a non-empty string", lambda v: isinstance(v, str) and v),
        "board": ("a board name or null", lambda v: v is None or (isinstance(v, str) and v)),
        "space": ("a non-empty string", lambda v: isinstance(v, str) and v),
        "arch": ("an ArchSpec string", lambda v: isinstance(v, str) and v),
        "seed": ("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool)),
        "labels": ("a list of strings", lambda v: isinstance(v, list) and v and all(isinstance(s, str) for s in v)),
        "input_shape": ("a list of positive integers", lambda v: isinstance(v, list) and v and all(isinstance(d, int) and d > 0 for d in v)),
        "preprocessing": ("a non-empty string", lambda v: isinstance(v, str) and v),
        "input_quant": ("{'scale': float, 'zero_point': int}", _is_quant),
        "output_quant": ("{'scale': float, 'zero_point': int}", _is_quant),
        "budget": ("an object of numbers or nulls", lambda v: isinstance(v, dict) and all(x is None or _number(x) for x in v.values())),
        "source": (" or ".join(map(repr, SOURCES)), lambda v: v in SOURCES),
        "metrics": ("an object of numbers", lambda v: isinstance(v, dict) and all(_number(x) for x in v.values())),
    }  # fmt: skip
    for key, (want, ok) in checks.items():
        if key not in data:
            raise _bad(where, key, want, "<missing>")
        if not ok(data[key]):
            raise _bad(where, key, want, data[key])
    missing = [m for m in METRICS if m not in data["metrics"]]
    if missing:
        raise _bad(where, f"metrics.{missing[0]}", "a number", "<missing>")
    extra = data.setdefault("params", {})
    if not isinstance(extra, dict) or not all(
        isinstance(v, str | int | float | bool) for v in extra.values()
    ):
        raise _bad(where, "params", "an object of strings and numbers", extra)
    return data


def _is_quant(v: object) -> bool:
    return (
        isinstance(v, dict)
        and _number(v.get("scale"))
        and isinstance(v.get("zero_point"), int)
        and not isinstance(v.get("zero_point"), bool)
    )


# A teacher of a user's folder: `Dataset.fingerprint` of what it trained on, kept as a version
# tag so that a search on changed data does not distil from it (nas.teacher).
DATA_TAG = "data"


def version_tags(entry: dict[str, Any], sha256: dict[str, str]) -> dict[str, str]:
    """Model version tags: every ZooEntry fact (JSON for lists and objects) and each sha256."""
    m = entry["metrics"]
    tags = {
        SCHEMA_TAG: SCHEMA,
        "task": entry["task"],
        "board": entry["board"] or "",
        "space": entry["space"],
        "arch": entry["arch"],
        "seed": str(entry["seed"]),
        "labels": json.dumps(entry["labels"]),
        "input_shape": json.dumps(entry["input_shape"]),
        "preprocessing": entry["preprocessing"],
        "input_quant": json.dumps(entry["input_quant"]),
        "output_quant": json.dumps(entry["output_quant"]),
        "budget": json.dumps(entry["budget"]),
        "source": entry["source"],
    }
    for key in METRICS:
        tags[key] = str(int(m[key])) if key in _INT_METRICS else repr(float(m[key]))
    if m.get(LATENCY_METRIC) is not None:
        tags[LATENCY_METRIC] = repr(float(m[LATENCY_METRIC]))
    if DATA_TAG in entry.get("params", {}):
        tags[DATA_TAG] = str(entry["params"][DATA_TAG])
    tags.update({f"{SHA_PREFIX}{f}": h for f, h in sha256.items()})
    return tags


def entry_from_version(mv: Any, aliases: Iterable[str] | None = None) -> ZooEntry:
    """A ZooEntry from an MLflow ModelVersion (its tags); TinyzooError if not a tinyzoo one.

    `aliases` overrides `mv.aliases`: versions from a search come without them.
    """
    tags: dict[str, str] = dict(mv.tags or {})
    if tags.get(SCHEMA_TAG) != SCHEMA:
        raise TinyzooError(
            f"{mv.name}/{mv.version} was not registered by tinyzoo (no tag {SCHEMA_TAG}={SCHEMA}); "
            "register bundles with `zoo.register` or `tinyzoo search`."
        )
    try:
        facts: dict[str, Any] = {
            "name": mv.name,
            "version": int(mv.version),
            "aliases": tuple(sorted(mv.aliases or () if aliases is None else aliases)),
            "run_id": mv.run_id or "",
            "board": tags["board"] or None,
            "seed": int(tags["seed"]),
            "labels": tuple(json.loads(tags["labels"])),
            "input_shape": tuple(json.loads(tags["input_shape"])),
            "sha256": {
                k[len(SHA_PREFIX) :]: v for k, v in sorted(tags.items()) if k.startswith(SHA_PREFIX)
            },
        }
        for key in ("input_quant", "output_quant", "budget"):
            facts[key] = json.loads(tags[key])
        for key in METRICS:
            facts[key] = int(tags[key]) if key in _INT_METRICS else float(tags[key])
        if LATENCY_METRIC in tags:
            facts[LATENCY_METRIC] = float(tags[LATENCY_METRIC])
        for f in fields(ZooEntry):  # the rest are plain strings
            if f.name not in facts and f.name != LATENCY_METRIC:
                facts[f.name] = tags[f.name]
    except (KeyError, ValueError) as e:
        raise TinyzooError(
            f"{mv.name}/{mv.version} has damaged zoo tags ({type(e).__name__}: {e}); "
            "re-register its bundle."
        ) from None
    return ZooEntry(**facts)
