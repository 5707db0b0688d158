"""Profile fidelity against TFLM, and profiling speed.

    .venv/bin/python bench/profile.py [--models 12] [--seconds 3]

For random members of every registered space (several input shapes), converts an int8 model
with trained-like random weights and compares the analytic profile (from the architecture, and
from the .tflite) with TFLM's allocation record and the smallest arena that allocates; then
times `profile_spec` on one core. Writes both into docs/RESULTS.md.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._results import write_section  # noqa: E402
from nas.profile import Profile, profile_spec, profile_tflite  # noqa: E402
from searchspaces import list_spaces  # noqa: E402
from searchspaces._registry import Geometry  # noqa: E402

GEOMETRIES = [
    Geometry((8,), 1, 10),
    Geometry((12, 16, 20, 24, 28), 1, 10),
    Geometry((15, 32), 3, 4),
]


def sample_specs(n: int, seed: int) -> list:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    out = []
    for space in list_spaces():
        # one study per geometry: a categorical's choices may not change within a study
        studies = [
            optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed + k))
            for k in range(len(GEOMETRIES))
        ]
        for i in range(n):
            g, study = GEOMETRIES[i % len(GEOMETRIES)], studies[i % len(GEOMETRIES)]
            trial = study.ask()
            out.append((space.name, space.decode(space.sample(trial, g), g)))
            study.tell(trial, 0.0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--models", type=int, default=12, help="models per space to convert and measure"
    )
    ap.add_argument("--seconds", type=float, default=3.0, help="time per speed repeat")
    args = ap.parse_args()

    from nas.quantize import convert_int8, measure_arena
    from searchspaces._build import build, randomize

    rows = []
    rng = np.random.default_rng(0)
    for i, (space, spec) in enumerate(sample_specs(args.models, seed=0)):
        model = randomize(build(spec), seed=i)  # trained-like constants, no training
        tflite = convert_int8(model, rng.random((16, *spec.input_shape), dtype=np.float32))
        p, f = profile_spec(spec), profile_tflite(tflite)
        # The prediction only saves probes: when it is wrong, measure_arena bisects.
        min_arena, total, head, tail = measure_arena(tflite, guess=f.min_arena_bytes)
        rows.append((space, spec, p, f, (head, tail, total, min_arena), len(tflite)))
        print(f"{spec}: arena {max(min_arena, total)} predicted {p.arena_bytes}", flush=True)

    def exact(p: Profile, m: tuple[int, int, int, int]) -> bool:
        figures = (p.activation_bytes, p.persistent_bytes, p.recorded_total_bytes)
        return (*figures, p.min_arena_bytes) == m

    def error(p: Profile, m: tuple[int, int, int, int]) -> float:
        arena = max(m[2], m[3])  # what TFLM needs: recorded total or smallest arena
        return (p.arena_bytes - arena) / arena

    n_spec = sum(exact(p, m) for _, _, p, _, m, _ in rows)
    n_file = sum(exact(f, m) for _, _, _, f, m, _ in rows)
    worst = max(abs(error(p, m)) for _, _, p, _, m, _ in rows)
    ratios = sorted(f.ideal_peak_bytes / f.activation_bytes for _, _, _, f, _, _ in rows)
    lines = [
        f"Of {len(rows)} models, the prediction from the architecture alone (before training) "
        f"equals TFLM's head, tail, recorded total and smallest arena to the byte for "
        f"{n_spec}; the profile of the converted .tflite for {n_file}. Largest arena error: "
        f"{100 * worst:.2f} %.",
        "",
        "TFLM figures: head, tail and total from `print_allocations()`; the smallest arena by "
        "probing the runtime (it allocates at that size and fails one byte below). The arena "
        "tinyzoo reports is the larger of total and smallest. Ideal peak: best order, in-place "
        f"depthwise and elementwise ops, no alignment (median {statistics.median(ratios):.2f} of "
        "TFLM's head).",
        "",
        "| space | architecture | head | tail | recorded total | smallest arena | "
        "predicted arena | error | ideal peak | .tflite | predicted .tflite |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for space, spec, p, f, (head, tail, total, min_arena), size in rows:
        m = (head, tail, total, min_arena)
        mark = "" if exact(p, m) else " (differs)"
        lines.append(
            f"| {space} | `{spec}` | {head} | {tail} | {total} | {min_arena} | "
            f"{p.arena_bytes}{mark} | {100 * error(p, m):+.2f} % | "
            f"{f.ideal_peak_bytes} | {size} | {p.tflite_bytes} |"
        )

    specs = [s for _, s in sample_specs(200, seed=1)]
    rates = []
    for _ in range(5):
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < args.seconds:
            for s in specs:
                profile_spec(s)
            n += len(specs)
        rates.append(n / (time.perf_counter() - t0))
    lines += [
        "",
        f"Speed: median {statistics.median(rates):,.0f} architectures profiled per second on one core "
        f"(5 repeats of {args.seconds:.0f} s over {len(specs)} random architectures; "
        f"{platform.processor() or platform.machine()}, Python {platform.python_version()}).",
    ]
    command = " ".join([".venv/bin/python bench/profile.py", *sys.argv[1:]])
    body = f"## Profile fidelity and speed\n\n`{command}`\n\n" + "\n".join(lines)
    write_section("profile", body)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
