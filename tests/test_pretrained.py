"""The entries the project ships: importable into a fresh store, pullable, and true."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zoo.cli import main

SHIPPED = Path(__file__).resolve().parents[1] / "zoo" / "pretrained"
NAMES = sorted(p.name for p in SHIPPED.iterdir() if p.is_dir())


def test_the_issue_names_are_shipped() -> None:
    assert {
        "fashion-nano33ble",
        "digits-l010",
        "fashion-64k",
        "digits-2k",
        "kws-nano33ble",
        "kws-32k",
    } <= set(NAMES)


@pytest.fixture
def shipped_store(tracking_uri: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("TINYZOO_PRETRAINED_DIR", str(SHIPPED))
    return tracking_uri


def test_fresh_store_pulls_fashion_nano33ble(shipped_store: str, tmp_path: Path, capsys) -> None:
    assert main(["pull", "fashion-nano33ble", "-o", str(tmp_path / "m")]) == 0
    assert "sha256 verified" in capsys.readouterr().out
    files = {p.name for p in (tmp_path / "m").iterdir()}
    assert {
        "model.tflite",
        "model_data.h",
        "model_data.cc",
        "main.cc",
        "profile.json",
        "README.md",
    } <= files
    labels = json.loads((SHIPPED / "fashion-nano33ble" / "entry.json").read_text())["labels"]
    names = "".join(f'    "{label}",\n' for label in labels)  # class names in C
    assert f"kLabels[] = {{\n{names}}};" in (tmp_path / "m" / "model_data.cc").read_text()
    shipped = (SHIPPED / "fashion-nano33ble" / "model.tflite").read_bytes()
    assert (tmp_path / "m" / "model.tflite").read_bytes() == shipped


def test_import_is_idempotent_across_processes_worth_of_calls(shipped_store: str) -> None:
    import zoo

    for _ in range(3):
        entries = zoo.list_models()
    assert sorted(e.name for e in entries) == NAMES
    for name in NAMES:
        assert zoo.get(f"{name}@latest").version == 1  # never a second version


def test_imported_entries_carry_their_compression_report(shipped_store: str) -> None:
    """An entry made by the compression chain logs its stage table as artefacts, as a search's
    own run does (compression.md, compression.json), besides its card."""
    import zoo

    for name in NAMES:
        stages = json.loads((SHIPPED / name / "entry.json").read_text()).get("compression")
        files = set(zoo.get(name).sha256)
        assert (
            {"compression.md", "compression.json"} <= files
            if stages
            else "compression.md" not in files
        )
    assert json.loads((SHIPPED / "kws-nano33ble" / "entry.json").read_text())["compression"]


def test_a_card_says_when_the_labels_only_student_was_not_trained() -> None:
    from nas.card import model_card
    from nas.profile import profile_tflite

    said = "did not train the student on the labels alone"
    for name in NAMES:
        entry = json.loads((SHIPPED / name / "entry.json").read_text())
        stages = [st["key"] for st in entry.get("compression", [])]
        if not stages:
            continue
        card = model_card(entry, profile_tflite((SHIPPED / name / "model.tflite").read_bytes()))
        assert (said in card) == ("student" not in stages), name
        assert (said in (SHIPPED / name / "README.md").read_text()) == ("student" not in stages)


@pytest.mark.parametrize("name", NAMES)
def test_every_card_gives_the_huffman_coded_size_measured_on_its_weights(name: str) -> None:
    from nas.huffman import weight_sizes

    m = json.loads((SHIPPED / name / "entry.json").read_text())["metrics"]
    w = weight_sizes((SHIPPED / name / "model.tflite").read_bytes())
    assert (m["weights_int8_bytes"], m["weights_huffman_bytes"]) == (w.int8_bytes, w.huffman_bytes)
    card = (SHIPPED / name / "README.md").read_text()
    assert f"Huffman-coded, {w.huffman_bytes:,} B" in card
    assert "TFLM runs the raw .tflite" in card


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_shipped_figures_re_measure_on_the_artefact(name: str) -> None:
    from nas.data import load_task
    from nas.profile import profile_tflite
    from nas.quantize import verify

    entry = json.loads((SHIPPED / name / "entry.json").read_text())
    tflite = (SHIPPED / name / "model.tflite").read_bytes()
    m = entry["metrics"]
    p = profile_tflite(tflite)
    assert (p.tflite_bytes, p.macs, p.params) == (m["tflite_bytes"], m["macs"], m["params"])
    data = load_task(entry["task"]).at_resolution(entry["input_shape"][0])
    n = 2000  # a slice of the test split keeps this test short; the entry used all of it
    v = verify(tflite, data.x_test[:n], data.y_test[:n])
    assert max(v.arena_bytes, v.recorded_total) == m["arena_bytes"]
    assert v.head_bytes == p.activation_bytes == m["activation_bytes"]
    assert abs(v.int8_accuracy - m["int8_accuracy"]) < 0.02
    # The profile predicts what was measured, and the shipped profile.json is today's profile.
    assert p.arena_bytes == m["arena_bytes"] == m["predicted_arena_bytes"]
    shipped = json.loads((SHIPPED / name / "profile.json").read_text())
    assert shipped.pop("measured")["arena_bytes"] == m["arena_bytes"]
    assert shipped == json.loads(json.dumps(p.to_dict()))
