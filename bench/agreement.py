"""How finely a task's test split tells two models apart: their agreement clip by clip.

    .venv/bin/python bench/agreement.py --task kws --entries kws-nano33ble,kws-32k
                                        [--arch ARCH] [--seed 0]

Trains `--arch` (default: the task's hand-designed reference, bench/compress.py's REFERENCES)
at `--seed` through bench/search.py's final recipe (distilled from the task's teacher, int8,
verified on TFLM), then runs it and each shipped entry named (zoo/pretrained/) over the whole
test split on TFLM's reference kernels. For each entry against the trained model: the clips
only one of the two gets right, their difference in points, and the standard error of that
difference from the choice of test clips alone (paired: sqrt((b + c) / n - d^2) / sqrt(n),
with b and c the clips only one gets right and d the difference as a share). More seeds do not
average that part away: every seed is tested on the same clips. On kws the same again over
the extended test set that bench/search.py judges kws on (the test split and 9,600 further
clips of its speakers). Writes section agreement-<task> of docs/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._results import write_section  # noqa: E402
from bench.compress import PRETRAINED, REFERENCES  # noqa: E402


def agreement(right_a: np.ndarray, right_b: np.ndarray) -> dict[str, float]:
    """Paired comparison of two models' per-example correctness on one test split: `only_a`
    and `only_b` (examples only that model gets right), `diff` (a - b, in points) and `se` (its
    standard error from the sample of examples, in points)."""
    n = len(right_a)
    only_a = int(np.sum(right_a & ~right_b))
    only_b = int(np.sum(right_b & ~right_a))
    d = (only_a - only_b) / n
    se = math.sqrt(max((only_a + only_b) / n - d * d, 0.0) / n)
    return {"only_a": only_a, "only_b": only_b, "diff": 100 * d, "se": 100 * se}


def run(task: str, arch: str, seed: int, entries: list[str]) -> list[str]:
    from bench.search import extended_test, final_chain_alone
    from nas.data import load_task
    from nas.quantize import tflm_correct
    from searchspaces import ArchSpec

    data = load_task(task)
    out = final_chain_alone(ArchSpec.parse(arch), data, seed, None)

    sets = [("test split", data.x_test, data.y_test)]
    if (extended := extended_test(data)) is not None:
        sets.append(("extended test set", *extended))

    mine = [tflm_correct(out.tflite, x, y, out.verification.arena) for _, x, y in sets]
    lines = [
        f"**{task}**: `{arch}` trained at seed {seed} through bench/search.py's final recipe "
        f"(int8 test {100 * mine[0].mean():.2f} %), against shipped entries, example by example "
        "on TFLM's reference kernels.",
        "",
        "| entry | examples | entry's int8 % | trained model's int8 % | only the entry right | "
        "only the trained model right | difference, points | standard error from the "
        "examples, points |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in entries:
        tflite = (PRETRAINED / name / "model.tflite").read_bytes()
        arena = json.loads((PRETRAINED / name / "entry.json").read_text())["metrics"]["arena_bytes"]
        for (what, x, y), ours in zip(sets, mine, strict=True):
            theirs = tflm_correct(tflite, x, y, arena)
            a = agreement(theirs, ours)
            lines.append(
                f"| {name} | {what} ({len(y):,}) | {100 * theirs.mean():.2f} | "
                f"{100 * ours.mean():.2f} | {a['only_a']} | {a['only_b']} | {a['diff']:+.2f} | "
                f"{a['se']:.2f} |"
            )
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--task", default="kws")
    ap.add_argument("--entries", required=True, help="shipped entries, comma-separated")
    ap.add_argument("--arch", default=None, help="default: the task's reference architecture")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    arch = args.arch or REFERENCES.get(args.task)
    if arch is None:
        ap.error(f"--task {args.task} has no reference architecture; give --arch")
    entries = args.entries.split(",")
    for name in entries:  # checked before the training
        f = PRETRAINED / name / "entry.json"
        if not f.is_file():
            ap.error(f"--entries: {name} is not a folder of {PRETRAINED}")
        if (of := json.loads(f.read_text())["task"]) != args.task:
            ap.error(f"--entries: {name} is an entry of task {of}, not {args.task}")
    lines = run(args.task, arch, args.seed, entries)
    command = " ".join([".venv/bin/python bench/agreement.py", *sys.argv[1:]])
    body = (
        f"## How finely the test clips tell two models apart: {args.task}\n\n`{command}`\n\n"
        + "\n".join(lines)
    )
    write_section(f"agreement-{args.task}", body)
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main()
