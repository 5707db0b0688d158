"""MobileNetV1 (Howard et al. 2017): a strided 3x3 stem, then 13 depthwise-separable blocks.

Searchable, as in the paper: the width multiplier (every layer's channels scaled by alpha, as
MobileNetV1-0.25 is for MLPerf Tiny's visual wake words), the depth (how many of the 13 blocks
are kept, from the first; the paper's "shallow" variant drops five of the 512-channel blocks),
the input resolution (where the task allows) and the stem's stride. Kernels are 3x3
throughout, as in the paper.

Small inputs: the paper down-samples 32x from 224 pixels. Here a stride of 2 is kept only while
the feature map's narrower side is at least 4 pixels, so an 8x8 input (or kws' 49x10 MFCC) is
not reduced to nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from searchspaces._arch import ArchSpec, ConvBlock, DSBlock
from searchspaces._registry import Geometry, Space, register_space

# MobileNetV1's body: (pointwise channels at alpha = 1, depthwise stride), Table 1 of the paper.
BODY: tuple[tuple[int, int], ...] = (
    (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
    (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1),
)  # fmt: skip
STEM_CHANNELS = 32


def scaled(channels: int, alpha: float, divisor: int = 8) -> int:
    """Channels at width `alpha`, to a multiple of `divisor` and never below it.

    The rounding of the Keras and TensorFlow MobileNets: to the nearest multiple, then up one
    step if that lost more than 10 %.
    """
    v = channels * alpha
    n = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return n + divisor if n < 0.9 * v else n


@dataclass(frozen=True)
class MBV1Space(Space):
    name: str = "mbv1"
    description: str = "MobileNetV1: width multiplier, depth (blocks kept of 13), resolution"
    alphas: tuple[float, ...] = (0.1, 0.125, 0.25, 0.35, 0.5)
    min_depth: int = 2
    max_depth: int = len(BODY)
    stem_strides: tuple[int, ...] = (1, 2)
    # Pruning may narrow a layer down to this, never below (the smallest alpha's channels).
    min_channels: int = 8

    def sample(self, trial: Any, geometry: Geometry) -> dict[str, Any]:
        return {
            "resolution": trial.suggest_categorical("resolution", list(geometry.resolutions)),
            "alpha": trial.suggest_categorical("alpha", list(self.alphas)),
            "depth": trial.suggest_int("depth", self.min_depth, self.max_depth),
            "stem_stride": trial.suggest_categorical("stem_stride", list(self.stem_strides)),
        }

    def decode(self, params: dict[str, Any], geometry: Geometry) -> ArchSpec:
        shape, alpha = geometry.shape(int(params["resolution"])), float(params["alpha"])
        size = min(shape[:2])  # the narrower side decides when to stop down-sampling
        stem_stride = self._stride(int(params["stem_stride"]), size)
        size = -(-size // stem_stride)
        blocks = []
        for channels, stride in BODY[: int(params["depth"])]:
            s = self._stride(stride, size)
            size = -(-size // s)
            blocks.append(DSBlock(3, s, scaled(channels, alpha)))
        return ArchSpec(
            input_shape=shape,
            num_classes=geometry.num_classes,
            stem=ConvBlock(3, stem_stride, scaled(STEM_CHANNELS, alpha)),
            blocks=tuple(blocks),
        )

    @staticmethod
    def _stride(stride: int, size: int) -> int:
        return stride if size >= 4 else 1

    def smallest(self, geometry: Geometry) -> ArchSpec:
        params = {
            "resolution": min(geometry.resolutions),
            "alpha": min(self.alphas),
            "depth": self.min_depth,
            "stem_stride": max(self.stem_strides),
        }
        return self.decode(params, geometry)

    def widest(self, geometry: Geometry) -> ArchSpec:
        """A teacher: the widest alpha at the largest resolution, the first 7 blocks.

        Seven blocks (up to the first 512-channel one at alpha 0.5, 256 channels) keep a teacher
        trainable in minutes on two CPU cores.
        """
        params = {
            "resolution": max(geometry.resolutions),
            "alpha": max(self.alphas),
            "depth": min(7, self.max_depth),
            "stem_stride": min(self.stem_strides),
        }
        return self.decode(params, geometry)

    def narrowest(self, spec: ArchSpec) -> ArchSpec:
        return spec.with_channel_counts([min(n, self.min_channels) for n in spec.channel_counts()])


MBV1 = register_space(MBV1Space())
