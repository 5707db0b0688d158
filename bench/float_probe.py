"""Float test accuracy of many trainings side by side, on any Keras backend.

A cheap probe that chooses what the int8 benchmarks (bench/kws_frontier.py, bench/search.py)
spend CPU-hours on:

    .venv/bin/python bench/float_probe.py dump --task kws --out probe-kws.npz
    python3 bench/float_probe.py run probe-kws.npz --arch ref=ARCH,b=ARCH --seeds 4 \\
        --workers 16 --out probe.jsonl                  [--jobs ref:4,b:5: chosen seeds instead]
    .venv/bin/python bench/float_probe.py table probe.jsonl [more.jsonl ...] --reference ref

`dump` (here, where TensorFlow loads the teacher) writes the task's three splits, at their
native size (so the probe takes architectures of that input size), and the teacher's logits
of the training inputs to one .npz. `run` needs only Keras, NumPy and this repository, so it
also runs on a borrowed accelerator machine: its workers use Keras on JAX unless
KERAS_BACKEND says otherwise. Each training is the final one a search's winner gets
(`nas.train.train`: the task recipe's batch and epochs, the augmentation those epochs get,
distilled from the teacher's fixed logits at the default T and alpha), one process per
training; one JSON line per training is appended to --out as it ends. `table` writes section
float-probe-<task> of docs/RESULTS.md: per architecture the test accuracy of each seed, the
mean, the mean paired difference from --reference on the same seeds, and the compact int8
.tflite bytes and MACs. These are float figures on whichever backend ran them, not the int8
TFLM figures that count; backends differ in kernels and random streams.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._results import write_section  # noqa: E402


def dump(task: str, out: Path) -> None:
    import numpy as np

    from bench.compress import prepare
    from nas.data import load_task

    p = prepare(task, "sqlite:///" + tempfile.mkdtemp(prefix="tinyzoo-probe-") + "/mlflow.db")
    # the native inputs, which the teacher's logits are of (prepare's are at its model's size);
    # the augmentation uncut: `run` cuts it for the epochs it is given
    d = load_task(task)
    meta = {"task": task, "epochs": p.recipe.final_epochs, "batch_size": p.recipe.batch_size,
            "augmentation": d.augmentation, "teacher": f"{p.teacher.entry.name}/{p.teacher.entry.version}"}  # fmt: skip
    np.savez(
        out, x_train=d.x_train, y_train=d.y_train, x_val=d.x_val, y_val=d.y_val,
        x_test=d.x_test, y_test=d.y_test, logits=p.logits,
        meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
    )  # fmt: skip
    print(f"{out}: {task}, {len(d.x_train)} training inputs, teacher {meta['teacher']}")


TEMPORAL = re.compile(r"t(\d+)c(\d+)")


def _spec(arch: str) -> tuple[Any, bool]:
    """The ArchSpec of `arch` and whether it is temporal (its `t{k}c{n}` stem read as
    `c{k}s1c{n}`, which gives its input, blocks and classes)."""
    from searchspaces import ArchSpec

    tokens = arch.strip().split("_")
    m = TEMPORAL.fullmatch(tokens[1]) if len(tokens) > 1 else None
    if m:
        tokens[1] = f"c{m[1]}s1c{m[2]}"
    return ArchSpec.parse("_".join(tokens)), m is not None


def _temporal(spec: Any, seed: int = 0) -> Any:
    """A temporal model: the stem a k x W valid convolution (W the input's width), then each
    block's depthwise kernel k x 1; otherwise as searchspaces.build (BN, ReLU, dropout).
    Initialized from `seed`, as train() seeds before it builds a spec."""
    from nas._quiet import quiet_tensorflow

    quiet_tensorflow()
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)

    from searchspaces import DSBlock
    from searchspaces._build import BN_MOMENTUM

    def bn_relu(x: Any) -> Any:
        return layers.ReLU()(layers.BatchNormalization(momentum=BN_MOMENTUM)(x))

    x = inp = keras.Input(shape=spec.input_shape, name="x")
    k, width = spec.stem.kernel, spec.input_shape[1]
    x = bn_relu(layers.Conv2D(spec.stem.channels, (k, width), use_bias=False)(x))
    for b in spec.blocks:
        if not isinstance(b, DSBlock):
            raise ValueError(f"a temporal probe model takes ds blocks only, not {b}")
        # one stride for both axes: TensorFlow's CPU depthwise kernel refuses (s, 1) without
        # oneDNN, and on a 1-wide sequence (s, s) is the same
        x = bn_relu(layers.DepthwiseConv2D((b.kernel, 1), strides=b.stride, padding="same",
                                           use_bias=False)(x))  # fmt: skip
        x = bn_relu(layers.Conv2D(b.channels, 1, use_bias=False)(x))
    x = layers.Dropout(0.1)(layers.GlobalAveragePooling2D()(x))
    return keras.Model(inp, layers.Dense(spec.num_classes)(x))


def _train(data: str, name: str, arch: str, seed: int, epochs: int | None) -> dict[str, Any]:
    import numpy as np

    from nas.data._dataset import AUGMENT_MIN_EPOCHS, AUGMENTATIONS
    from nas.distill import DEFAULT_ALPHA, DEFAULT_TEMPERATURE
    from nas.train import accuracy, train

    with np.load(data) as z:
        d = {k: z[k] for k in z.files}
    meta = json.loads(bytes(d["meta"]).decode())
    spec, temporal = _spec(arch)
    model = _temporal(spec, seed) if temporal else None
    if tuple(spec.input_shape) != d["x_train"].shape[1:]:
        raise ValueError(f"{arch} takes {spec.input_shape}, the data is {d['x_train'].shape[1:]}")
    n = epochs or meta["epochs"]
    aug = meta["augmentation"] if n >= AUGMENT_MIN_EPOCHS.get(meta["augmentation"], 0) else "none"
    t0 = time.monotonic()
    res = train(
        spec, d["x_train"], d["y_train"], d["x_val"], d["y_val"], epochs=n, seed=seed,
        batch_size=meta["batch_size"], teacher_logits=d["logits"],
        temperature=DEFAULT_TEMPERATURE, alpha=DEFAULT_ALPHA, augment=AUGMENTATIONS[aug](),
        model=model,
    )  # fmt: skip
    import keras

    return {
        "task": meta["task"], "name": name, "arch": arch if temporal else str(spec),
        "seed": seed, "epochs": n,
        "backend": keras.backend.backend(), "val": res.val_accuracy,
        "test": accuracy(res.model, d["x_test"], d["y_test"]), "s": time.monotonic() - t0,
    }  # fmt: skip


def run(args: argparse.Namespace) -> None:
    import numpy as np

    archs = dict(a.split("=", 1) for a in args.arch.split(","))
    if args.jobs:
        jobs = [(n, int(s)) for n, s in (j.split(":") for j in args.jobs.split(","))]
    else:
        jobs = [(n, s) for s in range(args.seeds) for n in archs]
    unknown = sorted({n for n, _ in jobs} - set(archs))
    if unknown:
        raise SystemExit(f"float_probe: --jobs names {unknown}, not in --arch ({sorted(archs)})")
    with np.load(args.data) as z:
        shape = z["x_test"].shape[1:]
    takes = {n: tuple(_spec(a)[0].input_shape) for n, a in archs.items()}
    wrong = [f"{n} takes {t}" for n, t in takes.items() if t != shape]
    if wrong:
        raise SystemExit(f"float_probe: the data is {shape}; {', '.join(wrong)}")
    # the workers inherit: Keras on JAX unless told otherwise (an accelerator machine has no
    # TensorFlow), and each takes GPU memory as it needs it, so that many share one GPU
    os.environ.setdefault("KERAS_BACKEND", "jax")
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(args.workers, mp_context=ctx) as pool, open(args.out, "a") as out:
        futures = [pool.submit(_train, args.data, n, archs[n], s, args.epochs) for n, s in jobs]
        failed = 0
        for f in as_completed(futures):
            try:
                row = f.result()
            except Exception as e:  # one training's failure costs no other's result
                failed += 1
                print(f"float_probe: a training failed: {e!r}", file=sys.stderr, flush=True)
                continue
            print(json.dumps(row), flush=True)
            out.write(json.dumps(row) + "\n")
            out.flush()
    if failed:
        raise SystemExit(f"float_probe: {failed} of {len(jobs)} trainings failed (above)")


def table(args: argparse.Namespace) -> None:
    rows = [json.loads(line) for f in args.files for line in Path(f).read_text().splitlines()]
    by: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by.setdefault(r["name"], []).append(r)
    for name, rs in by.items():
        seeds = [r["seed"] for r in rs]
        kinds = {(r["arch"], r["task"], r["epochs"], r["backend"]) for r in rs}
        if len(set(seeds)) < len(seeds) or len(kinds) > 1:
            raise SystemExit(
                f"float_probe: the rows named {name!r} repeat a seed or differ in architecture, "
                "task, epochs or backend; give each its own name, or drop the repeats"
            )
    if args.reference not in by:
        raise SystemExit(f"float_probe: no rows named {args.reference!r} (names: {sorted(by)})")
    ref = {r["seed"]: r["test"] for r in by[args.reference]}
    task, backends = rows[0]["task"], sorted({r["backend"] for r in rows})
    epochs = sorted({r["epochs"] for r in rows})
    lines = [
        f"## {task}: float test accuracy, probed ({', '.join(backends)} backend)",
        "",
        args.command or "",
        "",
        f"Float test accuracy of the final training (`nas.train.train`, {task} recipe, "
        f"{'/'.join(map(str, epochs))} epochs, distilled from the teacher's fixed logits), one "
        f"training per seed, on the {', '.join(backends)} backend; not the int8 figure that "
        f"counts. Paired: the mean difference from {args.reference} on the same seeds. .tflite: "
        f"the compact int8 file (`convert_int8`) of the architecture.",
        "",
        "| model | test % per seed | mean ± sd | paired | val % (mean) | .tflite B | x ref | "
        "MACs | x ref | median s | architecture |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    size = {n: _size(rs[0]["arch"]) for n, rs in by.items()}
    ref_bytes, ref_macs = size[args.reference]

    def mean(rs: list[dict[str, Any]]) -> float:
        return statistics.mean(r["test"] for r in rs)

    for name, rs in sorted(by.items(), key=lambda kv: -mean(kv[1])):
        rs.sort(key=lambda r: r["seed"])
        test = [100 * r["test"] for r in rs]
        sd = statistics.stdev(test) if len(test) > 1 else 0.0
        paired = [100 * (r["test"] - ref[r["seed"]]) for r in rs if r["seed"] in ref]
        pair = f"{statistics.mean(paired):+.2f}" if paired else "—"
        per_seed = ", ".join(f"{r['seed']}: {t:.2f}" for r, t in zip(rs, test, strict=True))
        b, m = size[name]
        lines.append(
            f"| {name} | {per_seed} | {statistics.mean(test):.2f} ± {sd:.2f} | {pair} | "
            f"{statistics.mean(100 * r['val'] for r in rs):.2f} | {b:,} | {b / ref_bytes:.2f} | "
            f"{m:,} | {m / ref_macs:.2f} | {statistics.median(r['s'] for r in rs):.0f} | "
            f"`{rs[0]['arch']}` |"
        )
    write_section(args.key or f"float-probe-{task}", "\n".join(lines))
    print("\n".join(lines))


def _size(arch: str) -> tuple[int, int]:
    """The compact int8 .tflite bytes of `arch` (converted untrained: the same bytes) and MACs."""
    from nas.profile import _converted_bytes, profile_spec, profile_tflite

    spec, temporal = _spec(arch)
    if not temporal:
        return _converted_bytes(spec), profile_spec(spec).macs
    import numpy as np

    from nas.quantize import convert_int8
    from searchspaces._build import randomize

    x = np.random.default_rng(0).normal(0, 1, (8, *spec.input_shape)).astype(np.float32)
    tflite = convert_int8(randomize(_temporal(spec)), x)
    return len(tflite), profile_tflite(tflite).macs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="step", required=True)
    d = sub.add_parser("dump", help="the task's splits and teacher logits, to one .npz")
    d.add_argument("--task", default="kws")
    d.add_argument("--out", type=Path, required=True)
    r = sub.add_parser("run", help="train side by side; one JSON line per training")
    r.add_argument("data", help="the .npz that `dump` wrote")
    r.add_argument("--arch", required=True, help="NAME=ARCH, comma-separated")
    r.add_argument("--seeds", type=int, default=4, help="seeds 0..N-1 of every --arch")
    r.add_argument("--jobs", help="NAME:SEED, comma-separated, instead of --seeds")
    r.add_argument("--epochs", type=int, help="default: the task recipe's final epochs")
    r.add_argument("--workers", type=int, default=2, help="trainings side by side")
    r.add_argument("--out", default="probe.jsonl")
    t = sub.add_parser("table", help="write the section of docs/RESULTS.md")
    t.add_argument("files", nargs="+")
    t.add_argument("--reference", required=True, help="the NAME others are paired against")
    t.add_argument("--command", help="how the rows were made (Markdown), quoted in the section")
    t.add_argument("--key", help="the section's name (default: float-probe-<task>)")
    args = ap.parse_args()
    if args.step == "run" and args.workers < 1:
        ap.error(f"--workers must be 1 or more, got {args.workers}")
    {"dump": lambda: dump(args.task, args.out), "run": lambda: run(args),
     "table": lambda: table(args)}[args.step]()  # fmt: skip


if __name__ == "__main__":
    main()
