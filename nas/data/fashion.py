"""Fashion-MNIST from Debian's `dataset-fashion-mnist` (IDX files), Keras' downloader as fallback.

Why the Debian package first: it works offline and pins the bytes, so a search run on a
build machine and a zoo entry's test accuracy refer to the same images.
"""

from __future__ import annotations

import functools
import gzip
import subprocess
from pathlib import Path

import numpy as np

from nas.data._dataset import Dataset, make_dataset, stratified_split
from nas.errors import TinyzooError

__all__ = ["LABELS", "load_fashion", "read_idx"]

LABELS = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
RESOLUTIONS = (12, 16, 20, 24, 28)
N_VAL = 5000
# Fixed, independent of load_task's seed: every trial and every zoo entry validates on the
# same 5,000 images, so their validation accuracies can be compared.
SPLIT_SEED = 20170825  # Fashion-MNIST's release date

DEBIAN_PACKAGE = "dataset-fashion-mnist"
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
_IDX_IMAGES, _IDX_LABELS = 0x00000803, 0x00000801  # magic: uint8 data, 3 resp. 1 dimensions
_REINSTALL = f"Reinstall it: apt-get install --reinstall {DEBIAN_PACKAGE}."


def read_idx(path: Path, magic: int) -> np.ndarray:
    """Decode one gzipped IDX file (LeCun's MNIST format) into a uint8 array.

    Layout: big-endian int32 magic (0x08 = uint8, then the number of dimensions), one int32
    per dimension, then the raw bytes. Anything else is reported as a corrupt file.
    """
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as exc:
        raise TinyzooError(f"cannot read {path}: {exc}. {_REINSTALL}") from None
    ndim = magic & 0xFF
    header = 4 * (1 + ndim)
    if len(raw) < header or int.from_bytes(raw[:4], "big") != magic:
        found = raw[:4].hex() if len(raw) >= 4 else f"{len(raw)} bytes"
        raise TinyzooError(
            f"{path} is not an IDX file with magic 0x{magic:08x} (found {found}). {_REINSTALL}"
        )
    shape = tuple(int.from_bytes(raw[4 * i : 4 * i + 4], "big") for i in range(1, ndim + 1))
    n = int(np.prod(shape))
    if len(raw) - header != n:
        raise TinyzooError(
            f"{path} is truncated or corrupt: header says {shape} = {n} bytes of data, "
            f"file has {len(raw) - header}. {_REINSTALL}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def find_debian_dir() -> Path:
    """Where dpkg installed the IDX files; Debian's usual path when dpkg cannot tell."""
    try:
        listed = subprocess.run(
            ["dpkg", "-L", DEBIAN_PACKAGE], capture_output=True, text=True, timeout=10, check=True
        ).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return DEBIAN_DIR
    for line in listed:
        if line.endswith(FILES["train"][0]):
            return Path(line).parent
    return DEBIAN_DIR


def _load_keras() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from nas._quiet import quiet_tensorflow

    quiet_tensorflow()  # TensorFlow's settings (oneDNN off) before its first import, as everywhere
    try:
        import keras

        (xtr, ytr), (xte, yte) = keras.datasets.fashion_mnist.load_data()
    except Exception as exc:  # no internet, proxy, corrupt cache: all mean the same to the user
        raise TinyzooError(
            f"Fashion-MNIST is not installed and downloading it failed ({type(exc).__name__}: "
            f"{exc}). Install it: apt-get install {DEBIAN_PACKAGE}."
        ) from None
    return xtr, ytr, xte, yte


def _load_raw(directory: Path | None) -> tuple[tuple[np.ndarray, ...], str]:
    """Raw uint8 images and labels (train, test), and where they came from."""
    directory = directory or find_debian_dir()
    paths = [directory / f for pair in FILES.values() for f in pair]
    if all(p.is_file() for p in paths):
        xtr, ytr, xte, yte = (
            read_idx(p, _IDX_IMAGES if "images" in p.name else _IDX_LABELS) for p in paths
        )
        source = f"Debian package {DEBIAN_PACKAGE} ({directory})"
    else:
        xtr, ytr, xte, yte = _load_keras()
        source = "keras.datasets.fashion_mnist download"
    for x, y, split in ((xtr, ytr, "train"), (xte, yte, "test")):
        if x.shape[1:] != (28, 28) or len(x) != len(y):
            raise TinyzooError(
                f"Fashion-MNIST {split} split has images {x.shape} and labels {y.shape}; "
                f"expected (N, 28, 28) and (N,). {_REINSTALL}"
            )
    return (xtr, ytr, xte, yte), source


@functools.lru_cache(maxsize=2)
def load_fashion(directory: Path | None = None) -> Dataset:
    """Fashion-MNIST: 55 K train / 5 K val (fixed, stratified) from the 60 K, 10 K test as shipped.

    Cached: the search loads it once per process and every trial reuses the same arrays.
    """
    (xtr, ytr, xte, yte), source = _load_raw(directory)
    train, val = stratified_split(ytr, (len(ytr) - N_VAL, N_VAL), seed=SPLIT_SEED)
    return make_dataset(
        name="fashion",
        labels=LABELS,
        x=xtr[..., None].astype(np.float32) / np.float32(255.0),
        y=ytr,
        splits=[train, val],
        x_test=xte[..., None].astype(np.float32) / np.float32(255.0),
        y_test=yte,
        resolutions=RESOLUTIONS,
        description=(
            f"Fashion-MNIST (Xiao, Rasul & Vollgraf 2017), from the {source}: "
            f"{len(train)} train / {len(val)} validation (stratified, fixed seed) from the "
            f"{len(ytr)} training images, test = the {len(yte)} official test images."
        ),
        base_recipe="uint8 pixels / 255.0 as float32",
        augmentation="shift_flip",
    )
