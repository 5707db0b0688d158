"""int8 full-integer conversion and verification on the real TFLM runtime.

Conversion goes Keras 3 -> SavedModel (`model.export`) -> TFLiteConverter.from_saved_model:
`from_keras_model` breaks on Keras 3 models in TF 2.21, and `from_concrete_functions` fails
int8 calibration (see shared REFERENCE). The file is then made compact for TFLM (`compact`):
the strings TFLM never reads go (tensor names, the signature, the description: TF's own
`flatbuffer_utils.strip_strings`), and each weight or bias tensor keeps one zero point instead
of one per channel (all are 0; TFLM's allocator reads a single value for every channel). For
the kws DS-CNN 64 that is 40,880 -> 31,632 B, with the same arena and outputs on TFLM.
TensorFlow Lite's desktop interpreter insists on one zero point per scale: `expand_zero_points`
gives it the file it wants.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from nas._quiet import capture_fd, quiet_tensorflow
from nas.errors import TinyzooError

__all__ = [
    "Verification",
    "convert_int8",
    "convert_and_verify",
    "compact",
    "expand_zero_points",
    "measure_arena",
    "tflm_accuracy",
    "tflm_outputs",
    "verify",
    "quiet_tensorflow",
]


def convert_int8(model: Any, representative: np.ndarray) -> bytes:
    """Full-integer int8 .tflite (int8 input and output) calibrated on `representative`."""
    quiet_tensorflow()
    import tensorflow as tf

    with tempfile.TemporaryDirectory() as d, capture_fd(2):
        path = os.path.join(d, "saved")
        model.export(path, format="tf_saved_model", verbose=False)
        conv = tf.lite.TFLiteConverter.from_saved_model(path)
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        rep = representative.astype(np.float32)

        def gen() -> Iterator[list[np.ndarray]]:
            for i in range(len(rep)):
                yield [rep[i : i + 1]]

        conv.representative_dataset = gen
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
        return compact(bytes(conv.convert()))


def compact(tflite: bytes) -> bytes:
    """`tflite` with only what TFLM reads: no tensor names, signature or description (TFLM runs
    by tensor index), and one zero point for each constant tensor whose per-channel zero points
    are all 0 (int8 weights and int32 biases are symmetric). TFLM's allocator
    (`InitializeTfLiteTensorFromFlatbuffer`, micro_allocator.cc) documents this "space-saving
    optimization": it copies the single value to every channel. 8 bytes less per channel; the
    operator codes and the converter's metadata stay."""

    def one_zero_point(t: Any) -> None:
        q = t.quantization
        if q is None or q.zeroPoint is None or len(q.zeroPoint) < 2 or np.any(q.zeroPoint):
            return
        q.zeroPoint = np.zeros(1, dtype=np.int64)

    return _rewrite(tflite, one_zero_point, strip=True)


def expand_zero_points(tflite: bytes) -> bytes:
    """A `compact` file as TensorFlow Lite's desktop interpreter (and LiteRT) accepts it: one
    zero point per scale again. TFLM runs either form the same."""

    def per_scale(t: Any) -> None:
        q = t.quantization
        if q is None or q.scale is None or q.zeroPoint is None:
            return
        if len(q.zeroPoint) == 1 and len(q.scale) > 1:
            q.zeroPoint = np.full(len(q.scale), q.zeroPoint[0], dtype=np.int64)

    return _rewrite(tflite, per_scale, strip=False)


def _rewrite(tflite: bytes, each_tensor: Any, *, strip: bool) -> bytes:
    quiet_tensorflow()
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(tflite))
    if strip:
        flatbuffer_utils.strip_strings(model)
    for graph in model.subgraphs:
        for t in graph.tensors:
            b = model.buffers[t.buffer]  # constant (weights, biases): as nas._tflite reads it
            if (b.data is not None and len(b.data) > 0) or (b.offset or 0) > 1:
                each_tensor(t)
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


@dataclass(frozen=True)
class Verification:
    arena_bytes: int  # smallest arena TFLM allocates in (bisected)
    recorded_total: int  # "Arena allocation total" from the allocation record
    head_bytes: int  # the greedy planner's plan for non-persistent tensors
    tail_bytes: int  # persistent allocations
    int8_accuracy: float | None
    n_eval: int
    input_scale: float
    input_zero_point: int
    output_scale: float
    output_zero_point: int

    @property
    def arena(self) -> int:
        """The arena tinyzoo names: the larger of the smallest that allocates and the record."""
        return max(self.arena_bytes, self.recorded_total)


def _interpreter(tflite: bytes, arena_size: int) -> Any:
    from tflite_micro import runtime

    return runtime.Interpreter.from_bytes(tflite, arena_size=arena_size)


def _allocates(model_path: str, arena_size: int) -> bool:
    import subprocess
    import sys

    rc = subprocess.run(
        [sys.executable, "-m", "nas._arena_probe", model_path, str(arena_size)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    ).returncode
    return rc == 0  # 1: allocation refused; negative: TFLM crashed on this arena


_RECORD = re.compile(r"Arena allocation (total|head|tail) (\d+) bytes")


def allocation_record(tflite: bytes, arena_size: int = 1 << 22) -> dict[str, int]:
    """TFLM's own record (total, head, tail), printed by print_allocations() on fd 2."""
    with capture_fd(2) as text:
        _interpreter(tflite, arena_size).print_allocations()
    record = {k: int(v) for k, v in _RECORD.findall("".join(text))}
    if set(record) != {"total", "head", "tail"}:
        raise TinyzooError("TFLM printed no allocation record; is this tflite-micro build too old?")
    return record


def measure_arena(tflite: bytes, guess: int | None = None) -> tuple[int, int, int, int]:
    """(smallest arena that allocates, recorded total, head, tail), measured on TFLM.

    The smallest arena is found by probing TFLM, each probe in a child process: when `guess`
    allocates and `guess - 1` does not, that is it (two probes); otherwise bisection. It can
    exceed the recorded total (Prepare's temporaries and the planner's scratch are not in the
    record) or fall below it by up to 15 bytes (tail padding depends on the size mod 16).
    """
    record = allocation_record(tflite)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "model.tflite")
        with open(path, "wb") as f:
            f.write(tflite)
        if guess is not None and _allocates(path, guess) and not _allocates(path, guess - 1):
            return guess, record["total"], record["head"], record["tail"]
        lo, hi = 0, record["total"]
        while not _allocates(path, hi):
            lo, hi = hi, hi * 2
        while hi - lo > 1:  # invariant: lo fails (or is 0), hi allocates
            mid = (lo + hi) // 2
            if _allocates(path, mid):
                hi = mid
            else:
                lo = mid
    return hi, record["total"], record["head"], record["tail"]


def _outputs(ip: Any, x: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """Every int8 output row of interpreter `ip` for float inputs `x`, quantized as its input."""
    q = np.clip(np.round(x / scale) + zero_point, -128, 127).astype(np.int8)
    rows = []
    for i in range(len(q)):
        ip.set_input(q[i : i + 1], 0)
        ip.invoke()
        rows.append(ip.get_output(0)[0].copy())
    return np.stack(rows)


def _accuracy(ip: Any, x: np.ndarray, y: np.ndarray, scale: float, zero_point: int) -> float | None:
    if not len(x):
        return None
    return float(np.mean(np.argmax(_outputs(ip, x, scale, zero_point), axis=1) == y))


def tflm_outputs(tflite: bytes, x: np.ndarray, arena_bytes: int) -> np.ndarray:
    """The int8 output rows of `tflite` on TFLM's reference kernels over float inputs `x`."""
    with capture_fd(2):
        ip = _interpreter(tflite, arena_bytes)
    iq = ip.get_input_details(0)["quantization_parameters"]
    return _outputs(ip, x, float(iq["scales"][0]), int(iq["zero_points"][0]))


def tflm_correct(tflite: bytes, x: np.ndarray, y: np.ndarray, arena_bytes: int) -> np.ndarray:
    """Per example of float inputs `x`: is `tflite`'s top class on TFLM's reference kernels
    its label in `y`?"""
    return np.argmax(tflm_outputs(tflite, x, arena_bytes), axis=1) == y


def tflm_accuracy(tflite: bytes, x: np.ndarray, y: np.ndarray, arena_bytes: int) -> float | None:
    """int8 accuracy of `tflite` on TFLM's reference kernels over float inputs `x`."""
    if not len(x):
        return None
    return float(np.mean(tflm_correct(tflite, x, y, arena_bytes)))


def verify(tflite: bytes, x: np.ndarray | None = None, y: np.ndarray | None = None) -> Verification:
    """Measure the arena and, given data, the int8 accuracy on TFLM's reference kernels."""
    from nas.profile import profile_tflite

    arena, total, head, tail = measure_arena(tflite, guess=profile_tflite(tflite).min_arena_bytes)
    with capture_fd(2):
        ip = _interpreter(tflite, arena)
    ind, outd = ip.get_input_details(0), ip.get_output_details(0)
    iq, oq = ind["quantization_parameters"], outd["quantization_parameters"]
    in_scale, in_zp = float(iq["scales"][0]), int(iq["zero_points"][0])
    out_scale, out_zp = float(oq["scales"][0]), int(oq["zero_points"][0])
    acc = None
    n = 0
    if x is not None and y is not None:
        acc, n = _accuracy(ip, x, y, in_scale, in_zp), len(x)
    return Verification(
        arena_bytes=arena,
        recorded_total=total,
        head_bytes=head,
        tail_bytes=tail,
        int8_accuracy=acc,
        n_eval=n,
        input_scale=in_scale,
        input_zero_point=in_zp,
        output_scale=out_scale,
        output_zero_point=out_zp,
    )


def convert_and_verify(model: Any, data: Any, seed: int) -> tuple[bytes, Verification]:
    """int8-convert `model` (calibrated on up to 500 seeded training images of `data`, a
    Dataset at the model's resolution) and verify it on TFLM over the test split."""
    rng = np.random.default_rng(seed)
    n = len(data.x_train)
    tflite = convert_int8(model, data.x_train[rng.choice(n, size=min(500, n), replace=False)])
    return tflite, verify(tflite, data.x_test, data.y_test)
