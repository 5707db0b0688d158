"""Latency estimate: cycles per MAC of the board's core family, plus a per-operator overhead.

    ms = (macs * cycles_per_mac + ops * cycles_per_op) / (clock_mhz * 1000)

This is an estimate, never a measurement: within a search space latency is close to linear in
MACs (MicroNets, Banbury et al. 2021; muNAS reports R^2 ~0.975 between MACs and latency on an
STM32H743), so one slope per core family ranks candidates and bounds them. The slopes assume TFLM
with the vendor's optimised kernels (CMSIS-NN on Arm, ESP-NN on Espressif), int8, code and
weights in on-chip flash. Flash wait states and the kernel library's version swing real figures
by 2-3x for the same core; a depthwise or 3-channel convolution costs more per MAC than a 1x1
one. Measure on the board before relying on a figure near a deadline.

Each slope is latency * clock / MACs of a published benchmark; MACs are our count of the model.
MLPerf Tiny's keyword-spotting DS-CNN is 2.66 M MACs, its person-detection MobileNetV1-0.25
(96x96x1, as in TFLM's example) 7.16 M MACs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from nas.boards import Board
from nas.errors import TinyzooError

__all__ = ["CORE_COSTS", "CoreCost", "LatencyModel", "latency_model"]


@dataclass(frozen=True)
class CoreCost:
    family: str  # as in Board.core, without a core count ("2x Cortex-M0+" -> "Cortex-M0+")
    cycles_per_mac: float
    cycles_per_op: float  # interpreter and kernel set-up per operator
    measured: bool  # False: extrapolated from a neighbouring figure (see `source`)
    source: str


# Per-operator overhead: TFLM's sine example (3 fully connected ops, 288 MACs) takes 4,813
# cycles per inference on a Cortex-M33 (NXP MCXN947, TFLM + CMSIS-NN, DWT cycle counter), about
# 1.5 k cycles an operator; ESP-NN's smallest fully-connected kernel costs ~3.5 k ticks beyond
# its MACs on an ESP32-S3. Arm cores get 1.5 k, cores without SIMD MAC and Xtensa get 3 k.
CORE_COSTS: dict[str, CoreCost] = {
    c.family: c
    for c in (
        CoreCost(
            "Cortex-M0+",
            20.0,
            3000,
            False,
            "extrapolated: Bosch's MLPerf Tiny v1.1 entry on a Cortex-M0+ (NUCLEO-G0B1RE, 64 MHz) "
            "runs the KWS DS-CNN in 679.5 ms = 16.4 cycles/MAC with its own compiler; TFLM with "
            "CMSIS-NN's plain-C path is assumed ~20 % slower",
        ),
        CoreCost(
            "Cortex-M4F",
            4.5,
            1500,
            True,
            "MLPerf Tiny v1.0 (OctoML, microTVM + CMSIS-NN, NUCLEO-L4R5ZI at 120 MHz): KWS DS-CNN "
            "99.8 ms = 4.5 cycles/MAC",
        ),
        CoreCost(
            "Cortex-M33",
            3.7,
            1500,
            True,
            "MLPerf Tiny v1.0 (OctoML, microTVM + CMSIS-NN, nRF5340 at 128 MHz): KWS DS-CNN "
            "76.1 ms = 3.7 cycles/MAC (Renesas RA6M4, TFLM + CMSIS-NN, v0.7: 3.8)",
        ),
        CoreCost(
            "Cortex-M7",
            3.0,
            1500,
            False,
            "extrapolated: Plumerai's MLPerf Tiny v1.1 KWS DS-CNN on STM32F746 (216 MHz) is "
            "17.7 ms = 1.44 cycles/MAC; on a Cortex-M4 Plumerai (47.8 ms, 2.1 cycles/MAC) is "
            "2.1x faster than microTVM + CMSIS-NN (4.5), so CMSIS-NN on M7 ~ 1.44 * 2.1 = 3.0",
        ),
        CoreCost(
            "Xtensa LX6",
            12.7,
            3000,
            True,
            "espressif/esp-tflite-micro README: person detection with ESP-NN on ESP32 at "
            "240 MHz, 380 ms = 12.7 cycles/MAC",
        ),
        CoreCost(
            "Xtensa LX7",
            1.8,
            3000,
            True,
            "espressif/esp-tflite-micro README: person detection with ESP-NN on ESP32-S3 at "
            "240 MHz, 54 ms = 1.8 cycles/MAC",
        ),
    )
}


@dataclass(frozen=True)
class LatencyModel:
    """A board's latency estimate: its clock and its core family's cost."""

    board: str
    clock_mhz: int
    cost: CoreCost

    def ms(self, macs: int, ops: int) -> float:
        cycles = macs * self.cost.cycles_per_mac + ops * self.cost.cycles_per_op
        return cycles / (self.clock_mhz * 1000.0)

    def to_dict(self) -> dict[str, object]:
        return {"board": self.board, "clock_mhz": self.clock_mhz, **asdict(self.cost)}


def core_family(board: Board) -> str:
    """The core family of `board.core`: a count such as "2x " is dropped (TFLM uses one core)."""
    core = board.core
    head, _, rest = core.partition(" ")
    return rest if head[:-1].isdigit() and head.endswith("x") else core


def latency_model(board: Board) -> LatencyModel | None:
    """The board's estimate, or None where TFLM does not run (8-bit AVR: TFLM needs 32 bits)."""
    cost = CORE_COSTS.get(core_family(board))
    return None if cost is None else LatencyModel(board.name, board.clock_mhz, cost)


def require_latency_model(board: Board | None, flag: str = "--max-latency-ms") -> LatencyModel:
    """For a latency budget or objective: the board's model, or a one-line error."""
    if board is None:
        raise TinyzooError(
            f"{flag} needs --board: the estimate is the board's clock times its core's "
            "cycles per MAC. Add --board NAME (see `tinyzoo boards`)."
        )
    m = latency_model(board)
    if m is None:
        raise TinyzooError(
            f"{flag}: board {board.name!r} ({board.core}) has no latency estimate: "
            f"TFLM needs a 32-bit core. Estimated cores: {', '.join(CORE_COSTS)}."
        )
    return m
