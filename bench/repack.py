"""Rewrite shipped zoo entries in the compact .tflite form that tinyzoo converts to today.

    .venv/bin/python bench/repack.py [NAME ...]

Entries shipped before `nas.quantize.compact` existed carry tensor names, a signature and one
zero point per channel of every weight tensor, none of which TFLM reads. For each named entry
(default: every one under zoo/pretrained/ whose model.tflite is not compact), this compacts the
file and runs the old and the new one on TFLM over the task's whole test split. It refuses the
entry unless every int8 output is identical, the accuracy is the recorded one and the measured
arena is the recorded one. Then it rewrites the size figures in entry.json, profile.json (today's
profile of the new file, with its measured arena), and the card: re-rendered by
`nas.card.model_card`, keeping the benchmark section that shipping appended, plus a note of what
changed. An entry that fails a check is left as it was; the others are still repacked.
"""

from __future__ import annotations

import argparse
import datetime
import json
import shutil
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._ship import PRETRAINED  # noqa: E402
from nas.errors import TinyzooError  # noqa: E402

BENCHMARK = "\n## Benchmark\n"


def _note(old: int, new: int, n: int, entry: dict[str, Any], day: str) -> str:
    m = entry["metrics"]
    text = (
        f"On {day}, `bench/repack.py` rewrote `model.tflite` in the compact form that tinyzoo "
        "now converts to (no tensor names or signature, one zero point per weight tensor): "
        f"{old:,} B became {new:,} B. The int8 model is the same: run on TFLM over all {n:,} "
        "test samples, every output of the new file equals the old one's, so the accuracy "
        f"({m['int8_accuracy']:.4f}) and the arena ({m['arena_bytes']:,} B) above stand. The "
        "compression report's registered row gives the new size; its other rows and the "
        "benchmark section, where the card has them, give sizes from before."
    )
    return "## Repacked\n\n" + textwrap.fill(text, width=95) + "\n"


def _replace(folder: Path, files: dict[str, bytes]) -> None:
    """Swap in a copy of `folder` with `files` rewritten: the folder is old or new, never half.
    The copy is staged beside the zoo root (same filesystem), not in it, where a crash would
    leave a second entry of the same name."""
    work = Path(tempfile.mkdtemp(prefix=".repack-", dir=folder.parent.parent))
    try:
        staged = work / "new"
        shutil.copytree(folder, staged)
        for name, data in files.items():
            (staged / name).write_bytes(data)
        folder.rename(work / "old")
        try:
            staged.rename(folder)
        except OSError:
            (work / "old").rename(folder)
            raise
    finally:
        shutil.rmtree(work)


def repack(folder: Path, day: str) -> tuple[int, int] | None:
    """Compact `folder`'s entry in place; (old bytes, new bytes), or None if already compact."""
    import numpy as np

    from nas.card import model_card
    from nas.data import load_task
    from nas.huffman import weight_sizes
    from nas.profile import profile_tflite
    from nas.quantize import compact, tflm_outputs, verify

    old = (folder / "model.tflite").read_bytes()
    new = compact(old)
    if new == old:
        return None
    entry = json.loads((folder / "entry.json").read_text(encoding="utf-8"))
    m = entry["metrics"]
    if m["tflite_bytes"] != len(old):
        raise TinyzooError(
            f"model.tflite has {len(old):,} B, entry.json says {m['tflite_bytes']:,}"
        )
    v = verify(new)
    arena = max(v.arena_bytes, v.recorded_total)  # as the pipeline records it
    if arena != m["arena_bytes"]:
        raise TinyzooError(f"arena {arena:,} B, recorded {m['arena_bytes']:,} B")
    data = load_task(entry["task"]).at_resolution(entry["input_shape"][0])
    n = len(data.x_test)
    if m.get("test_samples", n) != n:
        raise TinyzooError(
            f"recorded on {m['test_samples']:,} test samples, today's split has {n:,}"
        )
    before, after = tflm_outputs(old, data.x_test, arena), tflm_outputs(new, data.x_test, arena)
    if not np.array_equal(before, after):
        raise TinyzooError("the compact file's outputs differ from the old one's")
    acc = float(np.mean(np.argmax(after, axis=1) == data.y_test))
    if abs(acc - m["int8_accuracy"]) > 1e-9:
        raise TinyzooError(
            f"int8 accuracy {acc:.4f} on today's test split, recorded "
            f"{m['int8_accuracy']:.4f}; the data changed since it was shipped"
        )
    w = weight_sizes(new)
    if weight_sizes(old) != w or any(
        m.get(k, v) != v for k, v in (("weights_int8_bytes", w.int8_bytes),
                                      ("weights_huffman_bytes", w.huffman_bytes))
    ):  # fmt: skip
        raise TinyzooError("the int8 weights differ from the old file's or the recorded sizes")
    p = profile_tflite(new)
    m["flash_bytes"] += len(new) - m["tflite_bytes"]  # the board's reserve stays
    m["tflite_bytes"] = p.tflite_bytes
    for stage in entry.get("compression", []):  # the registered stage is this file
        if stage.get("kept"):
            stage["tflite_bytes"] = p.tflite_bytes
            m[f"stage/{stage['key']}/tflite_bytes"] = float(p.tflite_bytes)  # as metrics() has it
    measured = {  # on the TFLM runtime, as nas.pipeline.register_bundle writes it
        "arena_bytes": arena,
        "min_arena_bytes": v.arena_bytes,
        "recorded_total_bytes": v.recorded_total,
        "head_bytes": v.head_bytes,
        "tail_bytes": v.tail_bytes,
    }
    old_card = (folder / "README.md").read_text(encoding="utf-8")
    tail = old_card[old_card.index(BENCHMARK) :] if BENCHMARK in old_card else ""
    card = model_card(entry, p).rstrip() + "\n\n" + _note(len(old), len(new), n, entry, day)
    _replace(folder, {
        "model.tflite": new,
        "entry.json": (json.dumps(entry, indent=2) + "\n").encode(),
        "profile.json": json.dumps({**p.to_dict(), "measured": measured}, indent=2).encode(),
        "README.md": (card + tail).encode(),
    })  # fmt: skip
    return len(old), len(new)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", help="shipped entries (default: all)")
    ap.add_argument("--root", type=Path, default=PRETRAINED, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    names = args.names or sorted(p.name for p in args.root.iterdir() if p.is_dir())
    missing = [n for n in names if not (args.root / n / "entry.json").is_file()]
    if missing:
        print(f"error: no shipped entry {', '.join(missing)} under {args.root}", file=sys.stderr)
        return 2
    day = datetime.date.today().isoformat()
    failed = 0
    for name in names:
        try:
            sizes = repack(args.root / name, day)
        except Exception as e:  # noqa: BLE001 - one entry's failure must not stop the others
            print(f"{name}: left as it was: {e}", file=sys.stderr)
            failed += 1
            continue
        print(
            f"{name}: already compact"
            if sizes is None
            else f"{name}: {sizes[0]:,} -> {sizes[1]:,} B"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
