"""What per-epoch augmentation buys: float test accuracy per model, with and without.

    .venv/bin/python bench/augment.py [--task kws|fashion] [--epochs 40[,120]] [--seeds 1]
                                      [--jobs 1] [--arch A[,B]] [--distil]

Trains each model of the task below with and without the task's augmentation
(`Dataset.augment`: kws `nas.data.kws.spec_augment`, fashion `nas.data._augment.shift_flip`),
for each number of epochs in --epochs, with the task's final recipe (batch size; nas.train's
Adam and cosine schedule; the best validation epoch kept), and reports float validation and
test accuracy. With --jobs N, N trainings run side by side, each in its own process.

The models. kws: MLPerf Tiny's DS-CNN (bench/compress.py's reference), the dscnn space's
widest member (the kws teacher before this measurement) and the DS-CNN at 128 channels (the
kws teacher now, `Space.teacher`): does augmentation help the students, and which teacher is
stronger than the students it teaches. fashion: the dscnn space's widest member (the fashion
teacher's architecture, inside the 64,000 B budget of bench/search.py's fashion setting) and
that setting's MobileNetV1-0.25 reference: how far augmentation and epochs go toward the
setting's 92.5 % goal.

`--arch` measures the named architectures instead, and `--distil` trains every model as a
search's final training does, distilled from the task's teacher (teacher-<task>, the shipped
one; default T and alpha): for instance a search winner at the demo's few final epochs. Such a
run writes its own section (`<task>-augment-arch`, `-distilled`, or both).

Float only, so it also runs on Keras's other backends: `KERAS_BACKEND=jax` trains on a GPU
where JAX and Keras are installed and TensorFlow is not.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._results import seeds_text, write_section  # noqa: E402

AUGMENTATION_NAMES = {"kws": "SpecAugment", "fashion": "shift and mirror"}
SECTION_TITLES = {"kws": "kws: augmentation and the teacher", "fashion": "fashion: augmentation"}


class Run(NamedTuple):
    val: float
    test: float
    secs: float
    best_epoch: int


def models(task: str, data: Any) -> dict[str, str]:
    from bench.compress import REFERENCES
    from searchspaces import get_space

    space, g = get_space("dscnn"), data.geometry()
    if task == "kws":
        return {
            "DS-CNN (reference)": REFERENCES["kws"],
            "dscnn widest (old teacher)": str(space.widest(g)),
            "DS-CNN x2 (teacher)": str(space.teacher(g)),
        }
    from bench.search import SETTINGS, image_reference
    from nas.boards import budget_for

    budget = budget_for(None, **SETTINGS["fashion"].limits)
    return {
        "dscnn widest (teacher)": str(space.widest(g)),
        "MobileNetV1-0.25 (reference)": str(image_reference(get_space("mbv1"), g, budget)),
    }


_TEACHERS: dict[str, Any] = {}  # this process's teacher logits per task, computed once


def _teacher_logits(task: str) -> Any:
    if task not in _TEACHERS:
        import tempfile

        from bench.compress import prepare

        store = "sqlite:///" + tempfile.mkdtemp(prefix="tinyzoo-augment-") + "/mlflow.db"
        _TEACHERS[task] = prepare(task, store).logits
    return _TEACHERS[task]


def _train(task: str, arch: str, augment: bool, epochs: int, seed: int, distil: bool) -> Run:
    from nas.data import load_task
    from nas.distill import DEFAULT_ALPHA, DEFAULT_TEMPERATURE
    from nas.pipeline import RECIPES
    from nas.train import accuracy, train
    from searchspaces import ArchSpec

    spec = ArchSpec.parse(arch)
    d = load_task(task).at_resolution(spec.input_shape[0])  # kws: itself (49 frames)
    teach: dict[str, Any] = {}
    if distil:  # the teacher's logits of the native images, as a search's final training
        teach = {"teacher_logits": _teacher_logits(task),
                 "temperature": DEFAULT_TEMPERATURE, "alpha": DEFAULT_ALPHA}  # fmt: skip
    t0 = time.monotonic()
    res = train(
        spec, d.x_train, d.y_train, d.x_val, d.y_val, epochs=epochs, seed=seed,
        batch_size=RECIPES[task].batch_size, augment=d.augment if augment else None, **teach,
    )  # fmt: skip
    secs = time.monotonic() - t0
    test = accuracy(res.model, d.x_test, d.y_test)
    return Run(res.val_accuracy, test, secs, int(np.argmax(res.history)) + 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", choices=sorted(AUGMENTATION_NAMES), default="kws")
    ap.add_argument("--epochs", default="40", help="comma-separated, e.g. 30,60")
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=1, help="trainings run side by side")
    ap.add_argument("--arch", help="these architectures (comma-separated) instead of the task's")
    ap.add_argument("--distil", action="store_true", help="distil from the task's teacher")
    args = ap.parse_args()
    try:
        epochs_list = [int(e) for e in args.epochs.split(",")]
    except ValueError:
        ap.error(f"--epochs takes whole numbers separated by commas, got {args.epochs!r}")
    if min(epochs_list) < 1 or args.seeds < 1 or args.jobs < 1:
        ap.error("--epochs, --seeds and --jobs must be 1 or more")

    from nas.data import load_task

    data = load_task(args.task)
    if args.arch:
        from nas.errors import TinyzooError
        from searchspaces import ArchSpec

        try:
            names = {f"--arch {i}": str(ArchSpec.parse(a))
                     for i, a in enumerate(args.arch.split(","), start=1)}  # fmt: skip
        except TinyzooError as e:  # one line: what is wrong, the grammar, an example
            ap.error(str(e))
    else:
        names = models(args.task, data)
    jobs = [
        (name, aug, ep, seed)
        for name in names
        for aug in (False, True)
        for ep in epochs_list
        for seed in range(args.seeds)
    ]
    results: dict[tuple[str, bool, int, int], Run] = {}
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(args.jobs, mp_context=ctx) as pool:
        futures = {
            job: pool.submit(_train, args.task, names[job[0]], *job[1:], args.distil)
            for job in jobs
        }
        for (name, aug, ep, seed), fut in futures.items():
            r = results[(name, aug, ep, seed)] = fut.result()
            print(f"{name} augment={aug} {ep} epochs seed {seed}: val {r.val:.4f} test "
                  f"{r.test:.4f} (best epoch {r.best_epoch}, {r.secs:.0f} s)", flush=True)  # fmt: skip

    def pm(xs: list[float]) -> str:
        from bench._results import mean_sd

        return mean_sd(xs) if len(xs) > 1 else f"{100 * xs[0]:.2f}"

    from nas.pipeline import RECIPES

    command = " ".join([".venv/bin/python bench/augment.py", *sys.argv[1:]])
    aug_name = AUGMENTATION_NAMES[args.task]
    suffix = ("-arch" if args.arch else "") + ("-distilled" if args.distil else "")
    title = SECTION_TITLES[args.task] + (
        ", distilled from the task's teacher" if args.distil else ""
    )
    lines = [
        f"## {title}" + (" (named architectures)" if args.arch else ""),
        "",
        f"`{command}`",
        "",
        f"Float accuracy, batch {RECIPES[args.task].batch_size}, {seeds_text(args.seeds)} "
        f"(mean ± sd where more than one), on {len(data.y_val):,} validation and "
        f"{len(data.y_test):,} test examples; {args.jobs} training(s) side by side.",
        "",
        f"| model | {aug_name} | epochs | val % | test % | best epoch (median) | "
        "median s per training | architecture |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, arch in names.items():
        for aug in (False, True):
            for ep in epochs_list:
                rs = [results[(name, aug, ep, s)] for s in range(args.seeds)]
                lines.append(
                    f"| {name} | {'yes' if aug else 'no'} | {ep} | {pm([r.val for r in rs])} | "
                    f"{pm([r.test for r in rs])} | {np.median([r.best_epoch for r in rs]):.0f} | "
                    f"{np.median([r.secs for r in rs]):.0f} | `{arch}` |"
                )
    write_section(f"{args.task}-augment{suffix}", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
