"""bench/repack.py: a shipped entry rewritten compact, checked on TFLM, or left as it was."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bench.repack import main
from nas.profile import profile_tflite
from nas.quantize import compact, expand_zero_points

SHIPPED = Path(__file__).resolve().parents[1] / "zoo" / "pretrained"
NAME = "digits-2k"  # small, and its card has the benchmark section that shipping appends


def _old_style(root: Path) -> Path:
    """The shipped entry as entries were shipped before `compact`: one zero point per channel."""
    d = root / NAME
    shutil.copytree(SHIPPED / NAME, d)
    old = expand_zero_points((d / "model.tflite").read_bytes())
    assert compact(old) != old
    entry = json.loads((d / "entry.json").read_text())
    m = entry["metrics"]
    m["flash_bytes"] += len(old) - m["tflite_bytes"]
    m["tflite_bytes"] = len(old)
    (d / "model.tflite").write_bytes(old)
    (d / "entry.json").write_text(json.dumps(entry, indent=2))
    return d


def _files(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())}


@pytest.mark.slow
def test_repack_writes_the_compact_file_and_its_figures(tmp_path: Path, capsys) -> None:
    d = _old_style(tmp_path)
    old = (d / "model.tflite").read_bytes()
    before = json.loads((d / "entry.json").read_text())["metrics"]
    assert main(["--root", str(tmp_path)]) == 0
    new = (d / "model.tflite").read_bytes()
    assert compact(new) == new and len(new) < len(old)
    m = json.loads((d / "entry.json").read_text())["metrics"]
    p = profile_tflite(new)
    assert m["tflite_bytes"] == p.tflite_bytes == len(new)
    assert m["flash_bytes"] - m["tflite_bytes"] == before["flash_bytes"] - before["tflite_bytes"]
    for key in ("int8_accuracy", "arena_bytes", "macs", "params", "weights_huffman_bytes"):
        assert m[key] == before[key], key
    kept = [st for st in json.loads((d / "entry.json").read_text())["compression"] if st["kept"]]
    assert [st["tflite_bytes"] for st in kept] == [len(new)]
    assert m[f"stage/{kept[0]['key']}/tflite_bytes"] == len(new)
    profile = json.loads((d / "profile.json").read_text())
    assert profile["tflite_bytes"] == len(new)
    assert profile["measured"]["arena_bytes"] == m["arena_bytes"]
    card = (d / "README.md").read_text()
    assert f"| .tflite size (flash for the model) | {len(new):,} B |" in card
    assert f"{len(old):,} B became {len(new):,} B" in card.replace("\n", " ")
    assert card.count("## Benchmark") == 1 and card.index("## Repacked") < card.index(
        "## Benchmark"
    )
    assert main(["--root", str(tmp_path), NAME]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"{NAME}: already compact"


@pytest.mark.slow
def test_an_entry_that_fails_a_check_is_left_as_it_was(tmp_path: Path, capsys) -> None:
    d = _old_style(tmp_path)
    entry = json.loads((d / "entry.json").read_text())
    entry["metrics"]["arena_bytes"] += 16  # not what TFLM measures
    (d / "entry.json").write_text(json.dumps(entry, indent=2))
    files = _files(d)
    assert main(["--root", str(tmp_path)]) == 1
    assert _files(d) == files
    assert f"{NAME}: left as it was: arena" in capsys.readouterr().err


def _flip_a_weight(tflite: bytes) -> bytes:
    """`tflite` with one byte of its largest constant buffer changed: another model."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(tflite))
    buf = max(model.buffers, key=lambda b: 0 if b.data is None else len(b.data))
    buf.data[0] ^= 0x7F
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


@pytest.mark.slow
def test_a_compaction_that_changes_outputs_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    import nas.quantize

    d = _old_style(tmp_path)
    files = _files(d)
    monkeypatch.setattr(nas.quantize, "compact", lambda b: _flip_a_weight(compact(b)))
    assert main(["--root", str(tmp_path)]) == 1
    assert _files(d) == files
    assert "outputs differ" in capsys.readouterr().err


def test_an_unknown_entry_is_refused(tmp_path: Path, capsys) -> None:
    assert main(["--root", str(tmp_path), "nope"]) == 2
    assert capsys.readouterr().err.strip().startswith("error: no shipped entry nope under")
