"""DS-CNN: a stem convolution, then depthwise-separable blocks (Hello Edge, Zhang et al. 2017).

Searchable: input resolution (where the task allows), stem kernel/stride/channels, number of
blocks, and each block's kernel, stride and channels, and whether a stride-1 block after the
first adds its input (a residual, as MobileNetV2's blocks without expansion do:
`mb{k}s1c{n}r`, its pointwise projection linear; its channels are then its input's). Ranges
are data, declared here once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from searchspaces._arch import ArchSpec, Block, ConvBlock, DSBlock, MBBlock
from searchspaces._registry import Geometry, Space, register_space


@dataclass(frozen=True)
class DSCNNSpace(Space):
    name: str = "dscnn"
    description: str = (
        "stem conv + depthwise-separable blocks, optional residual adds (Hello Edge DS-CNN style)"
    )
    stem_kernels: tuple[int, ...] = (3, 5)
    stem_strides: tuple[int, ...] = (1, 2)
    # 40 and 48: stems wider than the blocks after them, for maps kept at full resolution by a
    # stride-1 stem (kws: docs/RESULTS.md, "kws: float test accuracy, probed").
    stem_channels: tuple[int, ...] = (4, 8, 12, 16, 24, 32, 40, 48)
    # The stem of `widest` (every shipped image teacher was trained with it) and the cap on the
    # DS-CNN seeds' stems, as before 40 and 48 were added: `seeds` tries those only ahead of
    # narrower blocks.
    base_stem: ClassVar[int] = 32
    min_blocks: int = 1
    max_blocks: int = 5
    kernels: tuple[int, ...] = (3, 5)
    strides: tuple[int, ...] = (1, 2)
    # Capped at 64 so that a trial trains in seconds on two CPU cores.
    channels: tuple[int, ...] = (8, 16, 24, 32, 48, 64)
    # Asked of blocks 1.. at stride 1, before their channels, which an add keeps (not block 0:
    # its input is the stem, which pruning may narrow further than blocks). On kws, three
    # residual blocks after a 48-channel stem and a stride-2 block tested int8 level with the
    # DS-CNN 64 at half its .tflite (docs/RESULTS.md, "kws: residual blocks").
    residual: tuple[bool, ...] = (False, True)

    def sample(self, trial: Any, geometry: Geometry) -> dict[str, Any]:
        p: dict[str, Any] = {
            "resolution": trial.suggest_categorical("resolution", list(geometry.resolutions)),
            "stem_kernel": trial.suggest_categorical("stem_kernel", list(self.stem_kernels)),
            "stem_stride": trial.suggest_categorical("stem_stride", list(self.stem_strides)),
            "stem_channels": trial.suggest_categorical("stem_channels", list(self.stem_channels)),
            "blocks": trial.suggest_int("blocks", self.min_blocks, self.max_blocks),
        }
        for i in range(p["blocks"]):
            p[f"b{i}_kernel"] = trial.suggest_categorical(f"b{i}_kernel", list(self.kernels))
            p[f"b{i}_stride"] = trial.suggest_categorical(f"b{i}_stride", list(self.strides))
            if _may_add(p, i):  # asked before the channels: an add keeps its input's
                p[f"b{i}_residual"] = trial.suggest_categorical(
                    f"b{i}_residual", list(self.residual)
                )
            if not p.get(f"b{i}_residual"):
                p[f"b{i}_channels"] = trial.suggest_categorical(
                    f"b{i}_channels", list(self.channels)
                )
        return p

    def decode(self, params: dict[str, Any], geometry: Geometry) -> ArchSpec:
        r = int(params["resolution"])
        return ArchSpec(
            input_shape=geometry.shape(r),
            num_classes=geometry.num_classes,
            stem=ConvBlock(
                int(params["stem_kernel"]), int(params["stem_stride"]), int(params["stem_channels"])
            ),
            blocks=tuple(_block(params, i) for i in range(int(params["blocks"]))),
        )

    def smallest(self, geometry: Geometry) -> ArchSpec:
        r = min(geometry.resolutions)
        return ArchSpec(
            input_shape=geometry.shape(r),
            num_classes=geometry.num_classes,
            stem=ConvBlock(min(self.stem_kernels), max(self.stem_strides), min(self.stem_channels)),
            blocks=(DSBlock(min(self.kernels), max(self.strides), min(self.channels)),)
            * self.min_blocks,
        )

    def widest(self, geometry: Geometry) -> ArchSpec:
        """A teacher: the largest resolution, the most and the widest blocks (the stem at
        `base_stem`)."""
        p = self._image_design(geometry, max(self.channels))
        return self.decode(p | {"stem_channels": self.base_stem}, geometry)

    def _image_design(self, geometry: Geometry, channels: int) -> dict[str, Any]:
        """`sample` params of `widest`'s shape with blocks of `channels` (the stem at most
        `base_stem`): the largest resolution, 3x3 kernels, a stride-1 stem, then as many
        blocks as the space allows, down-sampling twice on small inputs and three times from
        16 pixels up."""
        strides = (2, 1, 2, 1, 2) if max(geometry.resolutions) >= 16 else (1, 1, 2, 1, 1)
        stem = (min(self.stem_kernels), min(self.stem_strides), min(channels, self.base_stem))
        return _uniform(geometry, stem, min(self.kernels), strides[: self.max_blocks], channels)

    def seeds(self, geometry: Geometry) -> list[dict[str, Any]]:
        """For fixed-width inputs (MFCC maps): MLPerf Tiny's DS-CNN shape (3x3 stride-2 stem,
        3x3 stride-1 blocks; the stem capped at `base_stem`), scaled down as
        MobileNets are, by width first: 4 blocks at 64, 48, ... channels, then 3 blocks, and
        so on. Depth is kept longest: on kws the 2-block DS-CNN at 64 channels (0.38x the MACs)
        tested 86.8 % int8, far below the 4-block one. At each width and depth the same
        layers with the stem at stride 1 and the first block at stride 2 come first: the same
        bytes, more MACs (on kws at 32 channels, 1.3 points more int8 test accuracy in a first
        measurement: docs/RESULTS.md after kws-frontier-120). Before those, the stride-1 stem
        widened, widest first, up to 1.5x the blocks: it sees the whole map, for about 74 B of
        flash per channel (its filter, the next depthwise filter, a pointwise row). On kws, 48
        channels before four blocks of 32 measured +0.69 points of float test accuracy over
        the 32-channel stem on a GPU (paired, 6 seeds) and +0.17 int8 on the CPUs (3 seeds),
        still 0.7 under the DS-CNN 64 (docs/RESULTS.md, "kws: float test accuracy, probed").
        The stem's output is the largest activation, so a tight RAM budget skips to a
        narrower one. Each design comes first with its blocks after the first adding their
        input (residual; the same weights, an add per block, a larger arena): on kws the
        48-channel stem's design tested int8 92.92 % with them over seeds 0-2, 92.12 % without,
        and the DS-CNN 64 92.78 % (docs/RESULTS.md, "kws: residual blocks").

        For images: `widest` (every shipped image teacher's shape), then the same layers
        narrower, by width only (64, 48, ... channels at full resolution). On fashion the
        widest out-scored the 60-epoch benchmark's TPE winner on the search's own proxy
        (0.849/0.850 against 0.847/0.841, 2 seeds) and tests 92.96 % int8 as teacher-fashion,
        inside the 64 KB budget, but TPE never drew it in 20 trials (docs/RESULTS.md, after
        search-fashion)."""
        if geometry.width is None:
            return [self._image_design(geometry, c) for c in sorted(self.channels, reverse=True)]
        out = []
        for n in range(min(4, self.max_blocks), self.min_blocks - 1, -1):
            for c in sorted(self.channels, reverse=True):
                stem = min(c, self.base_stem)
                wider = sorted((s for s in self.stem_channels if c < s <= 1.5 * c), reverse=True)
                for s, stride in [*((s, 1) for s in wider), (stem, 1), (stem, 2)]:
                    out += [_ds_cnn(geometry, c, n, s, stride, residual=True)] if n > 1 else []
                    out += [_ds_cnn(geometry, c, n, s, stride)]
        return out

    def teacher(self, geometry: Geometry) -> ArchSpec:
        """For fixed-width inputs (kws's 49x10 MFCC maps): MLPerf Tiny's DS-CNN shape (stride-2
        stem, four stride-1 blocks) at twice the space's widest channels. `widest` halves the
        10 coefficients three times and tests below the 64-channel DS-CNN it would teach
        (docs/RESULTS.md, "kws: augmentation and the teacher")."""
        if geometry.width is None:
            return self.widest(geometry)
        c = 2 * max(self.channels)
        return self.decode(_ds_cnn(geometry, c, 4, c), geometry)

    def narrowest(self, spec: ArchSpec) -> ArchSpec:
        stem = min(self.stem_channels)
        return replace(
            spec,
            stem=replace(spec.stem, channels=min(spec.stem.channels, stem)),
            blocks=tuple(
                replace(b, channels=min(b.channels, min(self.channels))) for b in spec.blocks
            ),
        )


def _may_add(params: dict[str, Any], i: int) -> bool:
    """Whether block `i` of `sample` params is asked `b{i}_residual`: a block after the first,
    at stride 1. A block that adds its input has its input's channels (no `b{i}_channels`)."""
    return i > 0 and int(params[f"b{i}_stride"]) == 1


def _channels(params: dict[str, Any], i: int) -> int:
    """Block `i`'s output channels: its own, or for a residual block its input's."""
    return (
        _channels(params, i - 1) if params.get(f"b{i}_residual") else int(params[f"b{i}_channels"])
    )


def _block(params: dict[str, Any], i: int) -> Block:
    k, s, c = int(params[f"b{i}_kernel"]), int(params[f"b{i}_stride"]), _channels(params, i)
    return MBBlock(k, s, c, residual=True) if params.get(f"b{i}_residual") else DSBlock(k, s, c)


def _ds_cnn(
    geometry: Geometry,
    channels: int,
    blocks: int,
    stem: int,
    stem_stride: int = 2,
    residual: bool = False,
) -> dict[str, Any]:
    """`sample` params of MLPerf Tiny's DS-CNN shape: a 3x3 stride-2 stem of `stem` channels,
    then `blocks` 3x3 stride-1 depthwise-separable blocks of `channels`, at full resolution.
    With `stem_stride` 1 the first block takes the stride of 2 instead; with `residual` the
    blocks after the first add their input."""
    strides = [2 if i == 0 and stem_stride == 1 else 1 for i in range(blocks)]
    return _uniform(geometry, (3, stem_stride, stem), 3, strides, channels, residual)


def _uniform(
    geometry: Geometry, stem: tuple[int, int, int], kernel: int, strides: Sequence[int],
    channels: int, residual: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """`sample` params at full resolution: a stem of (kernel, stride, channels), then one
    block of `kernel` and `channels` per entry of `strides`, at that stride; each block that
    may add its input does so with `residual` (the answer is given either way, so that an
    enqueued seed trial is exactly this design)."""
    p: dict[str, Any] = {
        "resolution": max(geometry.resolutions), "stem_kernel": stem[0], "stem_stride": stem[1],
        "stem_channels": stem[2], "blocks": len(strides),
    }  # fmt: skip
    for i, s in enumerate(strides):
        p |= {f"b{i}_kernel": kernel, f"b{i}_stride": s}
        if _may_add(p, i):
            p[f"b{i}_residual"] = residual
        if not p.get(f"b{i}_residual"):
            p[f"b{i}_channels"] = channels
    return p


DSCNN = register_space(DSCNNSpace())
