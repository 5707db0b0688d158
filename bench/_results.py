"""Write one benchmark's section into docs/RESULTS.md, between markers, leaving the rest."""

from __future__ import annotations

import math
import re
import statistics
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "RESULTS.md"
HEADER = (
    "# Measured results\n\nEvery table below was written by the command named in its section.\n"
)


def write_section(key: str, body: str) -> None:
    text = RESULTS.read_text() if RESULTS.exists() else HEADER
    start, end = f"<!-- {key}:start -->", f"<!-- {key}:end -->"
    block = f"{start}\n{body.rstrip()}\n{end}"
    if start in text:
        text = re.sub(re.escape(start) + r".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)


def seeds_text(n: int, first: int = 0) -> str:
    """'seed 0' or 'seeds 0-2' (from `first`): the seeds a table averages over."""
    return f"seed {first}" if n == 1 else f"seeds {first}-{first + n - 1}"


def standard_error(diffs: list[float]) -> float:
    """The standard error of the mean of paired differences, from their spread (two or more)."""
    return statistics.stdev(diffs) / math.sqrt(len(diffs))


def mean_sd(xs: list[float]) -> str:
    """'92.12 ± 1.98': the mean and sample standard deviation of accuracies, in points."""
    sd = statistics.stdev(xs) if len(xs) > 1 else 0.0
    return f"{100 * statistics.mean(xs):.2f} ± {100 * sd:.2f}"
