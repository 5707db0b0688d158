"""Which epoch a training keeps, and what that decides: per-epoch accuracy, then rules (issue 4).

    .venv/bin/python bench/epoch_choice.py run [--task digits] [--seeds 10] [--epochs N] --out FILE.jsonl
    .venv/bin/python bench/epoch_choice.py table FILE.jsonl [--tag TAG]

`run` trains the task's shipped winner architecture (as bench/compress.py does) with the task's
final recipe at each seed twice, on the labels alone and distilled from the shipped
`teacher-<task>` at the default T and alpha, and records after every epoch the float
validation accuracy, the validation cross-entropy and the float test accuracy: one JSON line
per training, appended to --out as it ends. `table` writes section epoch-choice-<task> of
docs/RESULTS.md: for each rule of choosing the epoch to keep, the mean test accuracy of each
training and the paired gain of distillation. `first` is nas.train.train's rule (the first
epoch of the best validation accuracy); the others are what it could be instead.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._results import mean_sd, write_section  # noqa: E402

Epoch = tuple[float, float, float]  # validation accuracy, validation loss, test accuracy


def _best(rows: list[Epoch]) -> list[int]:
    top = max(r[0] for r in rows)
    return [i for i, r in enumerate(rows) if r[0] == top]


RULES: dict[str, tuple[str, Callable[[list[Epoch]], int]]] = {
    "first": ("the first epoch of the best val accuracy (nas.train)", lambda r: _best(r)[0]),
    "last": ("the last epoch of the best val accuracy", lambda r: _best(r)[-1]),
    "val loss": (
        "of the epochs of the best val accuracy, the lowest val loss",
        lambda r: min(_best(r), key=lambda i: r[i][1]),
    ),
    "final": ("the last epoch trained", lambda r: len(r) - 1),
}


def _recorder(model: Any, d: Any, rows: list[Epoch]) -> Callable[[int, float], bool]:
    """An `on_epoch` for nas.train.train that appends the epoch's figures to `rows`."""
    import numpy as np

    def record(epoch: int, acc: float) -> bool:
        lv = model.predict(d.x_val, batch_size=512, verbose=0)
        z = lv - lv.max(axis=1, keepdims=True)  # cross-entropy of the logits
        loss = float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(d.y_val)), d.y_val]))
        lt = model.predict(d.x_test, batch_size=512, verbose=0)
        rows.append((acc, loss, float(np.mean(lt.argmax(axis=1) == d.y_test))))
        return False

    return record


def run(task: str, seeds: int, out: Path, epochs: int | None = None) -> None:
    """Append one line per training to `out`; `epochs` (default: the recipe's) for a quick look."""
    from nas._quiet import quiet_tensorflow

    quiet_tensorflow()  # first: its TF_ENABLE_ONEDNN_OPTS=0 (unless set) must precede TensorFlow
    import keras

    from bench.compress import prepare
    from nas.distill import DEFAULT_ALPHA, DEFAULT_TEMPERATURE
    from nas.train import train
    from searchspaces._build import build

    p = prepare(task, "sqlite:///" + tempfile.mkdtemp(prefix="tinyzoo-epochs-") + "/mlflow.db")
    epochs = epochs or p.recipe.final_epochs
    d = p.data.for_epochs(epochs)
    for seed in range(seeds):
        for distilled in (False, True):
            keras.utils.set_random_seed(seed)  # as train() seeds itself before it builds
            model = build(p.spec)
            rows: list[Epoch] = []
            t0 = time.monotonic()
            train(
                p.spec, d.x_train, d.y_train, d.x_val, d.y_val, epochs=epochs,
                seed=seed, batch_size=p.recipe.batch_size, model=model,
                on_epoch=_recorder(model, d, rows),
                teacher_logits=p.logits if distilled else None, temperature=DEFAULT_TEMPERATURE,
                alpha=DEFAULT_ALPHA, augment=d.augment,
            )  # fmt: skip
            line = {"task": task, "arch": str(p.spec), "seed": seed, "distilled": distilled,
                    "teacher": p.teacher.entry.ref, "T": DEFAULT_TEMPERATURE, "alpha": DEFAULT_ALPHA,
                    "onednn": os.environ["TF_ENABLE_ONEDNN_OPTS"] != "0",
                    "seconds": round(time.monotonic() - t0, 1), "epochs": rows}  # fmt: skip
            with out.open("a") as f:
                f.write(json.dumps(line) + "\n")
            print(f"seed {seed} {'distilled' if distilled else 'labels only'}: "
                  f"{len(rows)} epochs, {line['seconds']} s", flush=True)  # fmt: skip


def table(lines: list[dict]) -> tuple[str, str]:
    """The task and the section's text from `run`'s lines (seeds with both trainings only)."""
    tasks = {x["task"] for x in lines}
    if len(tasks) != 1:
        raise SystemExit(f"one task per table, got {sorted(tasks)}")
    runs = {(x["seed"], x["distilled"]): x for x in lines}
    seeds = sorted(s for s, dist in runs if dist and (s, False) in runs)
    if not seeds:
        raise SystemExit("no seed has both trainings (labels only and distilled)")
    first = runs[(seeds[0], True)]
    out = [
        f"`{first['task']}`, `{first['arch']}`, {len(first['epochs'])} epochs, distilled from "
        f"`{first['teacher']}` at T {first['T']:g}, alpha {first['alpha']:g}, TensorFlow's "
        f"oneDNN kernels {'on' if first.get('onednn') else 'off'}; seeds "
        f"{', '.join(map(str, seeds))}. Float test accuracy of the epoch each rule keeps, mean "
        "± sd over seeds; the epoch is the median over seeds.",
        "",
        "| rule | keeps | labels only test % | epoch | distilled test % | epoch | gain, paired |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, (what, rule) in RULES.items():
        acc: dict[bool, list[float]] = {False: [], True: []}
        ep: dict[bool, list[int]] = {False: [], True: []}
        for s in seeds:
            for dist in (False, True):
                rows = [tuple(r) for r in runs[(s, dist)]["epochs"]]
                i = rule(rows)  # type: ignore[arg-type]
                acc[dist].append(rows[i][2])
                ep[dist].append(i + 1)
        gain = mean_sd([b - a for a, b in zip(acc[False], acc[True], strict=True)])
        out.append(
            f"| {name} | {what} | {mean_sd(acc[False])} | {statistics.median(ep[False]):g} | "
            f"{mean_sd(acc[True])} | {statistics.median(ep[True]):g} | "
            f"{'' if gain.startswith('-') else '+'}{gain} |"
        )
    ties = [
        len(_best([tuple(r) for r in runs[(s, dist)]["epochs"]]))  # type: ignore[misc]
        for s in seeds
        for dist in (False, True)
    ]
    out += ["", f"Epochs tied at the best validation accuracy, median over trainings: "
            f"{statistics.median(ties):g} (from {min(ties)} to {max(ties)})."]  # fmt: skip
    return first["task"], "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--task", default="digits")
    r.add_argument("--seeds", type=int, default=10)
    r.add_argument("--epochs", type=int, help="final epochs (default: the task's recipe)")
    r.add_argument("--out", type=Path, required=True)
    t = sub.add_parser("table")
    t.add_argument("file", type=Path, help="the jsonl file `run` wrote")
    t.add_argument("--tag", help="section epoch-choice-TASK-TAG instead of epoch-choice-TASK")
    args = ap.parse_args()
    if args.cmd == "run":
        run(args.task, args.seeds, args.out, args.epochs)
        return
    lines = [json.loads(x) for x in args.file.read_text().splitlines() if x.strip()]
    task, text = table(lines)
    key = f"epoch-choice-{task}" + (f"-{args.tag}" if args.tag else "")
    files = str(args.file)
    env = "TF_ENABLE_ONEDNN_OPTS=1 " if any(x.get("onednn") for x in lines) else ""
    seeds = max(x["seed"] for x in lines) + 1  # run trains seeds 0 to N-1
    command = (
        f"`{env}.venv/bin/python bench/epoch_choice.py run --task {task} --seeds {seeds} "
        f"--out {files}`, "
        f"then `.venv/bin/python bench/epoch_choice.py table {files}"
        + (f" --tag {args.tag}`" if args.tag else "`")
    )
    title = f"## Which epoch a training keeps: {task}" + (f" ({args.tag})" if args.tag else "")
    write_section(key, f"{title}\n\n{command}\n\n{text}")
    print(text)


if __name__ == "__main__":
    main()
