"""What each compression stage buys, measured: distillation, int8 post-training quantization,
Huffman coding (issue 4; pruning and QAT are still to come).

    .venv/bin/python bench/compress.py [--tasks digits,fashion] [--seeds 3] [--epochs N]

For each task, the architecture of its shipped zoo winner is trained from scratch with each
seed twice, on the labels alone and distilled from the shipped `teacher-<task>` (the task's
recipe: same epochs, batch and learning rate), then converted to int8 and run on TFLM's
reference kernels over the whole test split. Writes the table into docs/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._results import write_section  # noqa: E402

WINNERS = {"digits": "digits-l010", "fashion": "fashion-nano33ble"}


def _mean_sd(xs: list[float]) -> str:
    sd = statistics.stdev(xs) if len(xs) > 1 else 0.0
    return f"{100 * statistics.mean(xs):.2f} ± {100 * sd:.2f}"


def run_task(task: str, seeds: int, epochs: int | None, store: str) -> list[str]:
    from rich.console import Console

    from nas.data import load_task
    from nas.huffman import weight_sizes
    from nas.pipeline import RECIPES
    from nas.quantize import convert_and_verify
    from nas.teacher import resolve_teacher
    from nas.train import accuracy, train
    from searchspaces import ArchSpec, get_space

    entry = json.loads((ROOT / "zoo" / "pretrained" / WINNERS[task] / "entry.json").read_text())
    spec = ArchSpec.parse(entry["arch"])
    recipe = RECIPES[task]
    n_epochs = epochs or recipe.final_epochs
    data = load_task(task)
    d = data.at_resolution(spec.input_shape[0])
    console = Console(stderr=True)
    teacher = resolve_teacher(
        "auto", data=data, space=get_space("dscnn"), seed=0, tracking_uri=store, console=console
    )
    assert teacher is not None
    logits = teacher.logits(data)
    results: dict[str, dict[str, list[float]]] = {}
    for seed in range(seeds):
        for mode in ("labels only", "distilled"):
            t0 = time.monotonic()
            res = train(
                spec, d.x_train, d.y_train, d.x_val, d.y_val, epochs=n_epochs, seed=seed,
                batch_size=recipe.batch_size,
                teacher_logits=logits if mode == "distilled" else None,
            )  # fmt: skip
            tflite, v = convert_and_verify(res.model, d, seed)
            r = results.setdefault(mode, {})
            r.setdefault("float", []).append(accuracy(res.model, d.x_test, d.y_test))
            r.setdefault("int8", []).append(float(v.int8_accuracy or 0.0))
            r.setdefault("huffman", []).append(weight_sizes(tflite).ratio)
            console.print(
                f"{task} seed {seed} {mode}: float {r['float'][-1]:.4f} int8 {r['int8'][-1]:.4f} "
                f"({time.monotonic() - t0:.0f} s)"
            )
    plain, kd = results["labels only"], results["distilled"]
    gain = [b - a for a, b in zip(plain["int8"], kd["int8"], strict=True)]
    lines = [
        f"**{task}**: `{spec}` ({n_epochs} epochs, {len(d.x_train)} training images, test "
        f"{len(d.x_test)}), teacher `{teacher.entry.ref}` (`{teacher.entry.arch}`, float test "
        f"{100 * teacher.entry.float_accuracy:.2f} %), T {4.0}, alpha {0.5}, seeds 0-{seeds - 1}.",
        "",
        "| training | float test % | int8 test % (TFLM) | PTQ drop, points | Huffman / raw weights |",
        "|---|---|---|---|---|",
    ]
    for mode, r in results.items():
        drop = [f - q for f, q in zip(r["float"], r["int8"], strict=True)]
        lines.append(
            f"| {mode} | {_mean_sd(r['float'])} | {_mean_sd(r['int8'])} | {_mean_sd(drop)} | "
            f"{statistics.mean(r['huffman']):.3f} |"
        )
    lines += ["", f"Distillation gain in int8 test accuracy: {_mean_sd(gain)} points.", ""]
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", default="digits,fashion")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, help="final epochs (default: the task's recipe)")
    args = ap.parse_args()
    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="tinyzoo-bench-") as tmp:
        store = f"sqlite:///{tmp}/bench.db"  # a scratch zoo: shipped teachers are imported
        for task in args.tasks.split(","):
            lines += run_task(task, args.seeds, args.epochs, store)
    command = " ".join([".venv/bin/python bench/compress.py", *sys.argv[1:]])
    body = "## Compression stages\n\n`" + command + "`\n\n" + "\n".join(lines)
    write_section("compress", body)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
