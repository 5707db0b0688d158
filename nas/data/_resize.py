"""Bilinear resizing in numpy, identical to `tf.image.resize(x, (s, s), "bilinear")`.

Why not call TensorFlow: `import nas` must stay free of TensorFlow, and the resize is part of
the preprocessing recipe written into every model card, so it has to be one exact, documented
function that a firmware author can re-implement. TF's kernel (resize_bilinear_op.cc with
`half_pixel_centers=True`, which `tf.image.resize` uses when `antialias=False`) maps output
pixel i to input coordinate `(i + 0.5) * in / out - 0.5`, clamps the two neighbours to the
image and interpolates rows, then columns. No antialiasing: shrinking 28 -> 12 samples, it
does not average.
"""

from __future__ import annotations

import numpy as np

from nas.errors import TinyzooError

__all__ = ["resize_bilinear"]

# Resize this many images at a time: bounds the temporary gathers (4 per axis) to ~100 MB
# for Fashion-MNIST's 60 K images instead of ~1 GB.
_CHUNK = 8192


def _weights(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lower index, upper index and interpolation weight per output pixel, in TF's float32."""
    scale = np.float32(in_size) / np.float32(out_size)
    pos = (np.arange(out_size, dtype=np.float32) + np.float32(0.5)) * scale - np.float32(0.5)
    floor = np.floor(pos)
    lower = np.maximum(floor, 0).astype(np.int64)
    upper = np.minimum(np.ceil(pos), in_size - 1).astype(np.int64)
    return lower, upper, (pos - floor).astype(np.float32)


def resize_bilinear(x: np.ndarray, size: int) -> np.ndarray:
    """Resize NHWC images to `size` x `size`; returns float32 (to 1e-5 of tf.image.resize)."""
    if x.ndim != 4:
        raise TinyzooError(
            f"resize_bilinear needs NHWC images (4 dimensions), received shape {x.shape}. "
            "Add a batch axis with x[None] for one image."
        )
    if not isinstance(size, int | np.integer) or size < 1:
        raise TinyzooError(f"resize size must be a positive integer, received {size!r}.")
    x = np.asarray(x, dtype=np.float32)
    n, h, w, c = x.shape
    if (h, w) == (size, size):
        return x.copy()
    y0, y1, wy = _weights(h, size)
    x0, x1, wx = _weights(w, size)
    wy = wy[None, :, None, None]
    wx = wx[None, None, :, None]
    out = np.empty((n, size, size, c), dtype=np.float32)
    for start in range(0, n, _CHUNK):
        part = x[start : start + _CHUNK]
        # Same order of operations as TF's kernel: interpolate along x on the top and bottom
        # rows, then along y between them.
        top, bottom = part[:, y0], part[:, y1]
        top = top[:, :, x0] + (top[:, :, x1] - top[:, :, x0]) * wx
        bottom = bottom[:, :, x0] + (bottom[:, :, x1] - bottom[:, :, x0]) * wx
        out[start : start + _CHUNK] = top + (bottom - top) * wy
    return out
