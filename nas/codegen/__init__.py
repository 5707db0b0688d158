"""C output: a model as TensorFlow Lite Micro sources (array, arena size, a main.cc).

    paths = write_c_sources(tflite_bytes, Path("out"), arena_bytes=profile.arena_bytes)

Later: an interpreter-free C model (see DESIGN.md) lives beside this, same entry style.
"""

from __future__ import annotations

from nas.codegen._tflm import C_SOURCES, write_c_sources

__all__ = ["C_SOURCES", "write_c_sources"]
