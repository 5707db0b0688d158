"""What SpecAugment-style augmentation and width buy on kws: float test accuracy per model.

    .venv/bin/python bench/kws_augment.py [--seeds 1] [--epochs 40]

Trains each kws model below with and without `nas.data.kws.spec_augment` (the kws recipe:
40 epochs, batch 64, nas.train's Adam and cosine schedule; the best validation epoch kept)
and reports float validation and test accuracy (960 clips each, speakers never trained on).
The models: MLPerf Tiny's DS-CNN (bench/compress.py's reference), the dscnn space's widest
member (the kws teacher before this measurement), and the DS-CNN at 128 channels (the kws
teacher now, `Space.teacher`). It answers two questions: does augmentation help the students,
and which teacher is stronger than the students it teaches.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._results import seeds_text, write_section  # noqa: E402
from bench.compress import REFERENCES, _mean_sd  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=40)
    args = ap.parse_args()

    from nas.data import load_task
    from nas.pipeline import RECIPES
    from nas.train import accuracy, train
    from searchspaces import ArchSpec, get_space

    data = load_task("kws")
    space, g = get_space("dscnn"), data.geometry()
    models = {
        "DS-CNN (reference)": ArchSpec.parse(REFERENCES["kws"]),
        "dscnn widest (old teacher)": space.widest(g),
        "DS-CNN x2 (teacher)": space.teacher(g),
    }
    rows = []
    for name, spec in models.items():
        for augment in (None, data.augment):
            val, test, secs = [], [], []
            for seed in range(args.seeds):
                t0 = time.monotonic()
                res = train(
                    spec, data.x_train, data.y_train, data.x_val, data.y_val,
                    epochs=args.epochs, seed=seed, batch_size=RECIPES["kws"].batch_size,
                    augment=augment,
                )  # fmt: skip
                secs.append(time.monotonic() - t0)
                val.append(res.val_accuracy)
                test.append(accuracy(res.model, data.x_test, data.y_test))
                print(f"{name} augment={augment is not None} seed {seed}: val {val[-1]:.4f} "
                      f"test {test[-1]:.4f} ({secs[-1]:.0f} s)", flush=True)  # fmt: skip
            rows.append((name, spec, augment is not None, val, test, float(np.median(secs))))

    def pm(xs: list[float]) -> str:
        return _mean_sd(xs) if len(xs) > 1 else f"{100 * xs[0]:.2f}"

    command = " ".join([".venv/bin/python bench/kws_augment.py", *sys.argv[1:]])
    lines = [
        "## kws: augmentation and the teacher",
        "",
        f"`{command}`",
        "",
        f"Float accuracy, {args.epochs} epochs, batch 64, {seeds_text(args.seeds)} "
        f"(mean ± sd where more than one); 960 validation and 960 test clips of unseen speakers.",
        "",
        "| model | SpecAugment | val % | test % | median s per training | architecture |",
        "|---|---|---|---|---|---|",
    ]
    for name, spec, aug, val, test, s in rows:
        lines.append(
            f"| {name} | {'yes' if aug else 'no'} | {pm(val)} | {pm(test)} | {s:.0f} | `{spec}` |"
        )
    write_section("kws-augment", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
