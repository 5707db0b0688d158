"""MCUNet-style inverted residuals (MobileNetV2, Sandler et al. 2018; MCUNet, Lin et al. 2020).

The body is MobileNetV2's: a strided 3x3 stem, a first block without expansion, then stages of
inverted-residual blocks (1x1 expansion, kxk depthwise, linear 1x1 projection), the first
block of a stage changing stride and channels and the others adding their input (a residual).
As in MCUNet's space, each stage chooses its depth (1-4 blocks), kernel (3, 5 or 7) and
expansion ratio (1-6; 1 means no expansion layer, as in MobileNetV2's first block); a width
multiplier scales every layer's channels, and the input resolution (where the task allows),
the stem's stride and how many of the stages are kept are searched too. Kernel and expansion
are chosen per stage rather than per block (MCUNet's choice), which keeps the space about
20 parameters: a search of tens of trials on two CPU cores can still explore it.

A block adds its input whenever its stride is 1 and its output channels equal its input's
(MobileNetV2's rule), which after the width rounding can include a stage's first block. Small
inputs: as in mbv1, a stride of 2 is kept only while the feature map's narrower side is at
least 4 pixels. MobileNetV2's last stage (320 channels) and its 1280-channel head are left out:
neither fits the RAM of the boards tinyzoo targets at any useful width.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from searchspaces._arch import ArchSpec, ConvBlock, MBBlock
from searchspaces._registry import Geometry, Space, register_space
from searchspaces.mbv1 import scaled

STEM_CHANNELS = 32
FIRST_CHANNELS = 16  # the first block (expansion 1, 3x3, stride 1), Table 2 of the paper
# MobileNetV2's stages after the first block: (channels at width 1, first block's stride).
STAGES: tuple[tuple[int, int], ...] = ((24, 2), (32, 2), (64, 2), (96, 1), (160, 2))


@dataclass(frozen=True)
class MBV2Space(Space):
    name: str = "mbv2"
    description: str = (
        "MCUNet-style inverted residuals: per-stage depth, kernel 3/5/7, expansion 1-6; width, "
        "stages kept, stem stride, resolution"
    )
    widths: tuple[float, ...] = (0.25, 0.35, 0.5, 0.75)
    min_stages: int = 1
    max_stages: int = len(STAGES)
    depths: tuple[int, ...] = (1, 2, 3, 4)
    kernels: tuple[int, ...] = (3, 5, 7)
    expansions: tuple[int, ...] = (1, 2, 3, 4, 5, 6)
    stem_strides: tuple[int, ...] = (1, 2)
    # Pruning may narrow a layer down to this, never below (the narrowest width's channels).
    min_channels: int = 8

    def sample(self, trial: Any, geometry: Geometry) -> dict[str, Any]:
        p: dict[str, Any] = {
            "resolution": trial.suggest_categorical("resolution", list(geometry.resolutions)),
            "width": trial.suggest_categorical("width", list(self.widths)),
            "stem_stride": trial.suggest_categorical("stem_stride", list(self.stem_strides)),
            "stages": trial.suggest_int("stages", self.min_stages, self.max_stages),
        }
        for i in range(p["stages"]):
            p[f"s{i}_depth"] = trial.suggest_categorical(f"s{i}_depth", list(self.depths))
            p[f"s{i}_kernel"] = trial.suggest_categorical(f"s{i}_kernel", list(self.kernels))
            p[f"s{i}_expand"] = trial.suggest_categorical(f"s{i}_expand", list(self.expansions))
        return p

    def decode(self, params: dict[str, Any], geometry: Geometry) -> ArchSpec:
        shape, width = geometry.shape(int(params["resolution"])), float(params["width"])
        size = min(shape[:2])  # the narrower side decides when to stop down-sampling
        stem_stride = _stride(int(params["stem_stride"]), size)
        size = -(-size // stem_stride)
        channels = scaled(STEM_CHANNELS, width)
        blocks: list[MBBlock] = []

        def add(kernel: int, stride: int, out: int, expand: int) -> None:
            nonlocal size, channels
            s = _stride(stride, size)
            size = -(-size // s)
            hidden = channels * expand if expand > 1 else None
            residual = s == 1 and out == channels
            blocks.append(MBBlock(kernel, s, out, hidden, residual))
            channels = out

        add(3, 1, scaled(FIRST_CHANNELS, width), 1)
        for i, (base, stride) in enumerate(STAGES[: int(params["stages"])]):
            for j in range(int(params[f"s{i}_depth"])):
                add(
                    int(params[f"s{i}_kernel"]),
                    stride if j == 0 else 1,
                    scaled(base, width),
                    int(params[f"s{i}_expand"]),
                )
        return ArchSpec(
            input_shape=shape,
            num_classes=geometry.num_classes,
            stem=ConvBlock(3, stem_stride, scaled(STEM_CHANNELS, width)),
            blocks=tuple(blocks),
        )

    def _uniform(
        self, geometry: Geometry, resolution: int, width: float, stem_stride: int, stages: int,
        depth: int, kernel: int, expand: int,
    ) -> ArchSpec:  # fmt: skip
        params: dict[str, Any] = {
            "resolution": resolution, "width": width, "stem_stride": stem_stride, "stages": stages,
        }  # fmt: skip
        for i in range(stages):
            params |= {f"s{i}_depth": depth, f"s{i}_kernel": kernel, f"s{i}_expand": expand}
        return self.decode(params, geometry)

    def smallest(self, geometry: Geometry) -> ArchSpec:
        return self._uniform(
            geometry, min(geometry.resolutions), min(self.widths), max(self.stem_strides),
            self.min_stages, min(self.depths), min(self.kernels), min(self.expansions),
        )  # fmt: skip

    def widest(self, geometry: Geometry) -> ArchSpec:
        """A teacher: the widest width at the largest resolution, three stages of two blocks
        with expansion 6 and 3x3 kernels (trainable in minutes on two CPU cores)."""
        return self._uniform(
            geometry, max(geometry.resolutions), max(self.widths), min(self.stem_strides),
            min(3, self.max_stages), 2, 3, max(self.expansions),
        )  # fmt: skip

    def largest(self, geometry: Geometry) -> ArchSpec:
        """Every stage at its deepest, widest and most expanded (the teacher is smaller)."""
        return self._uniform(
            geometry, max(geometry.resolutions), max(self.widths), min(self.stem_strides),
            self.max_stages, max(self.depths), max(self.kernels), max(self.expansions),
        )  # fmt: skip

    def narrowest(self, spec: ArchSpec) -> ArchSpec:
        floor = self.min_channels
        return spec.with_channel_counts([min(n, floor) for n in spec.channel_counts()])


def _stride(stride: int, size: int) -> int:
    return stride if size >= 4 else 1


MBV2 = register_space(MBV2Space())
