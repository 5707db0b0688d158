"""The one root exception of tinyzoo.

Every error a user can cause (bad board, bad budget, bad file, unknown model) is a
`TinyzooError`; the CLI prints its message as one line and exits with code 2.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["TinyzooError", "from_ctrl_c", "raise_interrupt", "unknown_name"]


class TinyzooError(Exception):
    """A problem with what the user asked for: message says what, what is valid, and the fix."""


def from_ctrl_c(exc: BaseException | None) -> bool:
    """Whether `exc` is a KeyboardInterrupt or was raised while one was being handled.

    Ctrl-C inside Optuna's journal-file lock can surface as the OSError its cleanup raises
    while handling the KeyboardInterrupt: the same interruption.
    """
    while exc is not None:
        if isinstance(exc, KeyboardInterrupt):
            return True
        exc = exc.__context__
    return False


def raise_interrupt(signum: int, frame: object) -> None:
    """A signal handler: SIGTERM (`kill`) or SIGHUP stops the process as Ctrl-C does."""
    import signal

    raise KeyboardInterrupt(signal.Signals(signum).name)


def unknown_name(kind: str, received: str, valid: Iterable[str], fix: str = "") -> TinyzooError:
    """Build the error for an unknown name, with close matches (difflib) and the valid set."""
    names = sorted(valid)
    close = difflib.get_close_matches(received, names, n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    listing = ", ".join(names) if len(names) <= 20 else ", ".join(names[:20]) + ", ..."
    tail = f" {fix}" if fix else ""
    return TinyzooError(f"unknown {kind} {received!r}.{hint} Valid: {listing}.{tail}")
