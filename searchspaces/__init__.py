"""Search spaces, declared as data and registered by name.

Each space module defines a frozen `Space` subclass instance and registers it with
`register_space`. A space has three pure steps: `sample(trial, task) -> params`,
`decode(params, task) -> ArchSpec`, and the shared `build(ArchSpec) -> keras.Model`.
"""

from __future__ import annotations

from searchspaces._arch import ArchSpec, ConvBlock, DSBlock, MBBlock
from searchspaces._registry import Space, get_space, list_spaces, register_space

__all__ = [
    "ArchSpec",
    "ConvBlock",
    "DSBlock",
    "MBBlock",
    "Space",
    "get_space",
    "list_spaces",
    "register_space",
]
