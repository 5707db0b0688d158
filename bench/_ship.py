"""Copy a benchmark's winner from its scratch zoo into zoo/pretrained/, as a shipped entry.

A shipped entry is the bundle's `model.tflite`, `entry.json`, `profile.json` and card
(`README.md`); the C sources are regenerated when the zoo imports it. The entry gets the
shipped name and the card a section with the benchmark's table, so that the figures that made
it a winner travel with it.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

PRETRAINED = Path(__file__).resolve().parents[1] / "zoo" / "pretrained"
FILES = ("model.tflite", "entry.json", "profile.json", "README.md")


def ship(ref: str, name: str, store: str, benchmark: str, root: Path = PRETRAINED) -> Path:
    """Ship zoo entry `ref` of `store` as `root/name`, replacing an older folder of that name."""
    from zoo import pull

    with tempfile.TemporaryDirectory(prefix="tinyzoo-ship-") as tmp:
        bundle = pull(ref, Path(tmp) / "bundle", tracking_uri=store)
        entry = json.loads((bundle / "entry.json").read_text(encoding="utf-8"))
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
        dest = root / name
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(staged, dest)
    return dest
