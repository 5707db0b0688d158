"""Where issue 5's kws goal sits: int8 accuracy against .tflite bytes, the DS-CNN narrowed.

    .venv/bin/python bench/kws_frontier.py [--seeds 3] [--widths 64,32] [--arch A,B] [--epochs N]
                                           [--jobs 2]

The kws goal is the reference DS-CNN's int8 test accuracy at no more than half its .tflite
bytes and MACs. This measures the curve it sits on: MLPerf Tiny's DS-CNN shape (a 3x3 stride-2
stem, four 3x3 depthwise-separable blocks; bench/compress.py's DS_CNN_3X3) at each width in
--widths, and the architectures named by --arch (by default tinyzoo's kws winner in
docs/RESULTS.md), each through the final recipe a search's winner gets: the kws recipe's
final epochs (or --epochs) distilled from teacher-kws (default T and alpha), int8 PTQ, QAT
when PTQ loses more than 0.5 points of validation accuracy, TFLM's reference kernels over the
960 test clips. Each .tflite is split into constant data (int8 weights, int32 biases),
quantization tables (a float32 scale and an int64 zero point per channel), tensor names (none
since `convert_int8` strips them) and the rest (flatbuffer tables, metadata): the parts that
do not shrink with the weights. With --jobs N, N trainings (one model, one seed each) run side
by side in their own processes. Writes section kws-frontier-<epochs> of docs/RESULTS.md.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import tempfile
import time
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._results import mean_sd, seeds_text, write_section  # noqa: E402
from bench.compress import _chain, prepare  # noqa: E402

# tinyzoo's kws winner under half the DS-CNN's .tflite and MACs (docs/RESULTS.md, search-kws-*).
SEARCHED = "r49x10x1_c3s1c24_ds3s2c32_ds5s2c32_ds5s2c48_gap_fc12"


@dataclass(frozen=True)
class Parts:
    """Where a .tflite's bytes go."""

    total: int
    data: int  # constant tensors: int8 weights, int32 biases, shapes
    quant: int  # quantization tables: 4 B scale + 8 B zero point per channel
    names: int  # tensor names: 0 for files convert_int8 made (stripped)

    @property
    def rest(self) -> int:  # flatbuffer tables, metadata, padding
        return self.total - self.data - self.quant - self.names


def parts(tflite: bytes) -> Parts:
    from nas._tflite import read_tflite

    t = read_tflite(tflite).tensors
    return Parts(
        len(tflite),
        sum(x.nbytes for x in t if x.is_constant),
        sum(4 * x.n_scales + 8 * x.n_zero_points for x in t),
        sum(len(x.name.encode()) for x in t),
    )


@dataclass(frozen=True)
class Row:
    name: str
    arch: str
    acc: list[float]  # int8 test accuracy per seed
    parts: Parts
    macs: int
    params: int
    arena: int
    seconds: float  # median per seed


@dataclass(frozen=True)
class Trained:
    """One model at one seed through the final recipe."""

    acc: float  # int8 test accuracy
    tflite: bytes
    arena: int  # Verification.arena
    seconds: float


_BASE: Any = None  # this process's data and teacher, loaded once


def _prepared() -> Any:
    global _BASE
    if _BASE is None:  # each process its own MLflow store: no shared SQLite between workers
        _BASE = prepare("kws", "sqlite:///" + tempfile.mkdtemp(prefix="tinyzoo-frontier-")
                        + "/mlflow.db")  # fmt: skip
    return _BASE


def _train(arch: str, seed: int, epochs: int) -> Trained:
    from nas.compress import Compress
    from searchspaces import ArchSpec

    t0 = time.monotonic()
    p = replace(_prepared(), spec=ArchSpec.parse(arch))
    out = _chain(p, seed, epochs, True, Compress(baseline=False))
    v = out.verification
    return Trained(float(v.int8_accuracy or 0.0), out.tflite, v.arena, time.monotonic() - t0)


def _report(name: str, seed: int, t: Trained) -> Trained:
    print(f"{name} seed {seed}: int8 test {t.acc:.4f}, .tflite {len(t.tflite):,} B "
          f"({t.seconds:.0f} s)", flush=True)  # fmt: skip
    return t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--widths", default="64,32", help="DS-CNN widths; the first is the reference")
    ap.add_argument("--arch", default=SEARCHED, help="more architectures, comma-separated")
    ap.add_argument("--epochs", type=int, help="final epochs (default: the kws recipe's)")
    ap.add_argument("--jobs", type=int, default=1, help="trainings run side by side")
    args = ap.parse_args()
    if args.jobs < 1:
        ap.error(f"--jobs must be 1 or more, got {args.jobs}")

    from nas.profile import profile_tflite
    from searchspaces import ArchSpec, get_space
    from searchspaces.dscnn import _ds_cnn

    base = _prepared()
    epochs = args.epochs or base.recipe.final_epochs
    space, g = get_space("dscnn"), base.data.geometry()
    archs = [
        (f"DS-CNN {w}", str(space.decode(_ds_cnn(g, w, 4, w), g)))
        for w in (int(w) for w in args.widths.split(","))
    ]
    extra = [a for a in args.arch.split(",") if a]
    archs += [("searched" if a == SEARCHED else f"--arch {i + 1}", str(ArchSpec.parse(a)))
              for i, a in enumerate(extra)]  # fmt: skip
    jobs = [(name, arch, seed) for name, arch in archs for seed in range(args.seeds)]
    done: dict[tuple[str, int], Trained] = {}
    if args.jobs > 1:  # each process loads the data and teacher once, then trains its share
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(args.jobs, mp_context=ctx) as pool:
            futures: dict[Future[Trained], tuple[str, str, int]] = {
                pool.submit(_train, arch, seed, epochs): (name, arch, seed)
                for name, arch, seed in jobs
            }
            for f in as_completed(futures):
                name, arch, seed = futures[f]
                done[arch, seed] = _report(name, seed, f.result())
    else:
        for name, arch, seed in jobs:
            done[arch, seed] = _report(name, seed, _train(arch, seed, epochs))
    rows: list[Row] = []
    for name, arch in archs:
        runs = [done[arch, seed] for seed in range(args.seeds)]
        last, prof = runs[-1], profile_tflite(runs[-1].tflite)
        rows.append(Row(name, arch, [r.acc for r in runs], parts(last.tflite), prof.macs,
                        prof.params, last.arena,
                        statistics.median(r.seconds for r in runs)))  # fmt: skip

    ref = rows[0]
    command = " ".join([".venv/bin/python bench/kws_frontier.py", *sys.argv[1:]])
    lines = [
        f"## kws: accuracy against flash, {epochs} epochs",
        "",
        f"`{command}`",
        "",
        f"int8 test accuracy (TFLM, 960 clips of unseen speakers), mean ± sd over "
        f"{seeds_text(args.seeds)}; {epochs} epochs distilled from teacher-kws, PTQ (QAT when "
        f"PTQ loses > 0.5 points on validation). The .tflite split: constant data (int8 weights, "
        f"int32 biases), quantization tables (a float32 scale per channel, an int64 zero point "
        f"per channel or, once nas.quantize.compact ran, per weight tensor), tensor names, and the rest (flatbuffer tables, metadata). The goal line: half "
        f"the {ref.name}'s .tflite ({ref.parts.total // 2:,} B) and MACs ({ref.macs // 2:,}).",
        "",
        "| model | int8 test % | .tflite B | x ref | data B | quant tables B | names B | rest B "
        "| MACs | x ref | params | TFLM arena B | median s | architecture |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        pt = r.parts
        lines.append(
            f"| {r.name} | {mean_sd(r.acc)} | {pt.total:,} | {pt.total / ref.parts.total:.2f} | "
            f"{pt.data:,} | {pt.quant:,} | {pt.names:,} | {pt.rest:,} | {r.macs:,} | "
            f"{r.macs / ref.macs:.2f} | {r.params:,} | {r.arena:,} | {r.seconds:.0f} | `{r.arch}` |"
        )
    within = [
        r for r in rows[1:] if 2 * r.parts.total <= ref.parts.total and 2 * r.macs <= ref.macs
    ]
    lines.append("")
    if within:
        best = max(within, key=lambda r: statistics.mean(r.acc))
        gap = 100 * (statistics.mean(best.acc) - statistics.mean(ref.acc))
        lines.append(
            f"- Within half the reference's .tflite and MACs the best is {best.name} "
            f"(`{best.arch}`): {mean_sd(best.acc)} %, {gap:+.2f} points from the reference's "
            f"{mean_sd(ref.acc)} %."
        )
    else:
        lines.append("- Nothing measured fits half the reference's .tflite and MACs.")

    def fixed(r: Row) -> float:  # percent of the file that is not constant data
        return 100 * (1 - r.parts.data / r.parts.total)

    lines.append(
        f"- Quantization tables, names and the rest are {fixed(ref):.0f} % of the reference's "
        f".tflite and {fixed(rows[-1]):.0f} % of the last model's ({rows[-1].name})."
    )
    write_section(f"kws-frontier-{epochs}", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
