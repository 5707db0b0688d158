"""tinyzoo's search pipeline. Importing `nas` imports no TensorFlow, MLflow or Optuna."""

from __future__ import annotations

from typing import Any

from nas.boards import BOARDS, Board, Budget, budget_for, get_board
from nas.errors import TinyzooError

__all__ = ["BOARDS", "Board", "Budget", "TinyzooError", "budget_for", "get_board", "search"]


def search(**kwargs: Any) -> Any:
    """Search, verify and register a model; see `nas.pipeline.run_search` for the options."""
    from nas.pipeline import run_search

    return run_search(**kwargs)
