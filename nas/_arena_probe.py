"""Child process: does MODEL allocate in an arena of N bytes? Exit 0 yes, 1 no.

Run as `python -m nas._arena_probe MODEL N`. It lives in its own process because TFLM's
Python runtime can crash (SIGSEGV) on some too-small arenas instead of reporting an error.
"""

from __future__ import annotations

import os
import sys


def main() -> int:
    path, size = sys.argv[1], int(sys.argv[2])
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)  # TFLM reports allocation failures on fd 2
    from tflite_micro import runtime

    with open(path, "rb") as f:
        data = f.read()
    try:
        runtime.Interpreter.from_bytes(data, arena_size=size)
    except Exception:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
