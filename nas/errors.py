"""The one root exception of tinyzoo.

Every error a user can cause (bad board, bad budget, bad file, unknown model) is a
`TinyzooError`; the CLI prints its message as one line and exits with code 2.
"""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import Iterable, Iterator
from typing import Any

__all__ = [
    "TinyzooError",
    "catch_interrupts",
    "from_ctrl_c",
    "interruptible",
    "interrupts_received",
    "raise_interrupt",
    "unknown_name",
]

_interrupts = 0  # signals raise_interrupt has turned into KeyboardInterrupt in this process


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
    """A signal handler (`catch_interrupts`): SIGINT, SIGTERM (`kill`) or SIGHUP stops the
    process as Ctrl-C does.

    Each call is counted (`interrupts_received`, `interruptible`): TensorFlow's C++ can lose the
    KeyboardInterrupt raised inside a training step and raise a SystemError instead
    ("Objects/listobject.c:338: bad argument to internal function", seen on Ctrl-C during
    `fit`), which the count lets nas.train and the CLI recognise as the interruption it is.
    """
    import signal

    global _interrupts
    _interrupts += 1
    raise KeyboardInterrupt(signal.Signals(signum).name)


def interrupts_received() -> int:
    """How many signals `raise_interrupt` has handled in this process."""
    return _interrupts


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Around native code that can lose a KeyboardInterrupt (TensorFlow's training step).

    Ctrl-C is caught for the block (`catch_interrupts`, so scripts that call nas.train
    directly get it too); after a signal inside it, an exception becomes the interruption,
    and so does a normal end (the KeyboardInterrupt was swallowed).
    """
    import signal

    seen = _interrupts
    previous = catch_interrupts(signal.SIGINT)
    try:
        yield
    except Exception as e:
        if _interrupts == seen:
            raise
        raise KeyboardInterrupt(f"interrupted ({type(e).__name__} from native code)") from e
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if _interrupts != seen:
        raise KeyboardInterrupt("interrupted (the signal was lost in native code)")


def catch_interrupts(*signums: int) -> dict[int, Any]:
    """Install `raise_interrupt` for `signums`; returns the handlers replaced, for
    `signal.signal` to restore (none outside the main thread, where Python takes no handler).

    A signal that is ignored stays ignored (SIGHUP under `nohup`; SIGINT in `cmd &` from a
    script), and SIGINT is taken only from Python's own Ctrl-C handler, not from one that an
    embedding program set.
    """
    import signal
    import threading

    previous: dict[int, Any] = {}
    if threading.current_thread() is not threading.main_thread():
        return previous
    for signum in signums:
        current = signal.getsignal(signum)
        if current is signal.SIG_IGN or (
            signum == signal.SIGINT and current is not signal.default_int_handler
        ):
            continue
        previous[signum] = signal.signal(signum, raise_interrupt)
    return previous


def unknown_name(kind: str, received: str, valid: Iterable[str], fix: str = "") -> TinyzooError:
    """Build the error for an unknown name, with close matches (difflib) and the valid set."""
    names = sorted(valid)
    close = difflib.get_close_matches(received, names, n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    listing = ", ".join(names) if len(names) <= 20 else ", ".join(names[:20]) + ", ..."
    tail = f" {fix}" if fix else ""
    return TinyzooError(f"unknown {kind} {received!r}.{hint} Valid: {listing}.{tail}")
