"""ArchSpec: an architecture as plain data, with a compact block-string identity.

Grammar (one token per layer group, joined by "_"; timm-style):

    r{H}x{W}x{C}        input resolution and channels            r20x20x1
    c{k}s{s}c{n}        stem: k x k convolution, stride s, n ch   c3s2c16
    ds{k}s{s}c{n}       depthwise-separable block: k x k depthwise (stride s) then
                        1 x 1 pointwise to n channels             ds3s1c32
    gap                 global average pooling
    fc{n}               classifier, n classes (int8 logits)       fc10

Every convolution uses "same" padding, batch norm (folded at conversion) and ReLU (fused).
Example: r20x20x1_c3s2c16_ds3s1c32_ds3s2c64_gap_fc10
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nas.errors import TinyzooError

__all__ = ["ArchSpec", "ConvBlock", "DSBlock"]

GRAMMAR = "r{H}x{W}x{C}_c{k}s{s}c{n}[_ds{k}s{s}c{n}...]_gap_fc{classes}"


@dataclass(frozen=True)
class ConvBlock:
    kernel: int
    stride: int
    channels: int

    def __str__(self) -> str:
        return f"c{self.kernel}s{self.stride}c{self.channels}"


@dataclass(frozen=True)
class DSBlock:
    kernel: int
    stride: int
    channels: int

    def __str__(self) -> str:
        return f"ds{self.kernel}s{self.stride}c{self.channels}"


@dataclass(frozen=True)
class ArchSpec:
    input_shape: tuple[int, int, int]  # H, W, C
    num_classes: int
    stem: ConvBlock
    blocks: tuple[DSBlock, ...]

    def __str__(self) -> str:
        h, w, c = self.input_shape
        parts = [
            f"r{h}x{w}x{c}",
            str(self.stem),
            *map(str, self.blocks),
            "gap",
            f"fc{self.num_classes}",
        ]
        return "_".join(parts)

    @classmethod
    def parse(cls, text: str) -> ArchSpec:
        tokens = text.strip().split("_")
        try:
            if len(tokens) < 4 or tokens[-2] != "gap":
                raise ValueError
            m = re.fullmatch(r"r(\d+)x(\d+)x(\d+)", tokens[0])
            stem = re.fullmatch(r"c(\d+)s(\d+)c(\d+)", tokens[1])
            head = re.fullmatch(r"fc(\d+)", tokens[-1])
            if not (m and stem and head):
                raise ValueError
            blocks = []
            for tok in tokens[2:-2]:
                b = re.fullmatch(r"ds(\d+)s(\d+)c(\d+)", tok)
                if not b:
                    raise ValueError
                blocks.append(DSBlock(*map(int, b.groups())))
            h, w, c = map(int, m.groups())
            return cls(
                input_shape=(h, w, c),
                num_classes=int(head.group(1)),
                stem=ConvBlock(*map(int, stem.groups())),
                blocks=tuple(blocks),
            )
        except ValueError:
            raise TinyzooError(
                f"cannot parse architecture {text!r}: expected {GRAMMAR}, "
                "for example r20x20x1_c3s2c16_ds3s1c32_ds3s2c64_gap_fc10."
            ) from None
