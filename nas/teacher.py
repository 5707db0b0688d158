"""Distillation teachers: one large model per task (and data split), trained once, kept in the zoo.

A teacher is the search space's teacher architecture (`Space.teacher`: its widest member, or
for kws a DS-CNN twice as wide), trained with no board budget (speech with SpecAugment-style
feature augmentation: a wide model overfits the training speakers) and registered as
`teacher-<task>`: an ordinary zoo entry (int8 model verified on TFLM, card,
profile) whose bundle also holds `teacher.weights.h5`, the float weights distillation runs
(rebuilt on the entry's architecture string). It is
never a board's champion: its name is its own. `resolve_teacher` finds it, or trains and
registers it on first use; `--teacher NAME` picks another registered teacher of the same task
and labels, `--teacher none` turns distillation off.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nas.data import own_fingerprint
from nas.errors import TinyzooError
from zoo._entry import DATA_TAG

__all__ = ["KERAS_FILE", "TEACHER_EPOCHS", "Teacher", "resolve_teacher", "teacher_name"]

KERAS_FILE = "teacher.weights.h5"  # float weights; the architecture is the entry's arch
# kws stays at 40: at 120 the teacher tests 1.15 points higher (float) but the half-size
# DS-CNN distilled from it 1.11 lower (docs/RESULTS.md, kws-frontier-120-teacher120).
# fashion: 60 epochs with its shifts and mirroring (Dataset.augmentation) take the widest member
# from 91.84 % (12 epochs, none) to 92.96 % int8 (docs/RESULTS.md, "fashion: augmentation and
# epochs"); without augmentation its best epoch comes early and more epochs add nothing.
TEACHER_EPOCHS = {"fashion": 60, "digits": 40, "kws": 40}
TEACHER_BATCH = {"kws": 64}  # else 32 below 5,000 training examples, 128 from there
DEFAULT_TEACHER_EPOCHS = 20


def teacher_name(task: str) -> str:
    return f"teacher-{task}"


@dataclass(frozen=True)
class Teacher:
    entry: Any  # zoo.ZooEntry
    model: Any  # keras.Model, float, logits out

    @property
    def resolution(self) -> int:
        return int(self.entry.input_shape[0])

    def logits(self, data: Any) -> np.ndarray:
        """Teacher logits for every training image, at the teacher's own resolution."""
        d = data.at_resolution(self.resolution)
        return np.asarray(self.model.predict(d.x_train, batch_size=512, verbose=0), np.float32)


def _load(entry: Any, tracking_uri: str | None) -> Teacher:
    import zoo
    from nas._quiet import quiet_tensorflow

    if KERAS_FILE not in entry.sha256:
        raise TinyzooError(
            f"{entry.ref} has no {KERAS_FILE} (float weights), so it cannot teach; teachers are "
            f"the zoo's teacher-<task> entries. Give --teacher {teacher_name(entry.task)} or none."
        )
    quiet_tensorflow()
    from searchspaces import ArchSpec
    from searchspaces._build import load_weights

    with tempfile.TemporaryDirectory(prefix="tinyzoo-teacher-") as tmp:
        path = zoo.pull(entry.ref, Path(tmp) / "t", tracking_uri=tracking_uri)  # sha256-checked
        model = load_weights(ArchSpec.parse(entry.arch), path / KERAS_FILE)
    return Teacher(entry, model)


def _matching(
    task: str, labels: tuple[str, ...], seed: int, data: str | None, tracking_uri: str | None
) -> Any:
    """The best registered teacher of this task, label set and data seed, else None; with
    `data` (a user's folder's fingerprint) only one trained on exactly that data."""
    from zoo._registry import _versions_of, entry_from_version, make_client

    client = make_client(tracking_uri)
    fits = [
        e
        for mv in _versions_of(client, teacher_name(task))
        for e in [entry_from_version(mv)]
        if e.labels == labels and e.seed == seed and KERAS_FILE in e.sha256
        and (data is None or mv.tags.get(DATA_TAG) == data)
    ]  # fmt: skip
    return max(fits, key=lambda e: (e.float_accuracy, e.version), default=None)


def _data_tag(entry: Any, tracking_uri: str | None) -> str | None:
    """The fingerprint of the user's folder that zoo entry `entry` was trained on (None: a
    builtin task's data)."""
    from zoo._registry import make_client

    mv = make_client(tracking_uri).get_model_version(entry.name, str(entry.version))
    return mv.tags.get(DATA_TAG)


def resolve_teacher(
    choice: str,
    *,
    data: Any,
    space: Any,
    seed: int,
    tracking_uri: str | None,
    console: Any,
) -> Teacher | None:
    """`none`: no teacher; `auto`: this task's teacher, trained on first use; else a zoo name."""
    import zoo

    if choice == "none":
        return None
    labels = tuple(data.labels)
    # A user's folder can change under the same name: its teacher must have seen exactly it
    # (else images now in validation or test may have been trained on). Builtin data is fixed.
    own = own_fingerprint(data)
    if choice != "auto":
        entry = zoo.get(choice, tracking_uri=tracking_uri)  # unknown name: one-line error
        if entry.task != data.name or entry.labels != labels:
            raise TinyzooError(
                f"--teacher {choice} was trained for task {entry.task!r} with labels "
                f"{', '.join(entry.labels)}; this search is task {data.name!r} with labels "
                f"{', '.join(labels)}. Give a teacher of the same task and labels, or none."
            )
        if own is not None and _data_tag(entry, tracking_uri) != own:
            raise TinyzooError(
                f"--teacher {choice} was trained on other data than this folder's (files "
                f"added or removed since, or another --seed's split), so images now in this "
                f"search's validation or test split may be in its training set. Give "
                f"--teacher auto (trains one on exactly this data, once) or none."
            )
        return _load(entry, tracking_uri)
    zoo.list_models(tracking_uri=tracking_uri)  # imports shipped entries (teachers included)
    found = _matching(data.name, labels, seed, own, tracking_uri)
    if found is not None:
        console.print(f"teacher {found.ref}: {found.arch} (float test {found.float_accuracy:.4f})")
        return _load(found, tracking_uri)
    return _train_and_register(data=data, space=space, seed=seed, fingerprint=own,
                               tracking_uri=tracking_uri, console=console)  # fmt: skip


def _train_and_register(
    *,
    data: Any,
    space: Any,
    seed: int,
    fingerprint: str | None,
    tracking_uri: str | None,
    console: Any,
) -> Teacher:
    from nas.huffman import weight_sizes
    from nas.pipeline import register_bundle
    from nas.profile import profile_spec, profile_tflite
    from nas.quantize import convert_and_verify
    from nas.train import accuracy, progress, train
    from searchspaces._build import save_weights

    spec = space.teacher(data.geometry())
    epochs = TEACHER_EPOCHS.get(data.name, DEFAULT_TEACHER_EPOCHS)
    d = data.at_resolution(spec.input_shape[0])
    batch = TEACHER_BATCH.get(data.name, 32 if len(d.x_train) < 5000 else 128)
    text = f"training the {data.name} teacher {spec} (once; kept in the zoo)"
    with console.status(f"{text}, {epochs} epochs") as status:
        res = train(
            spec, d.x_train, d.y_train, d.x_val, d.y_val, epochs=epochs, seed=seed,
            batch_size=batch, augment=d.augment, on_epoch=progress(status, text, epochs),
        )  # fmt: skip
    float_acc = accuracy(res.model, d.x_test, d.y_test)
    with console.status("teacher: int8 conversion and TFLM verification"):
        tflite, v = convert_and_verify(res.model, d, seed)
    prof = profile_tflite(tflite)
    weights = weight_sizes(tflite)
    arena = v.arena
    console.print(
        f"teacher {spec}: val {res.val_accuracy:.4f} · float test {float_acc:.4f} · "
        f"int8 test {v.int8_accuracy:.4f}"
    )
    entry = {
        "name": teacher_name(data.name),
        "task": data.name,
        "board": None,
        "space": space.name,
        "arch": str(spec),
        "seed": seed,
        "labels": list(data.labels),
        "input_shape": list(spec.input_shape),
        "preprocessing": data.preprocessing(spec.input_shape[0]),
        "input_quant": {"scale": v.input_scale, "zero_point": v.input_zero_point},
        "output_quant": {"scale": v.output_scale, "zero_point": v.output_zero_point},
        "budget": {"ram_bytes": None, "flash_bytes": None, "max_macs": None},
        "source": "search",
        "metrics": {
            "int8_accuracy": v.int8_accuracy,
            "float_accuracy": float_acc,
            "val_accuracy": res.val_accuracy,
            "arena_bytes": arena,
            "activation_bytes": v.head_bytes,
            "persistent_bytes": v.tail_bytes,
            "predicted_arena_bytes": profile_spec(spec).arena_bytes,
            "tflite_bytes": prof.tflite_bytes,
            "flash_bytes": prof.tflite_bytes,
            "weights_int8_bytes": weights.int8_bytes,
            "weights_huffman_bytes": weights.huffman_bytes,
            "macs": prof.macs,
            "params": prof.params,
            "test_samples": v.n_eval,
        },
        "params": {
            "role": "teacher",
            "epochs": epochs,
            "batch_size": batch,
            "augment": f"{d.augment.__module__}.{d.augment.__name__}" if d.augment else "none",
            **({} if fingerprint is None else {DATA_TAG: fingerprint}),
        },
    }
    with tempfile.TemporaryDirectory(prefix="tinyzoo-teacher-") as tmp:
        keras_path = Path(tmp) / KERAS_FILE
        save_weights(spec, res.model, keras_path)
        registered = register_bundle(
            entry, tflite, v, prof, arena=arena, tracking_uri=tracking_uri, console=console,
            extra_files={KERAS_FILE: keras_path.read_bytes()},
        )  # fmt: skip
    console.print(f"registered {registered.ref} (a teacher; never a board's champion)")
    return Teacher(registered, res.model)
