"""What each compression stage buys, measured: distillation, pruning, int8 post-training
quantization, QAT and Huffman coding (issue 4).

    .venv/bin/python bench/compress.py [--tasks digits,fashion,kws] [--seeds 3] [--epochs N]
        [--prune 0.3]

For each task, the architecture of its shipped zoo winner (kws, with none shipped yet: the
reference DS-CNN in REFERENCES) goes through the pipeline's own
compression chain (nas.compress.run_chain) with each seed twice: on the labels alone (student,
PTQ, QAT) and distilled from the shipped `teacher-<task>` (distilled, pruned, PTQ, QAT), with the
task's recipe. int8 models run on TFLM's reference kernels over the whole test split. Writes each
task's table into docs/RESULTS.md (section compress-<task>) as soon as it is measured.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._results import write_section  # noqa: E402

WINNERS = {"digits": "digits-l010", "fashion": "fashion-nano33ble"}
# Tasks with no shipped winner yet: a hand-designed reference architecture instead. kws: the
# Hello Edge / MLPerf Tiny DS-CNN's shape (64 channels, four depthwise-separable blocks) with
# this grammar's square 3x3 stem in place of its 10x4 one.
REFERENCES = {"kws": "r49x10x1_c3s2c64_ds3s1c64_ds3s1c64_ds3s1c64_ds3s1c64_gap_fc12"}


def _mean_sd(xs: list[float]) -> str:
    sd = statistics.stdev(xs) if len(xs) > 1 else 0.0
    return f"{100 * statistics.mean(xs):.2f} ± {100 * sd:.2f}"


@dataclass(frozen=True)
class Prepared:
    """A task's shipped winner architecture, its data at that resolution, recipe and teacher."""

    task: str
    spec: Any
    data: Any  # Dataset at the spec's resolution
    recipe: Any
    teacher: Any
    logits: Any  # the teacher's logits for every training image


def prepare(task: str, store: str) -> Prepared:
    from rich.console import Console

    from nas.data import load_task
    from nas.pipeline import RECIPES
    from nas.teacher import resolve_teacher
    from searchspaces import ArchSpec, get_space

    if task in WINNERS:
        entry = json.loads((ROOT / "zoo" / "pretrained" / WINNERS[task] / "entry.json").read_text())
        spec = ArchSpec.parse(entry["arch"])
    else:
        spec = ArchSpec.parse(REFERENCES[task])
    data = load_task(task)
    teacher = resolve_teacher(
        "auto", data=data, space=get_space("dscnn"), seed=0, tracking_uri=store,
        console=Console(stderr=True),
    )  # fmt: skip
    assert teacher is not None
    return Prepared(
        task, spec, data.at_resolution(spec.input_shape[0]), RECIPES[task], teacher,
        teacher.logits(data),
    )  # fmt: skip


def _chain(p: Prepared, seed: int, epochs: int, distilled: bool, options: Any) -> Any:
    from rich.console import Console

    from nas.compress import run_chain
    from nas.distill import DEFAULT_ALPHA, DEFAULT_TEMPERATURE
    from nas.pipeline import Distil
    from searchspaces import get_space

    return run_chain(
        p.spec, d=p.data, recipe=replace(p.recipe, final_epochs=epochs), seed=seed,
        distil=Distil(p.teacher if distilled else None, DEFAULT_TEMPERATURE, DEFAULT_ALPHA),
        logits=p.logits if distilled else None, options=options, space=get_space("dscnn"),
        console=Console(stderr=True),
    )  # fmt: skip


def run_task(task: str, seeds: int, epochs: int | None, prune: float, store: str) -> list[str]:
    """Per seed: the labels-only chain (student, PTQ, QAT) and the distilled chain (distilled,
    pruned, PTQ, QAT), plus the unpruned distilled model's PTQ for the distillation gain."""
    from nas.compress import Compress
    from nas.distill import DEFAULT_ALPHA, DEFAULT_TEMPERATURE
    from nas.huffman import weight_sizes
    from nas.quantize import convert_and_verify

    p = prepare(task, store)
    n_epochs = epochs or p.recipe.final_epochs
    r: dict[str, list[float]] = {}

    def add(key: str, value: float) -> None:
        r.setdefault(key, []).append(value)

    sizes: dict[str, int] = {}
    for seed in range(seeds):
        t0 = time.monotonic()
        plain = {s.key: s for s in _chain(p, seed, n_epochs, False, Compress(qat=True)).stages}
        out = _chain(p, seed, n_epochs, True, Compress(prune=prune, qat=True, baseline=False))
        kd = {s.key: s for s in out.stages}
        tflite, v = convert_and_verify(out.models["distilled"], p.data, seed)
        add("plain float", plain["student"].test_accuracy)
        add("plain ptq", plain["ptq"].test_accuracy)
        add("plain qat", plain["qat"].test_accuracy)
        add("kd float", kd["distilled"].test_accuracy)
        add("kd ptq", float(v.int8_accuracy or 0.0))
        add("pruned float", kd["pruned"].test_accuracy)
        add("pruned ptq", kd["ptq"].test_accuracy)
        add("pruned qat", kd["qat"].test_accuracy)
        add("huffman", weight_sizes(tflite).ratio)
        sizes.update(
            full_tflite=len(tflite), full_macs=kd["distilled"].macs,
            full_arena=max(v.arena_bytes, v.recorded_total), pruned_tflite=kd["ptq"].tflite_bytes,
            pruned_macs=kd["ptq"].macs, pruned_arena=kd["ptq"].arena_bytes,
        )  # fmt: skip
        pruned_arch = kd["pruned"].arch
        print(
            f"{task} seed {seed}: "
            + ", ".join(f"{k} {100 * v[-1]:.2f}" for k, v in r.items() if k != "huffman")
            + f" ({time.monotonic() - t0:.0f} s)",
            flush=True,
        )

    def diff(a: str, b: str) -> str:
        return _mean_sd([y - x for x, y in zip(r[a], r[b], strict=True)])

    d = p.data
    what = f"shipped winner `{WINNERS[task]}`" if task in WINNERS else "reference DS-CNN"
    lines = [
        f"**{task}** ({what}): `{p.spec}` ({n_epochs} epochs, {len(d.x_train)} training examples, "
        f"{len(d.x_val)} validation, {len(d.x_test)} test), teacher `{p.teacher.entry.ref}` "
        f"(`{p.teacher.entry.arch}`, float test {100 * p.teacher.entry.float_accuracy:.2f} %), "
        f"T {DEFAULT_TEMPERATURE:g}, alpha {DEFAULT_ALPHA:g}, seeds 0-{seeds - 1}. Test accuracy, "
        "mean ± sd over seeds; int8 on TFLM's reference kernels over the whole test split.",
        "",
        "| model | float test % | int8 PTQ test % | int8 QAT test % | .tflite B | MACs | "
        "TFLM arena B |",
        "|---|---|---|---|---|---|---|",
        f"| labels only | {_mean_sd(r['plain float'])} | {_mean_sd(r['plain ptq'])} | "
        f"{_mean_sd(r['plain qat'])} | {sizes['full_tflite']:,} | {sizes['full_macs']:,} | "
        f"{sizes['full_arena']:,} |",
        f"| distilled | {_mean_sd(r['kd float'])} | {_mean_sd(r['kd ptq'])} | | "
        f"{sizes['full_tflite']:,} | {sizes['full_macs']:,} | {sizes['full_arena']:,} |",
        f"| distilled, pruned {prune:g} (`{pruned_arch}`) | {_mean_sd(r['pruned float'])} | "
        f"{_mean_sd(r['pruned ptq'])} | {_mean_sd(r['pruned qat'])} | "
        f"{sizes['pruned_tflite']:,} | {sizes['pruned_macs']:,} | {sizes['pruned_arena']:,} |",
        "",
        f"- Distillation gain, int8 (PTQ) test: {diff('plain ptq', 'kd ptq')} points.",
        f"- PTQ drop (float - int8): labels only {diff('plain ptq', 'plain float')}, distilled "
        f"{diff('kd ptq', 'kd float')}, pruned {diff('pruned ptq', 'pruned float')} points.",
        f"- QAT drop (float - int8): labels only {diff('plain qat', 'plain float')}, pruned "
        f"{diff('pruned qat', 'pruned float')} points.",
        f"- Pruning {prune:g}: MACs {sizes['pruned_macs'] / sizes['full_macs']:.2f}x, .tflite "
        f"{sizes['pruned_tflite'] / sizes['full_tflite']:.2f}x, arena "
        f"{sizes['pruned_arena'] / sizes['full_arena']:.2f}x; int8 test accuracy change "
        f"{diff('kd ptq', 'pruned ptq')} points (pruned PTQ - unpruned distilled PTQ).",
        f"- Huffman-coded / raw int8 weights: {statistics.mean(r['huffman']):.3f}.",
        "",
    ]
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", default="digits,fashion,kws")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, help="final epochs (default: the task's recipe)")
    ap.add_argument("--prune", type=float, default=0.3, help="share of MACs to prune (0.3)")
    args = ap.parse_args()
    command = " ".join([".venv/bin/python bench/compress.py", *sys.argv[1:]])
    with tempfile.TemporaryDirectory(prefix="tinyzoo-bench-") as tmp:
        store = f"sqlite:///{tmp}/bench.db"  # a scratch zoo: shipped teachers are imported
        for task in args.tasks.split(","):
            lines = run_task(task, args.seeds, args.epochs, args.prune, store)
            # One section per task, written as soon as it is measured.
            body = f"## Compression stages: {task}\n\n`{command}`\n\n" + "\n".join(lines)
            write_section(f"compress-{task}", body)
            print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main()
