"""Profile fidelity against TFLM, and profiling speed.

    .venv/bin/python bench/profile.py [--models 12] [--seconds 3]

For random members of every registered space (several input shapes), converts an untrained
int8 model and compares the analytic profile with TFLM's allocation record; then times
`profile_spec` on one core. Writes both tables into docs/RESULTS.md.
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
from nas.profile import profile_spec, profile_tflite  # noqa: E402
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

    from nas.quantize import convert_int8, verify
    from searchspaces._build import build

    rows = []
    rng = np.random.default_rng(0)
    for space, spec in sample_specs(args.models, seed=0):
        tflite = convert_int8(build(spec), rng.random((16, *spec.input_shape), dtype=np.float32))
        v = verify(tflite)
        p, f = profile_spec(spec), profile_tflite(tflite)
        arena = max(v.arena_bytes, v.recorded_total)
        rows.append((space, spec, v, p, f, arena, len(tflite)))
        print(f"{spec}: head {v.head_bytes} predicted {p.activation_bytes}", flush=True)

    exact = sum(r[2].head_bytes == r[3].activation_bytes == r[4].activation_bytes for r in rows)
    lines = [
        f"{exact} of {len(rows)} models: predicted activation bytes equal TFLM's head to the byte.",
        "",
        "| space | architecture | TFLM head | predicted head | TFLM arena (min that allocates) | "
        "predicted arena | over | .tflite | predicted .tflite |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for space, spec, v, p, _f, arena, size in rows:
        over = 100 * (p.arena_bytes - arena) / arena
        lines.append(
            f"| {space} | `{spec}` | {v.head_bytes} | {p.activation_bytes} | {arena} | {p.arena_bytes} | "
            f"{over:+.1f} % | {size} | {p.tflite_bytes} |"
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
    body = "## Profile fidelity and speed\n\n`.venv/bin/python bench/profile.py`\n\n" + "\n".join(
        lines
    )
    write_section("profile", body)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
