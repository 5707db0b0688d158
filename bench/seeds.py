"""Architectures side by side at several seeds, through the search benchmark's final recipe.

    .venv/bin/python bench/seeds.py --task kws --arch A,B[,...] --name NAME [--seeds 5]
                                    [--jobs 1] [--epochs N] [--kd T,alpha] [--table-only]

Each architecture is trained at seeds 0 .. --seeds-1 through bench/search.py's final recipe
(`final_chain`: the task's final epochs or --epochs, distilled from the task's teacher at the
default T and alpha or at --kd's, int8 PTQ, QAT when PTQ loses more than 0.5 points of
validation accuracy) and measured on TFLM's reference kernels over the test split and, for kws,
over the extended test set (`bench.search.extended_test`). The first architecture is the
baseline: every other one's difference from it is paired by seed, with the standard error over
seeds.

Rows go to docs/probes/seeds-NAME.jsonl as each training finishes, and a rerun skips the
(architecture, seed) pairs already there with the same task, epochs and --kd: an interrupted
run goes on, and a later run can add architectures or seeds (--table-only tabulates what is
there). With --jobs N, N trainings run side by side in their own processes. Writes section
seeds-NAME of docs/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._results import mean_sd, seeds_text, standard_error, write_section  # noqa: E402

PROBES = ROOT / "docs" / "probes"
SETS = (("int8_test", "int8 test %"), ("int8_extended", "extended test %"))


def train(task: str, arch: str, seed: int, epochs: int, kd: tuple[float, float]) -> dict[str, Any]:
    """One training of `arch` at `seed` through the final recipe (`epochs`, distilled at `kd`'s
    T and alpha), measured: a row."""
    from bench.search import extended_test, final_chain_alone
    from nas.data import load_task
    from nas.profile import profile_tflite
    from nas.quantize import tflm_accuracy
    from searchspaces import ArchSpec

    t0 = time.monotonic()
    data = load_task(task)
    out = final_chain_alone(ArchSpec.parse(arch), data, seed, epochs, kd)
    v, p = out.verification, profile_tflite(out.tflite)
    ext = extended_test(data)
    return {
        "task": task, "arch": arch, "seed": seed, "epochs": epochs, "kd": list(kd),
        "int8_test": v.int8_accuracy,
        "int8_extended": None if ext is None else tflm_accuracy(out.tflite, *ext, v.arena),
        "tflite": len(out.tflite), "macs": p.macs, "arena": v.arena, "params": p.params,
        "s": round(time.monotonic() - t0),
    }  # fmt: skip


def read_rows(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def table(rows: list[dict[str, Any]], archs: list[str], seeds: int) -> list[str]:
    """Markdown lines: per architecture its figures over `seeds` and the paired difference
    from the first architecture, on each set the rows measured."""
    at = {(r["arch"], r["seed"]): r for r in rows}
    sets = [(k, label) for k, label in SETS if any(r.get(k) is not None for r in rows)]
    head = ["architecture", "seeds", ".tflite B", "MACs", "TFLM arena B"]
    for _, label in sets:
        head += [label, f"{label} - first, paired"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    base = archs[0]
    for arch in archs:
        mine = [at[arch, s] for s in range(seeds) if (arch, s) in at]
        if not mine:
            continue
        r0 = mine[0]
        cells = [f"`{arch}`", ", ".join(str(r["seed"]) for r in mine),
                 f"{r0['tflite']:,}", f"{r0['macs']:,}", f"{r0['arena']:,}"]  # fmt: skip
        for key, _ in sets:
            cells.append(mean_sd([r[key] for r in mine]))
            pairs = [100 * (r[key] - at[base, r["seed"]][key]) for r in mine
                     if (base, r["seed"]) in at]  # fmt: skip
            cells.append("" if arch == base or not pairs else paired(pairs))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def paired(diffs: list[float]) -> str:
    """'+0.42 (SE 0.31, n 5)': the mean difference in points and its standard error over seeds."""
    if len(diffs) < 2:
        return f"{diffs[0]:+.2f} (n 1)"
    se = standard_error(diffs)
    return f"{statistics.mean(diffs):+.2f} (SE {se:.2f}, n {len(diffs)})"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="kws")
    ap.add_argument(
        "--arch", required=True, help="architectures, comma-separated; the first is the baseline"
    )
    ap.add_argument("--name", required=True, help="names the rows file and the RESULTS section")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--jobs", type=int, default=1, help="trainings run side by side")
    ap.add_argument("--epochs", type=int, help="final epochs (default: the task's recipe)")
    ap.add_argument(
        "--kd", help="distillation's T,alpha for every training (default: nas/distill.py's)"
    )
    ap.add_argument(
        "--table-only", action="store_true", help="tabulate the rows there are, train nothing"
    )
    args = ap.parse_args(argv)
    from nas.data import TASKS
    from nas.errors import TinyzooError
    from searchspaces import ArchSpec

    try:  # one clear line for a bad string, before any training; one spelling per spec
        specs = [str(ArchSpec.parse(a)) for a in args.arch.split(",") if a.strip()]
    except TinyzooError as e:
        ap.error(f"--arch: {e}")
    archs = list(dict.fromkeys(specs))
    if args.task not in TASKS:
        ap.error(f"--task must be one of {', '.join(TASKS)}, got {args.task!r}")
    if args.seeds < 1 or args.jobs < 1:
        ap.error("--seeds and --jobs must be 1 or more")
    from nas.distill import DEFAULT_ALPHA, DEFAULT_TEMPERATURE, check_params
    from nas.pipeline import RECIPES

    kd = (DEFAULT_TEMPERATURE, DEFAULT_ALPHA)
    if args.kd is not None:
        try:
            kd = tuple(float(v) for v in args.kd.split(","))  # type: ignore[assignment]
            check_params(*kd)
        except (TypeError, ValueError, TinyzooError):
            ap.error(
                f"--kd takes T,alpha: a temperature above 0 and the hard labels' weight in "
                f"[0, 1] (say 4,0.9; default {DEFAULT_TEMPERATURE:g},{DEFAULT_ALPHA:g}), got "
                f"{args.kd!r}"
            )
    # Rows say what they were trained with, so a changed default never reuses them.
    epochs = args.epochs or RECIPES[args.task].final_epochs
    path = PROBES / f"seeds-{args.name}.jsonl"
    same = (args.task, epochs, list(kd))
    rows = [r for r in read_rows(path) if (r["task"], r["epochs"], r["kd"]) == same]
    done = {(r["arch"], r["seed"]) for r in rows}
    todo = [(a, s) for s in range(args.seeds) for a in archs if (a, s) not in done]
    todo = [] if args.table_only else todo
    print(f"{len(todo)} trainings to run, {len(done)} rows in {path}", flush=True)

    def keep(row: dict[str, Any]) -> None:
        rows.append(row)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as f:
            f.write(json.dumps(row) + "\n")
        ext = "" if row["int8_extended"] is None else f", extended {row['int8_extended']:.4f}"
        print(f"{row['arch']} seed {row['seed']}: int8 test {row['int8_test']:.4f}{ext}, "
              f"{row['s']} s", flush=True)  # fmt: skip

    if args.jobs == 1:
        for a, s in todo:
            keep(train(args.task, a, s, epochs, kd))
    else:
        # A failed training is reported and the others are kept; the run then exits 1.
        failed = []
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(args.jobs, mp_context=spawn) as pool:
            futures = {pool.submit(train, args.task, a, s, epochs, kd): (a, s) for a, s in todo}
            for fut in as_completed(futures):
                try:
                    keep(fut.result())
                except Exception as e:  # noqa: BLE001 - any training's failure, reported below
                    failed.append(f"{futures[fut][0]} seed {futures[fut][1]}: {e!r}")
                    print(f"failed: {failed[-1]}", file=sys.stderr, flush=True)
        if failed:
            sys.exit(f"{len(failed)} of {len(todo)} trainings failed; the rest are in {path}")
    command = " ".join([".venv/bin/python bench/seeds.py", *(argv or sys.argv[1:])])
    lines = [
        f"**{args.task}**, {seeds_text(args.seeds)}, {epochs} final epochs through "
        "bench/search.py's final recipe"
        + f", distilled at T {kd[0]:g}, alpha {kd[1]:g}"
        + "; int8 on TFLM's reference kernels. Differences are in "
        "points against the first architecture, paired by seed, with their standard error "
        f"over seeds. Rows: docs/probes/{path.name}.",
        "",
        *table(rows, archs, args.seeds),
    ]
    write_section(
        f"seeds-{args.name}",
        f"## Seeds side by side: {args.name}\n\n`{command}`\n\n" + "\n".join(lines),
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
