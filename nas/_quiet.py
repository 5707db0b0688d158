"""Keep TensorFlow's log noise off the user's terminal."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator

__all__ = ["capture_fd", "quiet_tensorflow"]


@contextlib.contextmanager
def capture_fd(fd: int = 2) -> Iterator[list[str]]:
    """Capture what C code writes to file descriptor `fd` (TFLM prints there, not to sys.stderr)."""
    out: list[str] = []
    sys.stderr.flush()
    saved = os.dup(fd)
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), fd)
        try:
            yield out
        finally:
            sys.stderr.flush()
            os.dup2(saved, fd)
            os.close(saved)
            tmp.seek(0)
            out.append(tmp.read().decode("utf-8", "replace"))


def quiet_tensorflow() -> None:
    """Import TensorFlow (Keras' default backend here) with its C++ notices (absl, CUDA probing,
    oneDNN) swallowed.

    It also turns oneDNN's kernels off (TF_ENABLE_ONEDNN_OPTS=0, unless set), which changes the
    numbers as well as the notices: trainings are deterministic per seed either way, but not the
    same with it on (docs/RESULTS.md, "Which epoch a training keeps"). So it must run before
    anything imports TensorFlow or Keras, as every module here that imports them does.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import logging
    import warnings

    # Another backend (KERAS_BACKEND=jax, say, on a machine with a GPU and no TensorFlow) can
    # train and evaluate; converting to .tflite still needs TensorFlow.
    if os.environ["KERAS_BACKEND"] == "tensorflow" and "tensorflow" not in sys.modules:
        # These are written to fd 2 at import time, past TF_CPP_MIN_LOG_LEVEL.
        with capture_fd(2):
            import tensorflow  # noqa: F401
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="tensorflow")
    warnings.filterwarnings("ignore", module="keras")
