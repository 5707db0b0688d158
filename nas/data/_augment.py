"""Per-epoch image augmentation for full trainings (`nas.train.train(augment=...)`)."""

from __future__ import annotations

import numpy as np

__all__ = ["shift_flip"]


def shift_flip(x: np.ndarray, rng: np.random.Generator, shift: int = 2) -> np.ndarray:
    """A fresh variant of images (N, H, W, C) in [0, 1] for one epoch of training.

    Each image is moved by up to `shift` pixels along each axis, the uncovered border filled
    with 0 (the datasets' background, as in the usual pad-and-crop), and mirrored left to right
    with probability one half. For garments, not for digits or text: a mirrored shirt is a
    shirt, a mirrored 2 is not.
    """
    n, h, w = x.shape[:3]
    padded = np.pad(x, ((0, 0), (shift, shift), (shift, shift), (0, 0)))
    dy = rng.integers(0, 2 * shift + 1, (n, 1, 1))
    dx = rng.integers(0, 2 * shift + 1, (n, 1))
    cols = np.where(rng.random((n, 1)) < 0.5, np.arange(w)[::-1], np.arange(w))[:, None, :]
    rows = np.arange(h)[None, :, None]
    out = padded[np.arange(n)[:, None, None], rows + dy, cols + dx[:, None, :]]
    return out.astype(x.dtype, copy=False)
