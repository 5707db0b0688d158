"""Datasets: the builtin tasks and a user's image folder, as one `Dataset` record.

ds = load_task("fashion")                # native 28x28, cached per process
small = ds.at_resolution(16)             # what a 16x16 model is trained on
proxy = small.subset(5000, seed=trial)   # fast proxy training
card = ds.preprocessing(16)              # the exact recipe, for the model card
"""

from __future__ import annotations

from pathlib import Path

from nas.data._dataset import Dataset
from nas.data._resize import resize_bilinear
from nas.errors import unknown_name

__all__ = ["TASKS", "Dataset", "load_task", "resize_bilinear"]

TASKS: tuple[str, ...] = ("fashion", "digits")


def load_task(task: str, *, data_dir: Path | None = None, seed: int = 0) -> Dataset:
    """Load a builtin task by name, or the image folder `data_dir` under the name `task`.

    `seed` shuffles a folder's train/val/test split. The builtin tasks ignore it: their
    splits are fixed so that every run validates and tests on the same images.
    """
    if data_dir is not None:
        from nas.data.folder import load_folder

        return load_folder(Path(data_dir), name=task, seed=seed)
    if task == "fashion":
        from nas.data.fashion import load_fashion

        return load_fashion()
    if task == "digits":
        from nas.data.digits import load_digits

        return load_digits()
    raise unknown_name("task", task, TASKS, "Use --data DIR for your own images.")
