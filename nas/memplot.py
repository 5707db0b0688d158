"""Memory over the schedule, drawn with matplotlib (imported only when a plot is asked for)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nas.profile import Profile

__all__ = ["plot_memory"]


def plot_memory(
    profile: Profile, path: str | Path, *, title: str = "", ram_budget: int | None = None
) -> Path:
    """Write a PNG: per op, TFLM's persistent tail plus the activation bytes live in the head.

    The peak op is drawn in red; dashed lines mark TFLM's predicted arena, the ideal peak and,
    when given, the RAM budget.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = profile.layers
    xs = range(len(rows))
    live = [r.live_bytes for r in rows]
    peak = profile.peak_index
    fig, ax = plt.subplots(figsize=(max(6.0, 0.45 * len(rows) + 2), 4.2), dpi=110)
    ax.bar(xs, [profile.persistent_bytes] * len(rows), color="#b0b0b0", label="persistent (tail)")
    ax.bar(
        xs,
        live,
        bottom=profile.persistent_bytes,
        color=["#d62728" if i == peak else "#1f77b4" for i in xs],
        label="live activations (head)",
    )
    lines = [
        (profile.arena_bytes, "#444444", f"TFLM arena {profile.arena_bytes:,} B"),
        (profile.ideal_peak_bytes, "#2ca02c", f"ideal peak {profile.ideal_peak_bytes:,} B"),
    ]
    if ram_budget is not None:
        lines.append((ram_budget, "#ff7f0e", f"RAM budget {ram_budget:,} B"))
    for y, colour, label in lines:
        ax.axhline(y, color=colour, linestyle="--", linewidth=1, label=label)
    ax.set_xticks(list(xs), [f"{i} {r.op}" for i, r in enumerate(rows)], rotation=60, ha="right")
    ax.set_ylabel("bytes")
    ax.set_title(title or "memory over the schedule")
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out)
    plt.close(fig)
    return out
