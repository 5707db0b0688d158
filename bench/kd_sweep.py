"""Choose distillation's temperature T and weight alpha on validation data (issue 4).

    .venv/bin/python bench/kd_sweep.py [--tasks digits,fashion] [--seeds 2]
        [--temperatures 2,4,8] [--alphas 0.1,0.5,0.9]

For each task, the shipped winner's architecture (kws: bench/compress.py's reference DS-CNN)
is trained with the task's recipe on the labels alone and distilled from the shipped
`teacher-<task>` at every (T, alpha) of the grid, once per seed. The score is float
validation accuracy (never test): the defaults in nas/distill.py are the grid point with the
best mean gain over labels-only across tasks and seeds (so far: the fashion sweep's; kws's,
run since, is in docs/RESULTS.md beside it). Writes the table into docs/RESULTS.md: section
kd-sweep for the fashion sweep, kd-sweep-TASKS for another set.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._results import seeds_text, write_section  # noqa: E402
from bench.compress import Prepared, prepare  # noqa: E402


def _fit(p: Prepared, seed: int, logits: Any = None, t: float = 4.0, a: float = 0.5) -> float:
    """Best-epoch validation accuracy of the task's final recipe."""
    from nas.train import train

    d = p.data
    res = train(
        p.spec, d.x_train, d.y_train, d.x_val, d.y_val, epochs=p.recipe.final_epochs, seed=seed,
        batch_size=p.recipe.batch_size, teacher_logits=logits, temperature=t, alpha=a,
    )  # fmt: skip
    return float(res.val_accuracy)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", default="digits,fashion")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--temperatures", default="2,4,8")
    ap.add_argument("--alphas", default="0.1,0.5,0.9")
    args = ap.parse_args()
    temps = [float(t) for t in args.temperatures.split(",")]
    alphas = [float(a) for a in args.alphas.split(",")]
    tasks = args.tasks.split(",")
    # gain[(T, alpha)][task] -> per-seed val gain over labels-only
    gain: dict[tuple[float, float], dict[str, list[float]]] = {}
    base: dict[str, list[float]] = {}
    archs: list[str] = []  # what each task trained, for the table's text
    t_start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tinyzoo-bench-") as tmp:
        store = f"sqlite:///{tmp}/bench.db"
        for task in tasks:
            p = prepare(task, store)
            what = f"shipped {p.winner}'s" if p.winner else "the reference"
            archs.append(f"{task}: {what} `{p.spec}`")
            for seed in range(args.seeds):
                b = _fit(p, seed)
                base.setdefault(task, []).append(b)
                print(f"{task} seed {seed} labels only: val {b:.4f}", flush=True)
                for t in temps:
                    for a in alphas:
                        v = _fit(p, seed, p.logits, t, a)
                        gain.setdefault((t, a), {}).setdefault(task, []).append(v - b)
                        print(f"{task} seed {seed} T {t} alpha {a}: val {v:.4f}", flush=True)
    hours = (time.monotonic() - t_start) / 3600

    def mean_all(g: dict[str, list[float]]) -> float:
        return statistics.mean(statistics.mean(g[t]) for t in tasks)

    best = max(gain, key=lambda k: mean_all(gain[k]))
    lines = [
        "Validation accuracy gain of distillation over labels-only training, in points "
        f"(mean over {seeds_text(args.seeds)}; the task recipes; {'; '.join(archs)}). "
        "Labels-only validation accuracy: "
        + ", ".join(f"{t} {100 * statistics.mean(base[t]):.2f} %" for t in tasks)
        + f". {hours:.2f} hours on this machine.",
        "",
        "| T | alpha | " + " | ".join(tasks) + " | mean |",
        "|---|---|" + "---|" * (len(tasks) + 1),
    ]
    for (t, a), g in sorted(gain.items()):
        mark = "**" if (t, a) == best else ""
        cells = " | ".join(f"{100 * statistics.mean(g[k]):+.2f}" for k in tasks)
        lines.append(f"| {mark}{t:g}{mark} | {mark}{a:g}{mark} | {cells} | "
                     f"{mark}{100 * mean_all(g):+.2f}{mark} |")  # fmt: skip
    lines += ["", f"Best on validation: T {best[0]:g}, alpha {best[1]:g}.", ""]
    if "digits" not in tasks and "fashion" in tasks:
        from nas.data import load_task

        n_val = len(load_task("digits").y_val)
        lines += [
            f"`digits` is not swept: its validation split has {n_val} images, one image is "
            f"{100 / n_val:.2f} points, and labels-only training is already near 100 % on it.",
            "",
        ]
    command = " ".join([".venv/bin/python bench/kd_sweep.py", *sys.argv[1:]])
    # The first sweep (fashion) keeps its section; another set of tasks gets its own.
    default = tasks == ["fashion"]
    key = "kd-sweep" if default else "kd-sweep-" + "-".join(sorted(tasks))
    title = "Distillation temperature and alpha" + ("" if default else ": " + ", ".join(tasks))
    write_section(key, f"## {title}\n\n`{command}`\n\n" + "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
