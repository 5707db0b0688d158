"""A user's own images: one sub-folder per class (the torchvision ImageFolder layout).

    my_data/
      cat/  001.png 002.jpg ...
      dog/  a.bmp ...

Class names are the sorted sub-folder names. Images are stored at 32x32 (a microcontroller
model rarely affords more), or at the largest side among them when that is smaller (16x16
images stay 16x16: enlarged, they would add compute and no information), in grayscale when
every image is grey, else RGB: a colour channel the data does not use would triple the first
layer's input memory for nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from nas.data._dataset import Dataset, make_dataset, stratified_split
from nas.errors import TinyzooError

__all__ = ["EXTENSIONS", "class_dirs", "is_skipped", "load_folder"]

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".pgm")
NATIVE = 32  # the largest stored size
RESOLUTIONS = (16, 24, 32)  # offered to the search where not above the stored size
FRACTIONS = (0.8, 0.1)  # train, val; test gets the rest
MIN_IMAGES = 10  # so that validation and test get at least one image each


def is_skipped(name: str) -> bool:
    """A file or folder that is no data: hidden ones (macOS's ._name copies among them), and
    the __MACOSX folder that unzipping on macOS leaves."""
    return name.startswith(".") or name == "__MACOSX"


def class_dirs(root: Path, *, what: str = "images") -> list[Path]:
    """The class sub-folders of `root` (at least two), or one line saying what is wrong."""
    example = (
        "data/yes/*.wav and data/no/*.wav" if "wav" in what else "data/cat/*.png and data/dog/*.png"
    )
    if not root.is_dir():
        state = "is a file, not a folder" if root.exists() else "does not exist"
        raise TinyzooError(
            f"data folder {str(root)!r} {state}. Give a folder with one sub-folder of {what} "
            f"per class, e.g. {example}."
        )
    dirs = sorted(p for p in root.iterdir() if p.is_dir() and not is_skipped(p.name))
    if len(dirs) < 2:
        found = ", ".join(repr(d.name) for d in dirs) or "none"
        raise TinyzooError(
            f"data folder {str(root)!r} has {len(dirs)} class sub-folder(s) ({found}); a "
            f"classifier needs at least two. Put each class's {what} in its own sub-folder."
        )
    return dirs


def _images(class_dir: Path) -> list[Path]:
    files = sorted(
        p
        for p in class_dir.iterdir()
        if p.is_file() and p.suffix.lower() in EXTENSIONS and not is_skipped(p.name)
    )
    if not files:
        raise TinyzooError(
            f"class {class_dir.name!r} ({class_dir}) has no images ({', '.join(EXTENSIONS)}). "
            "Add images to it or remove the folder."
        )
    return files


def _open(path: Path, use: Any) -> Any:
    """`use(image)` on the opened image, or one line naming the file PIL cannot read."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            return use(im)
    except Exception as exc:  # PIL raises many types for a bad file
        raise TinyzooError(
            f"cannot read image {str(path)!r}: {type(exc).__name__}: {exc}. "
            "Delete or re-save that file."
        ) from None


def _read(path: Path, size: int) -> tuple[np.ndarray, bool]:
    """One image as size x size RGB uint8, and whether it is grey (R == G == B everywhere).

    Resizes before deciding the mode: PIL's bilinear filter works per channel, so a grey
    image stays exactly grey, and only the small copies are held in memory.
    """
    from PIL import Image

    rgb = _open(path, lambda im: im.convert("RGB"))
    small = np.asarray(rgb.resize((size, size), Image.Resampling.BILINEAR))
    grey = bool((small[..., 0] == small[..., 1]).all() and (small[..., 1] == small[..., 2]).all())
    return small, grey


def load_folder(root: Path, *, name: str, seed: int = 0) -> Dataset:
    """Load `root` and split it 80/10/10, stratified by class, shuffled by `seed`."""
    root = Path(root).expanduser()
    dirs = class_dirs(root)
    files = [(label, path) for label, d in enumerate(dirs) for path in _images(d)]
    if len(files) < MIN_IMAGES:
        raise TinyzooError(
            f"data folder {str(root)!r} has {len(files)} images; at least {MIN_IMAGES} are "
            "needed to give validation and test one image each. Add images."
        )
    # the headers only (no decoding): the stored size is 32, or the largest side if smaller
    native = min(NATIVE, max(max(_open(path, lambda im: im.size)) for _, path in files))
    read = [_read(path, native) for _, path in files]
    grey = all(g for _, g in read)
    x = np.stack([img for img, _ in read])
    if grey:
        x = x[..., :1]
    y = np.array([label for label, _ in files], dtype=np.int64)
    n = len(y)
    n_train, n_val = (round(n * f) for f in FRACTIONS)
    splits = stratified_split(y, (n_train, n_val, n - n_train - n_val), seed=seed)
    mode = "one grey channel" if grey else "RGB"
    return make_dataset(
        name=name,
        labels=tuple(d.name for d in dirs),
        x=x.astype(np.float32) / np.float32(255.0),
        y=y,
        splits=splits,
        resolutions=tuple(r for r in RESOLUTIONS if r < native) + (native,),
        description=(
            f"images from {root} ({n} files, {len(dirs)} classes, {mode}), split "
            f"{n_train}/{n_val}/{n - n_train - n_val} train/validation/test, stratified "
            f"with seed {seed}."
        ),
        base_recipe=(
            "image decoded with PIL and converted to RGB, resized to "
            f"{native}x{native} with PIL Image.resize BILINEAR (which antialiases when "
            "shrinking)"
            + (", first channel kept (all images are grey)" if grey else "")
            + ", uint8 / 255.0 as float32"
        ),
    )
