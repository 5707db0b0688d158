"""Structured (channel) pruning by L1 norm: a trained winner becomes a narrower ArchSpec.

`plan(spec, fraction, space)` picks the narrower architecture: every convolution keeps the same
share of its output channels (at least the space's floor, `Space.narrowest`), the largest share
whose MACs are at most `(1 - fraction)` of the original. `prune_model` then copies the trained
weights of the channels with the largest L1 norms, measured on the batch-norm-folded kernels, so
that a channel's norm is what it contributes after folding. Depthwise layers keep the channels of
their input; each pointwise layer loses the input rows of the channels dropped before it, and the
classifier the rows of the last block's dropped channels. Fine-tuning (with distillation) follows
in the pipeline.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np

from nas.errors import TinyzooError

__all__ = ["PruneUnreachable", "check_fraction", "max_fraction", "plan", "prune_model"]


class PruneUnreachable(TinyzooError):
    """The pruning target needs fewer channels than the space allows."""


def check_fraction(fraction: float) -> None:
    if not 0 < fraction < 1:
        raise TinyzooError(
            f"--prune must be a fraction of the winner's MACs to remove, above 0 and below 1 "
            f"(for example 0.3), got {fraction}."
        )


def _macs(spec: Any) -> int:
    from nas.profile import profile_spec

    return int(profile_spec(spec).macs)


def _narrow(spec: Any, keep: float, floor: Any) -> Any:
    def c(n: int, lo: int) -> int:
        return max(lo, min(n, math.ceil(keep * n)))

    return replace(
        spec,
        stem=replace(spec.stem, channels=c(spec.stem.channels, floor.stem.channels)),
        blocks=tuple(
            replace(b, channels=c(b.channels, f.channels))
            for b, f in zip(spec.blocks, floor.blocks, strict=True)
        ),
    )


def max_fraction(spec: Any, space: Any) -> float:
    """The largest share of `spec`'s MACs that channel pruning within `space` can remove."""
    return 1.0 - _macs(space.narrowest(spec)) / _macs(spec)


def plan(spec: Any, fraction: float, space: Any) -> Any:
    """The widest uniform narrowing of `spec` with at most (1 - fraction) of its MACs."""
    check_fraction(fraction)
    floor = space.narrowest(spec)
    target = (1.0 - fraction) * _macs(spec)
    if _macs(floor) > target:
        most = max_fraction(spec, space)
        raise PruneUnreachable(
            f"--prune {fraction:g} cannot be reached for {spec}: at the {space.name} space's "
            f"narrowest channels it still has {_macs(floor)} MACs, {100 * most:.1f} % fewer than "
            f"its {_macs(spec)}. Use --prune {math.floor(most * 100) / 100:g} or less."
        )
    lo, hi = 0.0, 1.0  # _narrow(lo) meets the target, _narrow(hi) may not
    for _ in range(30):
        mid = (lo + hi) / 2
        if _macs(_narrow(spec, mid, floor)) <= target:
            lo = mid
        else:
            hi = mid
    return _narrow(spec, lo, floor)


def _folded_l1(kernel: np.ndarray, bn: list[np.ndarray], eps: float) -> np.ndarray:
    gamma, _beta, _mean, var = bn
    scale = np.abs(gamma) / np.sqrt(var + eps)
    return np.abs(kernel).reshape(-1, kernel.shape[-1]).sum(axis=0) * scale


def _keep(scores: np.ndarray, n: int) -> np.ndarray:
    """Indices of the n largest scores, in their original order (ties: the earlier channel)."""
    return np.sort(np.argsort(-scores, kind="stable")[:n])


def prune_model(model: Any, spec: Any, pruned: Any) -> Any:
    """A model of architecture `pruned` holding `model`'s weights for the channels kept."""
    from searchspaces._build import build

    out = build(pruned)
    src = {layer.name: layer for layer in model.layers}
    dst = {layer.name: layer for layer in out.layers}

    def bn(name: str, idx: np.ndarray) -> None:
        dst[name].set_weights([w[idx] for w in src[name].get_weights()])

    def producer(conv: str, n: int, rows: np.ndarray | None) -> np.ndarray:
        """Prune output channels of a stem or pointwise conv (and its input rows); keep indices."""
        (kernel,) = src[conv].get_weights()
        if rows is not None:
            kernel = kernel[:, :, rows, :]
        idx = _keep(_folded_l1(kernel, src[conv + "b"].get_weights(), src[conv + "b"].epsilon), n)
        dst[conv].set_weights([kernel[..., idx]])
        bn(conv + "b", idx)
        return idx

    idx = producer("c0", pruned.stem.channels, None)
    for i, b in enumerate(pruned.blocks, start=1):
        (dw,) = src[f"d{i}"].get_weights()
        dst[f"d{i}"].set_weights([dw[:, :, idx, :]])
        bn(f"d{i}b", idx)
        idx = producer(f"p{i}", b.channels, idx)
    kernel, bias = src["fc"].get_weights()
    dst["fc"].set_weights([kernel[idx, :], bias])
    return out
