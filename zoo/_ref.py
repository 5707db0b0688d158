"""The one grammar for naming a zoo model: `name`, `name@alias` or `name/version`.

    fashion-nano33ble            the champion (best int8 accuracy), else the newest version
    fashion-nano33ble@champion   whatever an alias points to; `@latest` is the newest version
    fashion-nano33ble/3          version 3

MLflow's own `models:/name@alias` and `models:/name/3` are accepted too (prefix dropped).
"""

from __future__ import annotations

import re
from typing import NamedTuple

from nas.errors import TinyzooError

__all__ = ["GRAMMAR", "NAME_RE", "ModelRef", "parse_ref"]

GRAMMAR = (
    "NAME, NAME@ALIAS or NAME/VERSION (e.g. kws-nano33ble, kws-nano33ble@champion, kws-nano33ble/2)"
)
# Names: what `<task>-<board>` produces; no '@' or '/', so a reference splits one way only.
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_REF_RE = re.compile(
    rf"(?P<name>{NAME_RE.pattern})(?:@(?P<alias>[A-Za-z0-9_-]+)|/(?P<version>[0-9]+))?"
)


class ModelRef(NamedTuple):
    name: str
    version: int | None = None  # set for NAME/VERSION
    alias: str | None = None  # set for NAME@ALIAS

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}/{self.version}"
        if self.alias is not None:
            return f"{self.name}@{self.alias}"
        return self.name


def parse_ref(text: str) -> ModelRef:
    """Parse a model reference; TinyzooError restating the grammar when it does not fit."""
    raw = text.strip() if isinstance(text, str) else ""
    body = raw.removeprefix("models:/")
    m = _REF_RE.fullmatch(body)
    if not m or (m.group("version") is not None and int(m.group("version")) < 1):
        raise TinyzooError(
            f"bad model reference {text!r}: expected {GRAMMAR}. Versions count from 1; "
            "see `tinyzoo list` for names."
        )
    version = m.group("version")
    return ModelRef(
        name=m.group("name"),
        version=int(version) if version is not None else None,
        alias=m.group("alias"),
    )
