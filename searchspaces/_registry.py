"""The space registry and the contract every space meets."""

from __future__ import annotations

import abc
from dataclasses import asdict, dataclass, is_dataclass
from typing import Any

from nas.errors import unknown_name
from searchspaces._arch import ArchSpec

__all__ = ["Geometry", "Space", "get_space", "list_spaces", "register_space"]


@dataclass(frozen=True)
class Geometry:
    """What a task fixes about a model: the resolutions it may be fed at, channels, classes."""

    resolutions: tuple[int, ...]  # input heights the task's preprocessing can produce
    channels: int
    num_classes: int
    width: int | None = None  # a fixed input width (kws: 10 MFCC); None: square inputs

    def shape(self, resolution: int) -> tuple[int, int, int]:
        """The input shape (H, W, C) at `resolution`."""
        return (resolution, self.width or resolution, self.channels)


class Space(abc.ABC):
    """A search space. Only `sample` talks to Optuna; `decode` is pure."""

    name: str
    description: str

    @abc.abstractmethod
    def sample(self, trial: Any, geometry: Geometry) -> dict[str, Any]:
        """Draw one point with `trial.suggest_*`; returns plain params."""

    @abc.abstractmethod
    def decode(self, params: dict[str, Any], geometry: Geometry) -> ArchSpec:
        """Params -> ArchSpec. Pure: same params, same spec."""

    @abc.abstractmethod
    def smallest(self, geometry: Geometry) -> ArchSpec:
        """The member with the least memory and flash: used to report what is feasible."""

    @abc.abstractmethod
    def widest(self, geometry: Geometry) -> ArchSpec:
        """A large member with no budget in mind: the default distillation teacher."""

    def seeds(self, geometry: Geometry) -> list[dict[str, Any]]:
        """Hand-designed members as `sample` params, preferred first: a TPE search's first
        trial is the first that fits its budget, so that the search starts from the known
        design scaled to fit rather than from nothing. None by default."""
        return []

    def teacher(self, geometry: Geometry) -> ArchSpec:
        """The architecture `teacher-<task>` is trained as: `widest` unless the space knows a
        better teacher for this geometry (which need not be a member)."""
        return self.widest(geometry)

    def largest(self, geometry: Geometry) -> ArchSpec:
        """The member pruning can take furthest (the most MACs above the channel floor): how
        far `--prune` can reach in this space. `widest` unless a space's teacher is smaller."""
        return self.widest(geometry)

    @abc.abstractmethod
    def narrowest(self, spec: ArchSpec) -> ArchSpec:
        """`spec` with every channel count at the space's floor: how far pruning can go."""

    def choices(self) -> dict[str, Any]:
        """The space's declared ranges (every field but name and description), for listing."""
        d: dict[str, Any] = asdict(self) if is_dataclass(self) else {}
        return {k: v for k, v in d.items() if k not in ("name", "description")}

    def build(self, spec: ArchSpec) -> Any:
        from searchspaces._build import build

        return build(spec)


_SPACES: dict[str, Space] = {}


def register_space(space: Space) -> Space:
    _SPACES[space.name] = space
    return space


def _load_builtin() -> None:
    # Importing a space module registers it.
    from searchspaces import dscnn, mbv1, mbv2  # noqa: F401


def get_space(name: str) -> Space:
    _load_builtin()
    try:
        return _SPACES[name]
    except KeyError:
        raise unknown_name("search space", name, _SPACES, "See `tinyzoo spaces`.") from None


def list_spaces() -> list[Space]:
    _load_builtin()
    return [_SPACES[k] for k in sorted(_SPACES)]
