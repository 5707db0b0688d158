"""Datasets: the builtin tasks (fashion, digits, kws) and a user's folder, as one `Dataset`.

ds = load_task("fashion")                # native 28x28, cached per process
small = ds.at_resolution(16)             # what a 16x16 model is trained on
proxy = small.subset(5000, seed=trial)   # fast proxy training
card = ds.preprocessing(16)              # the exact recipe, for the model card
"""

from __future__ import annotations

from pathlib import Path

from nas.data._dataset import Dataset
from nas.data._resize import resize_bilinear
from nas.errors import TinyzooError, unknown_name

__all__ = ["TASKS", "Dataset", "load_task", "own_fingerprint", "resize_bilinear"]

TASKS: tuple[str, ...] = ("fashion", "digits", "kws")


def own_fingerprint(data: Dataset) -> str | None:
    """`data.fingerprint` for a user's folder, None for a builtin task (its data is fixed by
    name and seed). A folder can change under the same name: its teacher and its models are
    tagged with what they were measured on (zoo._entry.DATA_TAG)."""
    return None if data.name in TASKS else data.fingerprint


def load_task(task: str, *, data_dir: Path | None = None, seed: int = 0) -> Dataset:
    """Load a builtin task by name, or the folder `data_dir` under the name `task`.

    A folder of .wav sub-folders is read as speech (nas.data.kws.load_speech_folder), any other
    as images (nas.data.folder.load_folder).

    `seed` shuffles a folder's train/val/test split. The builtin tasks ignore it: their
    splits are fixed so that every run validates and tests on the same images.
    """
    if data_dir is not None:
        from nas.data.folder import EXTENSIONS, is_skipped, load_folder

        root = Path(data_dir).expanduser()
        files = [
            p
            for p in (root.glob("*/*") if root.is_dir() else [])
            if not is_skipped(p.name) and not is_skipped(p.parent.name)
        ]
        wavs = sum(p.suffix.lower() == ".wav" for p in files)
        images = sum(p.suffix.lower() in EXTENSIONS for p in files)
        if wavs and images:
            raise TinyzooError(
                f"data folder {str(root)!r} mixes {images} image(s) and {wavs} .wav recording(s) "
                "in its class folders; a task is one or the other. Move the other kind out."
            )
        if wavs:
            from nas.data.kws import load_speech_folder  # recordings: the Speech Commands layout

            return load_speech_folder(root, name=task, seed=seed)

        return load_folder(root, name=task, seed=seed)
    if task == "fashion":
        from nas.data.fashion import load_fashion

        return load_fashion()
    if task == "digits":
        from nas.data.digits import load_digits

        return load_digits()
    if task == "kws":
        from nas.data.kws import load_kws

        return load_kws()
    raise unknown_name(
        "task", task, TASKS, "Use --data DIR for your own images or .wav recordings."
    )
