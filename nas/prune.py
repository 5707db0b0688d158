"""Structured (channel) pruning by L1 norm: a trained winner becomes a narrower ArchSpec.

`plan(spec, fraction, space)` picks the narrower architecture: every convolution keeps the same
share of its output channels (at least the space's floor, `Space.narrowest`), the largest share
whose MACs are at most `(1 - fraction)` of the original. `prune_model` then copies the trained
weights of the channels with the largest L1 norms, measured on the batch-norm-folded kernels, so
that a channel's norm is what it contributes after folding. Depthwise layers keep the channels of
their input; each convolution loses the input rows of the channels dropped before it, and the
classifier the rows of the last layer's dropped channels.

A residual add ties channels together: the block's input and its projection are summed channel
by channel, so a chain of residual blocks keeps one set of channels, chosen by the summed norms
of every convolution that writes to it (each scored over the input channels already chosen,
or over all of them where its input's are chosen later). Uniform narrowing keeps tied layers equally wide (same
width, same floor). Fine-tuning (with distillation) follows in the pipeline.
"""

from __future__ import annotations

import math
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
    counts = [
        max(lo, min(n, math.ceil(keep * n)))
        for n, lo in zip(spec.channel_counts(), floor.channel_counts(), strict=True)
    ]
    return spec.with_channel_counts(counts)


def max_fraction(spec: Any, space: Any) -> float:
    """The largest share of `spec`'s MACs that channel pruning within `space` can remove."""
    return 1.0 - _macs(space.narrowest(spec)) / _macs(spec)


def reachable(spec: Any, fraction: float, space: Any) -> bool:
    """Whether channel pruning within `space` can take `fraction` of `spec`'s MACs: the one
    test that the search's filter (nas.pipeline.prunable) and `plan` share."""
    return _macs(space.narrowest(spec)) <= (1.0 - fraction) * _macs(spec)


def plan(spec: Any, fraction: float, space: Any) -> Any:
    """The widest uniform narrowing of `spec` with at most (1 - fraction) of its MACs."""
    check_fraction(fraction)
    floor = space.narrowest(spec)
    target = (1.0 - fraction) * _macs(spec)
    if not reachable(spec, fraction, space):
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


def _groups(layers: tuple[Any, ...]) -> tuple[dict[str, str], dict[str, str]]:
    """Each layer's channel group (named by the group's first convolution) and each layer's
    input layer ("" for the image). A convolution starts a group, depthwise layers and adds
    keep their input's, and an add merges the two groups it sums."""
    root: dict[str, str] = {}

    def find(g: str) -> str:
        while root[g] != g:
            g = root[g]
        return g

    group, source, prev = {}, {}, ""
    order = {layer.name: i for i, layer in enumerate(layers)}
    for layer in layers:
        source[layer.name] = prev
        if layer.op == "conv":
            root[layer.name] = group[layer.name] = layer.name
        else:
            group[layer.name] = group[prev]
            if layer.op == "add":
                a, b = sorted((find(group[layer.skip]), find(group[prev])), key=order.__getitem__)
                root[b] = a  # the earlier convolution names the merged group
        prev = layer.name
    return {k: find(g) for k, g in group.items()}, source


def prune_model(model: Any, spec: Any, pruned: Any) -> Any:
    """A model of architecture `pruned` holding `model`'s weights for the channels kept."""
    from searchspaces._arch import layers
    from searchspaces._build import build

    out = build(pruned)
    src = {layer.name: layer for layer in model.layers}
    dst = {layer.name: layer for layer in out.layers}
    lowered = layers(spec)
    width = {layer.name: layer.channels for layer in layers(pruned)}
    group, source = _groups(lowered)
    kept: dict[str, np.ndarray] = {}  # group -> the channel indices kept

    def rows(name: str) -> np.ndarray | None:
        """The input channels `name` keeps: its input group's, once chosen; None: all."""
        return kept.get(group[source[name]]) if source[name] else None

    def kernel_of(name: str) -> np.ndarray:
        (kernel,) = src[name].get_weights()
        r = rows(name)
        return kernel if r is None else kernel[:, :, r, :]

    convs = [layer.name for layer in lowered if layer.op == "conv"]
    for name in convs:
        g = group[name]
        if g in kept:
            continue
        writers = [c for c in convs if group[c] == g]
        score = np.sum(
            [
                _folded_l1(kernel_of(c), src[c + "b"].get_weights(), src[c + "b"].epsilon)
                for c in writers
            ],
            axis=0,
        )
        kept[g] = _keep(score, width[name])
    for layer in lowered:
        if layer.op == "add":
            continue
        idx = kept[group[layer.name]]
        if layer.op == "conv":
            dst[layer.name].set_weights([kernel_of(layer.name)[..., idx]])
        else:
            (dw,) = src[layer.name].get_weights()
            dst[layer.name].set_weights([dw[:, :, idx, :]])
        dst[layer.name + "b"].set_weights([w[idx] for w in src[layer.name + "b"].get_weights()])
    kernel, bias = src["fc"].get_weights()
    dst["fc"].set_weights([kernel[kept[group[lowered[-1].name]], :], bias])
    return out
