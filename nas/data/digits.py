"""scikit-learn's 8x8 handwritten digits: ships with scikit-learn, so it needs no download.

1,797 images is small enough to train a model in seconds, which makes it the task for tests
and for trying a board quickly.
"""

from __future__ import annotations

import functools

import numpy as np

from nas.data._dataset import Dataset, make_dataset, stratified_split

__all__ = ["load_digits"]

LABELS = tuple(str(i) for i in range(10))
RESOLUTIONS = (8,)  # 8x8 is already tiny; a smaller input would lose the digit
SPLIT_SEED = 1998  # fixed: the UCI optdigits release year; independent of load_task's seed
FRACTIONS = (0.70, 0.15)  # train, val; test gets the rest


@functools.lru_cache(maxsize=1)
def load_digits() -> Dataset:
    """Digits split 70/15/15 (stratified, fixed seed); pixel counts 0..16 scaled to [0, 1]."""
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    images, target = bunch.images, bunch.target
    n = len(target)
    n_train, n_val = (round(n * f) for f in FRACTIONS)
    splits = stratified_split(target, (n_train, n_val, n - n_train - n_val), seed=SPLIT_SEED)
    return make_dataset(
        name="digits",
        labels=LABELS,
        x=images[..., None].astype(np.float32) / np.float32(16.0),
        y=target,
        splits=splits,
        resolutions=RESOLUTIONS,
        description=(
            "scikit-learn's optical-recognition digits (UCI optdigits test set, 8x8 counts "
            f"0..16), {n} images split {n_train}/{n_val}/{n - n_train - n_val} "
            "train/validation/test, stratified with a fixed seed."
        ),
        base_recipe="integer pixel counts 0..16 (sklearn.datasets.load_digits) / 16.0 as float32",
    )
