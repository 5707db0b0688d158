"""Microcontroller boards as data, and the budget a model gets on each.

Figures are the vendors' datasheet values. A board's budget is what is
left for the model after a stated reserve: TFLM's framework code and the application take
flash; the stack, the application's buffers and the TFLM interpreter object take RAM.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

from nas.errors import TinyzooError, unknown_name

if TYPE_CHECKING:
    from nas.latency import LatencyModel

__all__ = ["BOARDS", "Board", "Budget", "get_board", "budget_for"]

KB = 1024
MB = 1024 * 1024


@dataclass(frozen=True)
class Board:
    name: str  # short id used on the command line and in zoo names
    title: str  # board / chip as sold
    core: str  # CPU core family
    clock_mhz: int
    sram_bytes: int
    flash_bytes: int
    # Kept back for everything that is not the model. RAM: stack, application buffers and
    # the interpreter object; flash: TFLM's framework and kernels (10-20 KB on Cortex-M, more
    # with many kernels) plus the application. Stated per board, never hidden in prose.
    ram_reserved: int
    flash_reserved: int

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _board(name: str, title: str, core: str, mhz: int, sram: int, flash: int) -> Board:
    # Reserve rule, one for all boards so that budgets compare: a quarter of SRAM, at most
    # 64 KB, and a quarter of flash, at most 128 KB (enough for TFLM with ~10 kernels plus a
    # modest application). Users override any budget field on the command line.
    return Board(
        name=name,
        title=title,
        core=core,
        clock_mhz=mhz,
        sram_bytes=sram,
        flash_bytes=flash,
        ram_reserved=min(sram // 4, 64 * KB),
        flash_reserved=min(flash // 4, 128 * KB),
    )


BOARDS: dict[str, Board] = {
    b.name: b
    for b in (
        _board("uno", "Arduino Uno R3, ATmega328P", "AVR 8-bit", 16, 2 * KB, 32 * KB),
        _board("l010", "NUCLEO-L010RB, STM32L010RB", "Cortex-M0+", 32, 20 * KB, 128 * KB),
        _board("l412", "NUCLEO-L412KB, STM32L412KB", "Cortex-M4F", 80, 40 * KB, 128 * KB),
        _board("microbit2", "BBC micro:bit v2, nRF52833", "Cortex-M4F", 64, 128 * KB, 512 * KB),
        _board("f446", "NUCLEO-F446RE, STM32F446RE", "Cortex-M4F", 180, 128 * KB, 512 * KB),
        _board("max78000", "MAX78000 (CPU side)", "Cortex-M4F", 100, 128 * KB, 512 * KB),
        _board("nano33ble", "Arduino Nano 33 BLE Sense, nRF52840", "Cortex-M4F", 64, 256 * KB, MB),
        _board("pico", "Raspberry Pi Pico, RP2040", "2x Cortex-M0+", 133, 264 * KB, 2 * MB),
        _board("f746", "STM32F746G-DISCO", "Cortex-M7", 216, 320 * KB, MB),
        _board("apollo3", "SparkFun Edge, Ambiq Apollo3 Blue", "Cortex-M4F", 48, 384 * KB, MB),
        _board("nrf5340", "nRF5340 DK (application core)", "Cortex-M33", 128, 512 * KB, MB),
        _board("pico2", "Raspberry Pi Pico 2, RP2350", "Cortex-M33", 150, 520 * KB, 4 * MB),
        _board("esp32", "ESP32-DevKitC, ESP32-WROOM-32", "Xtensa LX6", 240, 520 * KB, 4 * MB),
        _board("esp32s3", "ESP32-S3-DevKitC-1", "Xtensa LX7", 240, 512 * KB, 8 * MB),
        _board("l4r5", "NUCLEO-L4R5ZI, STM32L4R5ZI", "Cortex-M4F", 120, 640 * KB, 2 * MB),
        _board("h743", "NUCLEO-H743ZI, STM32H743ZI", "Cortex-M7", 480, 1024 * KB, 2 * MB),
    )
}


def get_board(name: str) -> Board:
    try:
        return BOARDS[name.lower()]
    except KeyError:
        raise unknown_name("board", name, BOARDS, "See `tinyzoo boards`.") from None


@dataclass(frozen=True)
class Budget:
    """Hard limits a model must meet. None means unconstrained."""

    ram_bytes: int | None  # TFLM arena (activations + persistent allocations)
    flash_bytes: int | None  # the .tflite model bytes
    max_macs: int | None = None
    max_latency_ms: float | None = None  # bounds the estimate of `latency` (nas/latency.py)
    # muNAS's definitions (Liberis et al. 2021): the activation peak with whole tensors and no
    # in-place ops (Profile.paper_peak_bytes), and one byte per parameter (Profile.params).
    max_peak_bytes: int | None = None
    max_weight_bytes: int | None = None
    # How milliseconds are estimated on the board (None: no board, or no estimate for its core).
    # Not a limit: left out of to_dict() and of comparisons.
    latency: LatencyModel | None = field(default=None, compare=False, repr=False)

    def latency_ms(self, macs: int, ops: int) -> float | None:
        """Estimated milliseconds per inference on the board, None without an estimate."""
        return None if self.latency is None else self.latency.ms(macs, ops)

    def to_dict(self) -> dict[str, object]:
        # Fields left unset since they were added stay out: studies begun before still match.
        late = ("max_peak_bytes", "max_weight_bytes")
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name != "latency" and not (f.name in late and getattr(self, f.name) is None)
        }

    def bounded(
        self,
        *,
        arena_bytes: int,
        tflite_bytes: int,
        macs: int,
        ops: int = 0,
        peak_bytes: int = 0,
        params: int = 0,
    ) -> dict[str, tuple[float, float]]:
        """Field -> (the model's figure, the limit) for every bounded field (see BOUNDS); the
        latency only where the board has an estimate."""
        pairs = {
            "ram": (arena_bytes, self.ram_bytes),
            "flash": (tflite_bytes, self.flash_bytes),
            "macs": (macs, self.max_macs),
            "peak": (peak_bytes, self.max_peak_bytes),
            "weights": (params, self.max_weight_bytes),
            "latency": (self.latency_ms(macs, ops), self.max_latency_ms),
        }
        return {k: (v, lim) for k, (v, lim) in pairs.items() if v is not None and lim is not None}

    def violations(self, **figures: int) -> list[str]:
        """Reasons this model breaks the budget, empty when it fits (`figures`: see bounded)."""
        return [
            BOUNDS[k][1].format(v=v, lim=lim)
            for k, (v, lim) in self.bounded(**figures).items()
            if v > lim
        ]


# Budget field -> (the flag that sets it, how a breach reads)
BOUNDS = {
    "ram": ("--max-ram", "arena {v} B > RAM budget {lim} B"),
    "flash": ("--max-flash", "model {v} B > flash budget {lim} B"),
    "macs": ("--max-macs", "{v} MACs > budget {lim}"),
    "peak": ("--max-peak", "activation peak {v} B > budget {lim} B"),
    "weights": ("--max-weights", "{v} parameters (1 B each) > budget {lim} B"),
    "latency": ("--max-latency-ms", "estimated latency {v:.2f} ms > budget {lim:g} ms"),
}


def figures(p: Any, **measured: int) -> dict[str, int]:
    """What a budget bounds, from a Profile (`measured` replaces predicted figures)."""
    return {
        "arena_bytes": p.arena_bytes, "tflite_bytes": p.tflite_bytes, "macs": p.macs,
        "ops": len(p.layers), "peak_bytes": p.paper_peak_bytes, "params": p.params,
    } | measured  # fmt: skip


def budget_for(
    board: Board | None,
    *,
    max_ram: int | None = None,
    max_flash: int | None = None,
    max_macs: int | None = None,
    max_latency_ms: float | None = None,
    max_peak: int | None = None,
    max_weights: int | None = None,
) -> Budget:
    """The board's budget (its memory minus reserves), with any field overridden.

    A board brings its latency estimate; `max_latency_ms` needs one (a board with a 32-bit core).
    """
    from nas.latency import latency_model, require_latency_model

    for label, value in (
        ("--max-ram", max_ram),
        ("--max-flash", max_flash),
        ("--max-macs", max_macs),
        ("--max-latency-ms", max_latency_ms),
        ("--max-peak", max_peak),
        ("--max-weights", max_weights),
    ):
        if value is not None and not (value > 0 and math.isfinite(value)):
            raise TinyzooError(
                f"{label} must be a positive number of bytes/MACs/milliseconds, got {value}."
            )
    if max_latency_ms is not None:
        require_latency_model(board)
    if board is None:
        if all(v is None for v in (max_ram, max_flash, max_macs, max_peak, max_weights)):
            raise TinyzooError(
                "no budget: give --board NAME or at least one of --max-ram, --max-flash, "
                "--max-macs, --max-peak, --max-weights."
            )
        base = Budget(ram_bytes=None, flash_bytes=None)
    else:
        base = Budget(
            ram_bytes=board.sram_bytes - board.ram_reserved,
            flash_bytes=board.flash_bytes - board.flash_reserved,
        )
    return replace(
        base,
        ram_bytes=max_ram if max_ram is not None else base.ram_bytes,
        flash_bytes=max_flash if max_flash is not None else base.flash_bytes,
        max_macs=max_macs if max_macs is not None else base.max_macs,
        max_latency_ms=max_latency_ms,
        max_peak_bytes=max_peak,
        max_weight_bytes=max_weights,
        latency=None if board is None else latency_model(board),
    )
