"""Copy a benchmark's winner from its scratch zoo into zoo/pretrained/, as a shipped entry.

A shipped entry is the bundle's `model.tflite`, `entry.json`, `profile.json` and card
(`README.md`); the C sources are regenerated when the zoo imports it. The entry gets the
shipped name and the card a section with the benchmark's table, so that the figures that made
it a winner travel with it.

A shipped entry of that name is replaced only by one the zoo would make its champion (the
better int8 test accuracy, the newer on a tie: zoo._registry): a store that imported both keeps
the better as `champion`, and so does a fresh one.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

PRETRAINED = Path(__file__).resolve().parents[1] / "zoo" / "pretrained"
FILES = ("model.tflite", "entry.json", "profile.json", "README.md")


def ship(
    ref: str, name: str, store: str, benchmark: str, root: Path = PRETRAINED
) -> tuple[Path, float | None]:
    """Ship zoo entry `ref` of `store` as `root/name`, replacing an older folder of that name
    unless the older tested better on the same task and labels. Returns the folder and, when
    it was kept, the kept entry's int8 test accuracy."""
    from zoo import pull

    with tempfile.TemporaryDirectory(prefix="tinyzoo-ship-") as tmp:
        bundle = pull(ref, Path(tmp) / "bundle", tracking_uri=store)
        entry = json.loads((bundle / "entry.json").read_text(encoding="utf-8"))
        dest = root / name
        kept = _better_shipped(dest, entry)
        if kept is not None:
            return dest, kept
        old = entry["name"]
        entry["name"], entry["source"] = name, "search"
        (bundle / "entry.json").write_text(json.dumps(entry, indent=2) + "\n", encoding="utf-8")
        card = (bundle / "README.md").read_text(encoding="utf-8").replace(old, name)
        card = card.rstrip() + "\n\n## Benchmark\n\n" + benchmark.strip() + "\n"
        (bundle / "README.md").write_text(card, encoding="utf-8")
        staged = Path(tmp) / name
        staged.mkdir()
        for f in FILES:
            shutil.copy2(bundle / f, staged / f)
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(staged, dest)
    return dest, None


def _better_shipped(dest: Path, entry: dict[str, object]) -> float | None:
    """The int8 test accuracy of the entry shipped at `dest` when it beats `entry`'s on the
    same task and labels (the zoo's champion rule), else None."""
    f = dest / "entry.json"
    if not f.is_file():
        return None
    old = json.loads(f.read_text(encoding="utf-8"))
    if (old["task"], old["labels"]) != (entry["task"], entry["labels"]):
        return None
    acc = float(old["metrics"]["int8_accuracy"])
    new = float(entry["metrics"]["int8_accuracy"])  # type: ignore[index]
    return acc if acc > new else None
