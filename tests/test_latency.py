"""The latency estimate: its formula, which boards have one, and --max-latency-ms as a hard budget."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nas.boards import BOARDS, budget_for, get_board
from nas.errors import TinyzooError
from nas.latency import CORE_COSTS, core_family, latency_model
from nas.profile import profile_spec, profile_tflite
from searchspaces import get_space

ROOT = Path(__file__).resolve().parents[1]


def test_every_32_bit_board_has_an_estimate_with_a_source() -> None:
    for b in BOARDS.values():
        m = latency_model(b)
        if b.core.startswith("AVR"):
            assert m is None  # TFLM needs a 32-bit core
            continue
        assert m is not None and m.clock_mhz == b.clock_mhz
        assert m.cost.source and m.cost.cycles_per_mac > 0 and m.cost.cycles_per_op > 0
    assert core_family(get_board("pico")) == "Cortex-M0+"  # "2x": TFLM runs on one core
    assert set(CORE_COSTS) == {core_family(b) for b in BOARDS.values()} - {"AVR 8-bit"}


@pytest.mark.parametrize("name", ["fashion-nano33ble", "digits-l010"])
def test_shipped_entries_carry_the_estimate_of_their_own_model(name: str) -> None:
    d = ROOT / "zoo" / "pretrained" / name
    entry = json.loads((d / "entry.json").read_text())
    p = profile_tflite((d / "model.tflite").read_bytes())
    board = get_board(entry["board"])
    cost = CORE_COSTS[core_family(board)]
    by_hand = (p.macs * cost.cycles_per_mac + len(p.layers) * cost.cycles_per_op) / (
        board.clock_mhz * 1000
    )
    assert entry["metrics"]["latency_ms_estimate"] == pytest.approx(by_hand, abs=1e-3)
    assert entry["latency"]["source"] == cost.source
    assert "ESTIMATE, not a measurement" in (d / "README.md").read_text()


def test_faster_cores_and_clocks_estimate_less() -> None:
    p = profile_spec(get_space("dscnn").widest(_geometry()))
    ms = {n: budget_for(get_board(n)).latency_ms(p.macs, len(p.layers)) for n in BOARDS}
    assert ms["uno"] is None
    assert ms["h743"] < ms["f746"] < ms["nano33ble"] < ms["l010"]  # M7 480 > M7 216 > M4 > M0+
    assert ms["esp32s3"] < ms["esp32"]  # same clock; LX7 has ESP-NN's SIMD


def _geometry():  # digits' geometry, without loading the data
    from searchspaces._registry import Geometry

    return Geometry(resolutions=(8,), channels=1, num_classes=10)


def test_latency_budget_is_checked_like_the_others() -> None:
    p = profile_spec(get_space("dscnn").widest(_geometry()))
    b = budget_for(get_board("l010"), max_latency_ms=1.0)
    ms = b.latency_ms(p.macs, len(p.layers))
    assert ms is not None and ms > 1.0
    reasons = b.violations(arena_bytes=0, tflite_bytes=0, macs=p.macs, ops=len(p.layers))
    assert reasons == [f"estimated latency {ms:.2f} ms > budget 1 ms"]
    assert b.to_dict()["max_latency_ms"] == 1.0 and "latency" not in b.to_dict()
    assert not budget_for(get_board("l010"), max_latency_ms=ms + 0.01).violations(
        arena_bytes=0, tflite_bytes=0, macs=p.macs, ops=len(p.layers)
    )


@pytest.mark.parametrize(
    ("board", "ms", "message"),
    [
        (None, 10.0, "--max-latency-ms needs --board"),
        ("uno", 10.0, "has no latency estimate"),
        ("l010", 0.0, "--max-latency-ms must be a positive"),
        ("l010", float("nan"), "--max-latency-ms must be a positive"),
    ],
)
def test_bad_latency_budgets_are_refused(board: str | None, ms: float, message: str) -> None:
    with pytest.raises(TinyzooError, match=message):
        budget_for(get_board(board) if board else None, max_ram=1000, max_latency_ms=ms)


@pytest.mark.slow
def test_search_never_trains_a_candidate_over_the_latency_budget() -> None:
    import optuna

    from nas.data import load_task
    from nas.search import run_study
    from nas.train import train

    data = load_task("digits")
    space = get_space("dscnn")
    # About the middle of the space on an STM32L010: roughly half the candidates are over it.
    budget = budget_for(get_board("l010"), max_latency_ms=15.0)
    trained = []

    def trainer(spec, seed, report):  # the real proxy trainer, recording what it is given
        trained.append(spec)
        d = data.at_resolution(spec.input_shape[0])
        return train(
            spec, d.x_train, d.y_train, d.x_val, d.y_val, epochs=2, seed=seed, batch_size=64,
            on_epoch=report,
        ).val_accuracy  # fmt: skip

    result = run_study(
        space=space,
        geometry=data.geometry(),
        budget=budget,
        trainer=trainer,
        trials=8,
        timeout=None,
        seed=3,
        storage=optuna.storages.InMemoryStorage(),
        study_name="latency",
    )
    assert result.outcomes["infeasible"] > 0 and trained
    for spec in trained:
        p = profile_spec(spec)
        assert budget.latency_ms(p.macs, len(p.layers)) <= 15.0


def test_the_zoo_shows_a_shipped_entrys_estimate(
    tracking_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import zoo

    monkeypatch.setenv("TINYZOO_PRETRAINED_DIR", str(ROOT / "zoo" / "pretrained"))
    entry = zoo.get("fashion-nano33ble", tracking_uri=tracking_uri)
    shipped = json.loads((ROOT / "zoo/pretrained/fashion-nano33ble/entry.json").read_text())
    assert entry.latency_ms_estimate == shipped["metrics"]["latency_ms_estimate"] > 0
    teacher = zoo.get("teacher-fashion", tracking_uri=tracking_uri)
    assert teacher.board is None and teacher.latency_ms_estimate is None  # no board, no clock
