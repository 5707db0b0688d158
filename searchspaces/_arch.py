"""ArchSpec: an architecture as plain data, with a compact block-string identity.

Grammar (one token per layer group, joined by "_"; timm-style):

    r{H}x{W}x{C}        input resolution and channels            r20x20x1
    c{k}s{s}c{n}        stem: k x k convolution, stride s, n ch   c3s2c16
                        (k and s may be h x w: c10x4s2c64, c3s2x1c48)
    ds{k}s{s}c{n}       depthwise-separable block: k x k depthwise (stride s) then
                        1 x 1 pointwise to n channels             ds3s1c32
    mb{k}s{s}[h{e}]c{n}[r]
                        inverted residual (MobileNetV2): 1 x 1 expansion to e channels
                        (none without h), k x k depthwise (stride s), linear 1 x 1
                        projection to n channels, and with r the block's input added
                        (stride 1 and n equal to the input's channels)   mb5s1h96c16r
    gap                 global average pooling
    fc{n}               classifier, n classes (int8 logits)       fc10

Only the stem may be non-square: TensorFlow's CPU depthwise kernel takes equal strides only,
and non-square block kernels are not offered (yet).
Every convolution uses "same" padding, batch norm (folded at conversion) and ReLU (fused),
except an inverted residual's projection, which is linear.
Examples: r20x20x1_c3s2c16_ds3s1c32_ds3s2c64_gap_fc10, r28x28x1_c3s2c16_mb3s1c8_mb5s2h48c16_mb5s1h48c16r_gap_fc10

`layers(spec)` lowers a spec to its layer sequence: the one walk that the Keras builders, the
profile's op graph and channel pruning share.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from nas.errors import TinyzooError

__all__ = ["ArchSpec", "ConvBlock", "DSBlock", "Layer", "MBBlock", "layers", "pair"]

GRAMMAR = "r{H}x{W}x{C}_c{k}[x{k}]s{s}[x{s}]c{n}[_ds{k}s{s}c{n} | _mb{k}s{s}[h{e}]c{n}[r] ...]_gap_fc{classes}"


Size = int | tuple[int, int]  # k, or (height, width) where they differ


def pair(size: Size) -> tuple[int, int]:
    """(height, width) of a kernel or stride (an int, numpy's too, or a pair)."""
    if isinstance(size, tuple | list):
        h, w = size
        return int(h), int(w)
    return int(size), int(size)


def _size_text(size: Size) -> str:
    h, w = pair(size)
    return str(h) if h == w else f"{h}x{w}"


def _size(text: str) -> Size:
    """A kernel or stride token, '3' or '10x4': a square one is kept as an int. ValueError
    for a zero."""
    h, _, w = text.partition("x")
    size = (int(h), int(w or h))
    if min(size) < 1:
        raise ValueError(text)
    return size[0] if size[0] == size[1] else size


@dataclass(frozen=True)
class ConvBlock:
    kernel: Size
    stride: Size
    channels: int

    def __post_init__(self) -> None:
        # (3, 3) and 3 are one stem: keep the int so that equal strings mean equal specs
        for name in ("kernel", "stride"):
            h, w = pair(getattr(self, name))
            object.__setattr__(self, name, h if h == w else (h, w))

    def __str__(self) -> str:
        return f"c{_size_text(self.kernel)}s{_size_text(self.stride)}c{self.channels}"


@dataclass(frozen=True)
class DSBlock:
    kernel: int
    stride: int
    channels: int

    def __str__(self) -> str:
        return f"ds{self.kernel}s{self.stride}c{self.channels}"


@dataclass(frozen=True)
class MBBlock:
    kernel: int
    stride: int
    channels: int
    hidden: int | None = None  # the expansion's output channels; None: no expansion layer
    residual: bool = False

    def __str__(self) -> str:
        h = f"h{self.hidden}" if self.hidden else ""
        return f"mb{self.kernel}s{self.stride}{h}c{self.channels}{'r' if self.residual else ''}"


Block = DSBlock | MBBlock


@dataclass(frozen=True)
class ArchSpec:
    input_shape: tuple[int, int, int]  # H, W, C
    num_classes: int
    stem: ConvBlock
    blocks: tuple[Block, ...]

    def __post_init__(self) -> None:
        channels = self.stem.channels
        for b in self.blocks:
            if isinstance(b, MBBlock) and b.residual and (b.stride != 1 or b.channels != channels):
                fix = "use stride 1" if b.stride != 1 else f"give it {channels} channels"
                raise TinyzooError(
                    f"block {b} adds its input, which needs stride 1 and {channels} output "
                    f"channels (its input's); drop the r or {fix}."
                )
            channels = b.channels

    def channel_counts(self) -> tuple[int, ...]:
        """Every layer's output channels that pruning may change: stem, then per block its
        expansion (if any) and its output."""
        out = [self.stem.channels]
        for b in self.blocks:
            if isinstance(b, MBBlock) and b.hidden:
                out.append(b.hidden)
            out.append(b.channels)
        return tuple(out)

    def with_channel_counts(self, counts: tuple[int, ...] | list[int]) -> ArchSpec:
        """This spec with `channel_counts()` replaced (same order)."""
        if len(counts) != len(self.channel_counts()):
            raise ValueError(
                f"{len(counts)} channel counts for {self}'s {len(self.channel_counts())}"
            )
        it = iter(counts)
        stem = replace(self.stem, channels=next(it))
        blocks: list[Block] = []
        for b in self.blocks:
            if isinstance(b, MBBlock) and b.hidden:
                b = replace(b, hidden=next(it))
            blocks.append(replace(b, channels=next(it)))
        return replace(self, stem=stem, blocks=tuple(blocks))

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
            stem = re.fullmatch(r"c(\d+(?:x\d+)?)s(\d+(?:x\d+)?)c(\d+)", tokens[1])
            head = re.fullmatch(r"fc(\d+)", tokens[-1])
            if not (m and stem and head):
                raise ValueError
            blocks: list[Block] = []
            for tok in tokens[2:-2]:
                if b := re.fullmatch(r"ds(\d+)s(\d+)c(\d+)", tok):
                    blocks.append(DSBlock(*map(int, b.groups())))
                elif b := re.fullmatch(r"mb(\d+)s(\d+)(?:h(\d+))?c(\d+)(r?)", tok):
                    k, st, h, n, r = b.groups()
                    if h is not None and int(h) == 0:
                        raise ValueError
                    blocks.append(MBBlock(int(k), int(st), int(n), int(h) if h else None, r == "r"))
                else:
                    raise ValueError
            h, w, c = map(int, m.groups())
            return cls(
                input_shape=(h, w, c),
                num_classes=int(head.group(1)),
                stem=ConvBlock(_size(stem[1]), _size(stem[2]), int(stem[3])),
                blocks=tuple(blocks),
            )
        except ValueError:
            raise TinyzooError(
                f"cannot parse architecture {text!r}: expected {GRAMMAR}, "
                "for example r20x20x1_c3s2c16_ds3s1c32_ds3s2c64_gap_fc10."
            ) from None


@dataclass(frozen=True)
class Layer:
    """One layer of a lowered spec. Names are the Keras layer names (short: they are stored in
    the .tflite): c0 stem; d{i} depthwise, p{i} pointwise or projection, e{i} expansion and
    a{i} residual add of block i."""

    op: str  # "conv" (k x k, or 1 x 1), "dw" (depthwise) or "add"
    name: str
    kernel: Size
    stride: Size
    channels: int  # output channels (dw and add: those of their input)
    relu: bool
    skip: str = ""  # add: the layer whose output is added (the block's input)


def layers(spec: ArchSpec) -> tuple[Layer, ...]:
    """The layers from the stem to the last block, in order (pooling and classifier follow)."""
    s = spec.stem
    out = [Layer("conv", "c0", s.kernel, s.stride, s.channels, True)]
    channels = s.channels
    for i, b in enumerate(spec.blocks, start=1):
        block_input = out[-1].name
        if isinstance(b, MBBlock) and b.hidden:
            out.append(Layer("conv", f"e{i}", 1, 1, b.hidden, True))
            channels = b.hidden
        out.append(Layer("dw", f"d{i}", b.kernel, b.stride, channels, True))
        linear = isinstance(b, MBBlock)
        out.append(Layer("conv", f"p{i}", 1, 1, b.channels, not linear))
        if isinstance(b, MBBlock) and b.residual:
            out.append(Layer("add", f"a{i}", 1, 1, b.channels, False, block_input))
        channels = b.channels
    return tuple(out)
