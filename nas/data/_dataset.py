"""The `Dataset` record every task loader returns, and the stratified split they share."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from nas.data._resize import resize_bilinear
from nas.errors import TinyzooError

if TYPE_CHECKING:
    from searchspaces._registry import Geometry

__all__ = ["Dataset", "make_dataset", "stratified_split"]


def _spec_augment() -> Callable[[np.ndarray, np.random.Generator], np.ndarray]:
    from nas.data.kws import spec_augment

    return spec_augment


def _shift_flip() -> Callable[[np.ndarray, np.random.Generator], np.ndarray]:
    from nas.data._augment import shift_flip

    return shift_flip


# Name -> the function (imported on use). "spec_augment": time shifts and masks of MFCC maps;
# "shift_flip": shifts of up to 2 pixels and left-right mirroring, for garments (a mirrored
# digit or letter is another symbol, so digits and a user's image folders get "none").
AUGMENTATIONS: dict[
    str, Callable[[], Callable[[np.ndarray, np.random.Generator], np.ndarray] | None]
] = {
    "none": lambda: None,
    "spec_augment": _spec_augment,
    "shift_flip": _shift_flip,
}

# Final epochs an augmentation needs before it pays. Fashion's shifts and mirroring cost 1.50
# points of test accuracy at the demo's 6 epochs (91.53 against 90.03 %, distilled, 2 seeds:
# bench/augment.py --arch ... --distil) and add 0.5 to 0.8 at 30 (docs/RESULTS.md, "fashion:
# augmentation and epochs").
AUGMENT_MIN_EPOCHS = {"shift_flip": 30}

RESIZE_RECIPE = "bilinearly (half-pixel centres, no antialiasing; tf.image.resize 'bilinear')"


# eq=False: comparing datasets field by field would compare 60 K-image arrays elementwise (and
# fail on truth value); identity is the meaningful equality for a loaded dataset.
@dataclass(frozen=True, eq=False)
class Dataset:
    """One task's data: three splits, their labels, and how raw data becomes model input.

    `x_*` are float32 NHWC (images in [0, 1]; kws: MFCCs as nas.data.kws.mfcc gives them); `y_*`
    are int64 class ids into `labels`. The arrays of a loaded task are shared (loaders cache
    them) and read-only: copy before changing them.
    """

    name: str
    labels: tuple[str, ...]
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    native_size: int  # square side of the raw data, before any resize
    resolutions: tuple[int, ...]  # square sides the search may feed a model at
    description: str  # where the data came from, for the model card
    # The raw -> [0, 1] float32 part of the recipe at native size (without the resize step).
    base_recipe: str = dataclasses.field(default="", repr=False)
    # Width of a non-square input that is never resized (kws: 49 frames x 10 MFCC); None: square.
    native_width: int | None = None
    # Per-epoch augmentation of full trainings, by name (AUGMENTATIONS): the loader's choice.
    augmentation: str = "none"
    # The loaded dataset this one was derived from by `at_resolution` or `subset`, which
    # `fingerprint` answers for: resized or sampled, it is still that data.
    origin: Dataset | None = dataclasses.field(default=None, repr=False)

    @property
    def size(self) -> int:
        """Current square side of the images (native unless made by `at_resolution`)."""
        return int(self.x_train.shape[1])

    @property
    def channels(self) -> int:
        return int(self.x_train.shape[3])

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    def geometry(self) -> Geometry:
        """What this task fixes about a model, for a search space to sample within."""
        from searchspaces._registry import Geometry

        return Geometry(
            resolutions=self.resolutions,
            channels=self.channels,
            num_classes=self.num_classes,
            width=self.native_width,
        )

    def _check_size(self, size: int) -> None:
        if size not in self.resolutions:
            valid = ", ".join(map(str, self.resolutions))
            raise TinyzooError(
                f"task {self.name!r} cannot be fed at {size}x{size}: valid resolutions are "
                f"{valid}. Pick one of those (the search space samples from them)."
            )

    @property
    def augment(self) -> Callable[[np.ndarray, np.random.Generator], np.ndarray] | None:
        """Per-epoch augmentation for full trainings (the final one, fine-tuning, teachers; proxy
        trials train without), or None: `AUGMENTATIONS[self.augmentation]`."""
        return AUGMENTATIONS[self.augmentation]()

    def for_epochs(self, epochs: int) -> Dataset:
        """`self`, or a copy without augmentation when a final training of `epochs` is too short
        for it to pay (AUGMENT_MIN_EPOCHS)."""
        if epochs >= AUGMENT_MIN_EPOCHS.get(self.augmentation, 0):
            return self
        return dataclasses.replace(self, augmentation="none")

    def at_resolution(self, size: int) -> Dataset:
        """All three splits resized to `size` with `resize_bilinear`; `self` if already that size.

        Always resizes from native pixels (resizing twice would blur twice and no longer match
        `preprocessing(size)`), so it must be called on the dataset `load_task` returned.
        """
        if size == self.size:
            return self
        self._check_size(size)
        if self.size != self.native_size:
            raise TinyzooError(
                f"dataset {self.name!r} is already resized to {self.size}x{self.size}; "
                f"call at_resolution({size}) on the native-size dataset from load_task instead."
            )
        return dataclasses.replace(
            self,
            x_train=_frozen(resize_bilinear(self.x_train, size)),
            x_val=_frozen(resize_bilinear(self.x_val, size)),
            x_test=_frozen(resize_bilinear(self.x_test, size)),
            origin=self.origin or self,
        )

    def preprocessing(self, size: int) -> str:
        """The exact recipe from raw data to the model's float input (before int8 quantization).

        A firmware author reproduces this on the device; a different resize filter or scale
        costs accuracy silently, so the card states the filter and its conventions.
        """
        self._check_size(size)
        c = self.channels
        width = self.native_width or self.native_size
        recipe = f"{self.base_recipe} ({self.native_size}x{width}x{c})"
        if size != self.native_size:
            recipe += f", resized {RESIZE_RECIPE} to {size}x{size}x{c}"
        return recipe

    @functools.cached_property
    def fingerprint(self) -> str:
        """A hash (hex) of the labels and the three splits' arrays: the data's identity, which
        a user's folder changes when recordings or images are added, removed or re-split.
        Computed once (a search names its study, finds its teacher and tags its model by it);
        a resized or subset dataset gives its origin's (the loaded arrays')."""
        if self.origin is not None:
            return self.origin.fingerprint
        h = hashlib.sha1(json.dumps(list(self.labels)).encode())
        for a in (self.x_train, self.y_train, self.x_val, self.y_val, self.x_test, self.y_test):
            h.update(np.ascontiguousarray(a).tobytes())
        return h.hexdigest()

    def subset(self, n_train: int, *, seed: int) -> Dataset:
        """A stratified sample of `n_train` training examples, for fast proxy training.

        Validation and test stay whole so that proxy accuracies stay comparable across trials.
        Returns `self` when `n_train` covers the whole training split.
        """
        if not isinstance(n_train, int | np.integer) or n_train < 1:
            raise TinyzooError(f"subset size must be a positive integer, received {n_train!r}.")
        if n_train >= len(self.y_train):
            return self
        keep, _ = stratified_split(self.y_train, (n_train, len(self.y_train) - n_train), seed=seed)
        return dataclasses.replace(
            self,
            x_train=_frozen(self.x_train[keep]),
            y_train=_frozen(self.y_train[keep]),
            origin=self.origin or self,
        )


def stratified_split(y: np.ndarray, counts: tuple[int, ...], *, seed: int) -> list[np.ndarray]:
    """Split indices of `y` into parts of exactly `counts`, each with the class mix of `y`.

    Every example gets its rank within its class as a fraction ((i + 0.5) / class size, in a
    random order per class); sorting by that fraction interleaves the classes evenly, so
    consecutive slices of any length are stratified to within one example per class. Unlike
    per-class rounding, the parts have exactly the requested sizes. Each part is sorted.
    """
    if sum(counts) != len(y):
        raise ValueError(f"split counts {counts} must sum to {len(y)}")
    rng = np.random.default_rng(seed)
    frac = np.empty(len(y), dtype=np.float64)
    for cls in np.unique(y):
        idx = np.flatnonzero(y == cls)
        frac[rng.permutation(idx)] = (np.arange(len(idx)) + 0.5) / len(idx)
    # The random key breaks ties between classes of equal size without favouring low ids.
    order = np.lexsort((rng.random(len(y)), frac))
    bounds = np.cumsum((0, *counts))
    return [np.sort(order[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _frozen(a: np.ndarray) -> np.ndarray:
    """Mark `a` read-only: loaders cache datasets, so an in-place edit would leak across calls."""
    a.flags.writeable = False
    return a


def make_dataset(
    *,
    name: str,
    labels: tuple[str, ...],
    x: np.ndarray,
    y: np.ndarray,
    splits: list[np.ndarray],
    x_test: np.ndarray | None = None,
    y_test: np.ndarray | None = None,
    resolutions: tuple[int, ...],
    description: str,
    base_recipe: str,
    augmentation: str | None = None,
) -> Dataset:
    """Assemble a Dataset from one pool and split indices (train, val[, test]).

    `augmentation` names an entry of AUGMENTATIONS; by default "spec_augment" for inputs of
    fixed, non-square shape (MFCC maps) and "none" for images."""
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y, dtype=np.int64)
    if x_test is None or y_test is None:
        tr, va, te = splits
        x_test, y_test = x[te], y[te]
    else:
        tr, va = splits
    return Dataset(
        name=name,
        labels=labels,
        x_train=_frozen(x[tr]),
        y_train=_frozen(y[tr]),
        x_val=_frozen(x[va]),
        y_val=_frozen(y[va]),
        x_test=_frozen(np.asarray(x_test, dtype=np.float32)),
        y_test=_frozen(np.asarray(y_test, dtype=np.int64)),
        native_size=int(x.shape[1]),
        native_width=None if x.shape[2] == x.shape[1] else int(x.shape[2]),
        resolutions=resolutions,
        description=description,
        base_recipe=base_recipe,
        augmentation=augmentation or ("none" if x.shape[2] == x.shape[1] else "spec_augment"),
    )
