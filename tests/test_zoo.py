"""The zoo on a real MLflow sqlite store: register, list, get, pull, load, pretrained import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import zoo
from nas.codegen import write_c_sources
from nas.errors import TinyzooError
from nas.profile import profile_tflite
from zoo._entry import BUNDLE_FILES
from zoo._pretrained import ensure_pretrained
from zoo._ref import ModelRef, parse_ref
from zoo._store import make_client

ROOT = Path(__file__).resolve().parents[1]
# A real int8 DS-CNN .tflite (see tests/data/make_tiny.py): codegen and profile read it.
TINY = (Path(__file__).parent / "data" / "tiny_int8.tflite").read_bytes()
ARCH = "r8x8x1_c3s1c4_ds3s1c8_gap_fc10"


def entry_json(*, name: str, task: str, board: str | None, int8_accuracy: float) -> dict[str, Any]:
    """entry.json as the pipeline writes it, figures measured on TINY where they can be."""
    prof = profile_tflite(TINY)
    return {
        "name": name,
        "task": task,
        "board": board,
        "space": "dscnn",
        "arch": ARCH,
        "seed": 0,
        "labels": [str(i) for i in range(10)],
        "input_shape": [8, 8, 1],
        "preprocessing": "8x8 grey image, pixel / 16 (values 0..1)",
        "input_quant": {"scale": 0.00392, "zero_point": -128},
        "output_quant": {"scale": 0.0625, "zero_point": 3},
        "budget": {
            "ram_bytes": 15360,
            "flash_bytes": 98304,
            "max_macs": None,
            "max_latency_ms": None,
        },
        "source": "search",
        "metrics": {
            "int8_accuracy": int8_accuracy,
            "float_accuracy": int8_accuracy + 0.01,
            "arena_bytes": prof.arena_bytes,
            "activation_bytes": prof.activation_bytes,
            "tflite_bytes": len(TINY),
            "flash_bytes": len(TINY) + 32768,
            "macs": prof.macs,
            "params": prof.params,
            "search_wall_s": 1.5,
            "trials_complete": 3,
            "trials_infeasible": 1,
            "trials_pruned": 0,
        },
        "params": {"study": "test", "trials": 4},
    }


def make_bundle(
    where: Path,
    *,
    name: str = "digits-l010",
    task: str = "digits",
    board: str | None = "l010",
    int8_accuracy: float = 0.5,
    data: str | None = None,
) -> Path:
    """A complete bundle directory: real .tflite, real C sources, real profile. `data`: a
    user's folder's fingerprint (the `data` param a search on --data records)."""
    where.mkdir(parents=True)
    (where / "model.tflite").write_bytes(TINY)
    entry = entry_json(name=name, task=task, board=board, int8_accuracy=int8_accuracy)
    if data is not None:
        entry["params"]["data"] = data
    write_c_sources(TINY, where, arena_bytes=entry["metrics"]["arena_bytes"])
    (where / "profile.json").write_text(json.dumps(profile_tflite(TINY).to_dict()))
    (where / "README.md").write_text(f"# {name}\n\nA test entry.\n")
    (where / "entry.json").write_text(json.dumps(entry, indent=2))
    return where


# --- round trip -----------------------------------------------------------------------------


def test_register_list_get_pull_load_round_trip(tracking_uri: str, tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path / "bundle")
    reg = zoo.register(bundle)
    assert (reg.name, reg.version, reg.aliases) == ("digits-l010", 1, ("champion",))
    assert reg.board == "l010" and reg.arch == ARCH and reg.source == "search"
    assert reg.tflite_bytes == len(TINY) and reg.arena_bytes == profile_tflite(TINY).arena_bytes
    assert reg.labels == tuple("0123456789") and reg.input_shape == (8, 8, 1)
    assert sorted(reg.sha256) == sorted(BUNDLE_FILES)

    assert zoo.list_models() == [reg]
    for ref in ("digits-l010", "digits-l010/1", "digits-l010@champion", "digits-l010@latest"):
        assert zoo.get(ref) == reg

    out = zoo.pull("digits-l010", tmp_path / "out")
    assert sorted(p.name for p in out.iterdir()) == sorted(BUNDLE_FILES)
    for name in BUNDLE_FILES:
        assert (out / name).read_bytes() == (bundle / name).read_bytes(), name
    assert json.loads((out / "entry.json").read_text())["name"] == "digits-l010"

    loaded = zoo.load("digits-l010/1")
    assert loaded.entry == reg and loaded.tflite == TINY

    d = reg.to_dict()
    json.dumps(d)  # JSON-able
    for key in ("name", "version", "task", "board", "arch", "labels", "int8_accuracy",
                "float_accuracy", "arena_bytes", "tflite_bytes", "flash_bytes", "macs", "params",
                "input_shape", "preprocessing"):  # fmt: skip
        assert key in d, key


def test_pull_defaults_to_models_name(tracking_uri: str, tmp_path: Path, monkeypatch) -> None:
    zoo.register(make_bundle(tmp_path / "bundle"))
    monkeypatch.chdir(tmp_path)
    out = zoo.pull("digits-l010")
    assert out == Path("models") / "digits-l010"
    assert (tmp_path / "models" / "digits-l010" / "model.tflite").read_bytes() == TINY


def test_registration_is_an_mlflow_run_with_params_metrics_and_artifacts(
    tracking_uri: str, tmp_path: Path
) -> None:
    reg = zoo.register(make_bundle(tmp_path / "bundle"))
    client = make_client(tracking_uri)
    run = client.get_run(reg.run_id)
    assert run.info.status == "FINISHED"
    assert client.get_experiment(run.info.experiment_id).name == "tinyzoo"
    p, m = run.data.params, run.data.metrics
    assert (p["arch"], p["board"], p["task"], p["seed"], p["space"]) == (
        ARCH,
        "l010",
        "digits",
        "0",
        "dscnn",
    )
    assert p["study"] == "test" and p["budget.ram_bytes"] == "15360"
    assert (
        m["int8_accuracy"] == 0.5 and m["trials_infeasible"] == 1 and m["tflite_bytes"] == len(TINY)
    )
    files = sorted(a.path for a in client.list_artifacts(reg.run_id, "bundle"))
    assert files == sorted(f"bundle/{f}" for f in BUNDLE_FILES)
    # The memory plot is logged beside the bundle: a real PNG drawn from the model's profile.
    (plot,) = client.list_artifacts(reg.run_id, "plots")
    assert plot.path == "plots/memory.png" and plot.file_size > 5000
    png = Path(client.download_artifacts(reg.run_id, "plots/memory.png", str(tmp_path)))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Artifacts live beside the db, as a file:// location the UI can serve.
    assert (tmp_path / "mlflow" / "artifacts").is_dir()
    mv = client.get_model_version("digits-l010", "1")
    assert mv.tags["arch"] == ARCH and mv.tags["int8_accuracy"] == "0.5"
    assert mv.tags["sha256.model.tflite"] == reg.sha256["model.tflite"]


def test_champion_follows_best_int8_accuracy(tracking_uri: str, tmp_path: Path) -> None:
    for i, acc in enumerate((0.5, 0.7, 0.6)):
        zoo.register(make_bundle(tmp_path / f"b{i}", int8_accuracy=acc))
    assert zoo.get("digits-l010").version == 2
    assert zoo.get("digits-l010@champion").int8_accuracy == 0.7
    assert zoo.get("digits-l010@latest").version == 3
    assert zoo.get("digits-l010/1").aliases == ()
    assert [(e.name, e.version) for e in zoo.list_models()] == [("digits-l010", 2)]


def test_champion_compares_versions_on_the_newest_data(tracking_uri: str, tmp_path: Path) -> None:
    """A user's folder that changed has another test split: the champion is the best of the
    versions measured on the newest version's data, not a higher figure on the old split."""
    name = dict(name="words-l010", task="words")
    zoo.register(make_bundle(tmp_path / "a", **name, int8_accuracy=0.9, data="aaa"))
    zoo.register(make_bundle(tmp_path / "b", **name, int8_accuracy=0.6, data="bbb"))
    assert zoo.get("words-l010").version == 2  # 0.6 on bbb; 0.9 was on other data
    zoo.register(make_bundle(tmp_path / "c", **name, int8_accuracy=0.7, data="bbb"))
    assert zoo.get("words-l010").version == 3
    zoo.register(make_bundle(tmp_path / "d", **name, int8_accuracy=0.8, data="aaa"))
    assert zoo.get("words-l010").version == 1  # back on aaa: its best, 0.9
    assert zoo.get("words-l010/4").to_dict()["int8_accuracy"] == 0.8


def test_list_filters(tracking_uri: str, tmp_path: Path) -> None:
    zoo.register(make_bundle(tmp_path / "a"))
    zoo.register(make_bundle(tmp_path / "b", name="fashion-15k", task="fashion", board=None))
    arena = profile_tflite(TINY).arena_bytes

    def names(**kw: Any) -> list[str]:
        return [e.name for e in zoo.list_models(**kw)]

    assert names() == ["digits-l010", "fashion-15k"]
    assert names(task="fashion") == ["fashion-15k"]
    assert names(board="l010") == ["digits-l010"]
    assert names(board="uno") == []
    assert names(max_ram=arena) == ["digits-l010", "fashion-15k"]
    assert names(max_ram=arena - 1) == []
    assert names(pattern="fash*") == ["fashion-15k"]
    assert names(pattern="*-L010") == ["digits-l010"]
    assert zoo.get("fashion-15k").board is None


# --- integrity and failure ------------------------------------------------------------------


def test_tampered_artifact_fails_pull_and_writes_nothing(tracking_uri: str, tmp_path: Path) -> None:
    zoo.register(make_bundle(tmp_path / "bundle"))
    (stored,) = (tmp_path / "mlflow" / "artifacts").rglob("bundle/model.tflite")
    data = bytearray(stored.read_bytes())
    data[-1] ^= 0xFF
    stored.write_bytes(bytes(data))

    out = tmp_path / "out"
    with pytest.raises(TinyzooError, match=r"model\.tflite fails its sha256 check"):
        zoo.pull("digits-l010", out)
    assert not out.exists()
    with pytest.raises(TinyzooError, match="sha256"):
        zoo.load("digits-l010")


def test_failed_registration_leaves_no_version(tracking_uri: str, tmp_path: Path) -> None:
    # The artifact root is a file, so storing the bundle fails after the run has started.
    (tmp_path / "mlflow" / "artifacts").write_text("not a directory")
    with pytest.raises(TinyzooError, match="Nothing was registered"):
        zoo.register(make_bundle(tmp_path / "bundle"))
    client = make_client(tracking_uri)
    assert client.search_registered_models() == []
    (exp,) = [e for e in client.search_experiments() if e.name == "tinyzoo"]
    runs = client.search_runs([exp.experiment_id])
    assert [r.info.status for r in runs] == ["FAILED"]


def test_register_rejects_incomplete_or_inconsistent_bundles(
    tracking_uri: str, tmp_path: Path
) -> None:
    bundle = make_bundle(tmp_path / "bundle")
    (bundle / "main.cc").unlink()
    with pytest.raises(TinyzooError, match="lacks main.cc"):
        zoo.register(bundle)

    bundle = make_bundle(tmp_path / "b2")
    entry = json.loads((bundle / "entry.json").read_text())
    entry["labels"] = "0123456789"
    (bundle / "entry.json").write_text(json.dumps(entry))
    with pytest.raises(TinyzooError, match="'labels' must be a list of strings"):
        zoo.register(bundle)

    entry = entry_json(name="digits-l010", task="digits", board="l010", int8_accuracy=0.5)
    entry["metrics"]["tflite_bytes"] += 1
    (bundle / "entry.json").write_text(json.dumps(entry))
    with pytest.raises(TinyzooError, match="does not describe this model"):
        zoo.register(bundle)
    with pytest.raises(TinyzooError, match="not a directory"):
        zoo.register(tmp_path / "nowhere")


# --- references and lookup errors -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        ("kws-nano33ble", ModelRef("kws-nano33ble")),
        ("kws-nano33ble@champion", ModelRef("kws-nano33ble", alias="champion")),
        ("kws-nano33ble/12", ModelRef("kws-nano33ble", version=12)),
        ("models:/fashion-64k@latest", ModelRef("fashion-64k", alias="latest")),
        (" fashion-64k ", ModelRef("fashion-64k")),
    ],
)
def test_parse_ref(text: str, ref: ModelRef) -> None:
    assert parse_ref(text) == ref
    assert parse_ref(str(ref)) == ref


@pytest.mark.parametrize(
    "text",
    ["", "kws@", "kws/", "kws/0", "kws/v1", "kws/1/2", "kws@a@b", "@champion", "k ws", "-kws"],
)
def test_bad_refs_restate_the_grammar(text: str) -> None:
    with pytest.raises(TinyzooError, match=r"NAME, NAME@ALIAS or NAME/VERSION"):
        parse_ref(text)


def test_unknown_name_suggests_close_matches(tracking_uri: str, tmp_path: Path) -> None:
    with pytest.raises(TinyzooError, match="is empty"):
        zoo.get("digits-l010")
    zoo.register(make_bundle(tmp_path / "bundle"))
    with pytest.raises(
        TinyzooError, match=r"unknown model 'digits-l01'\. Did you mean 'digits-l010'"
    ):
        zoo.get("digits-l01")
    with pytest.raises(TinyzooError, match="Did you mean"):
        zoo.pull("digit-l010", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_unknown_version_or_alias_lists_what_exists(tracking_uri: str, tmp_path: Path) -> None:
    zoo.register(make_bundle(tmp_path / "bundle"))
    with pytest.raises(TinyzooError, match=r"no version 7\. Versions: 1; aliases: @champion -> 1"):
        zoo.get("digits-l010/7")
    with pytest.raises(TinyzooError, match=r"no alias @prod\. Versions: 1"):
        zoo.get("digits-l010@prod")


# --- pretrained import ----------------------------------------------------------------------


def make_shipped(root: Path, name: str = "digits-l010") -> Path:
    """A shipped entry as zoo/pretrained/<name>/ holds it: no C sources."""
    bundle = make_bundle(root / name, name=name)
    for f in ("model_data.h", "model_data.cc", "main.cc"):
        (bundle / f).unlink()
    return root


def test_pretrained_import_is_idempotent(tracking_uri: str, tmp_path: Path) -> None:
    root = make_shipped(tmp_path / "pretrained")
    client = make_client(tracking_uri)
    (imported,) = ensure_pretrained(client, root=root)
    assert ensure_pretrained(client, root=root) == []
    assert [int(mv.version) for mv in client.search_model_versions("name = 'digits-l010'")] == [1]
    assert imported.source == "pretrained" and imported.aliases == ("champion",)

    # The C sources were generated at import, exactly as codegen writes them.
    out = zoo.pull("digits-l010", tmp_path / "out")
    expected = tmp_path / "expected"
    expected.mkdir()
    write_c_sources(TINY, expected, arena_bytes=imported.arena_bytes, labels=imported.labels)
    assert "kLabels" in (expected / "model_data.h").read_text()  # the class names came along
    for f in ("model_data.h", "model_data.cc", "main.cc"):
        assert (out / f).read_bytes() == (expected / f).read_bytes(), f


def test_a_corrected_shipped_card_becomes_a_new_version(tracking_uri: str, tmp_path: Path) -> None:
    """A later tinyzoo whose shipped card (or entry.json) differs, the model the same, reaches
    stores that imported the old one: a new version, the old one kept."""
    root = make_shipped(tmp_path / "pretrained")
    client = make_client(tracking_uri)
    (first,) = ensure_pretrained(client, root=root)
    card = root / "digits-l010" / "README.md"
    card.write_text(card.read_text() + "\nCorrected: the benchmark over five seeds.\n")
    (second,) = ensure_pretrained(client, root=root)
    assert ensure_pretrained(client, root=root) == []
    assert (first.version, second.version) == (1, 2)
    assert first.sha256["model.tflite"] == second.sha256["model.tflite"]
    assert second.aliases == ("champion",)  # the same accuracy: the newer
    pulled = zoo.pull("digits-l010", tmp_path / "out") / "README.md"
    assert pulled.read_text().endswith("Corrected: the benchmark over five seeds.\n")
    assert zoo.get("digits-l010/1").source == "pretrained"  # nothing stored is lost

    entry = root / "digits-l010" / "entry.json"
    data = json.loads(entry.read_text())
    data["metrics"]["weights_huffman_bytes"] = 1234  # a figure backfilled later, say
    entry.write_text(json.dumps(data, indent=2))
    assert [e.version for e in ensure_pretrained(client, root=root)] == [3]


def test_a_stale_generated_file_in_a_shipped_folder_is_ignored(
    tracking_uri: str, tmp_path: Path
) -> None:
    """The import writes the C sources itself: an old main.cc in the folder (a pulled bundle
    used as a team's shipped entry) is neither registered nor part of the entry's identity."""
    root = make_shipped(tmp_path / "pretrained")
    (root / "digits-l010" / "main.cc").write_text("// an older tinyzoo's main\n")
    client = make_client(tracking_uri)
    (imported,) = ensure_pretrained(client, root=root)
    assert ensure_pretrained(client, root=root) == []
    out = zoo.pull("digits-l010", tmp_path / "out")
    assert "older tinyzoo" not in (out / "main.cc").read_text()
    assert imported.version == 1


def test_reading_verbs_import_shipped_entries_once(
    tracking_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TINYZOO_PRETRAINED_DIR", str(make_shipped(tmp_path / "pretrained")))
    assert [e.source for e in zoo.list_models()] == ["pretrained"]
    assert zoo.get("digits-l010").version == 1
    assert [e.version for e in zoo.list_models()] == [1]
    # A searched version of the same model is a new version; the shipped one is not re-imported.
    zoo.register(make_bundle(tmp_path / "searched", int8_accuracy=0.9))
    assert zoo.get("digits-l010").version == 2
    assert zoo.get("digits-l010@latest").version == 2


def test_a_search_registered_on_a_fresh_store_is_the_latest_version(
    tracking_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `make demo` registers its winner, then pulls `@latest`: that must be the new model, not
    # the shipped entry of the same name imported by a later read.
    monkeypatch.setenv("TINYZOO_PRETRAINED_DIR", str(make_shipped(tmp_path / "pretrained")))
    searched = zoo.register(make_bundle(tmp_path / "searched", int8_accuracy=0.2))
    assert searched.version == 2 and searched.source == "search"
    assert zoo.get("digits-l010/1").source == "pretrained"
    assert zoo.get("digits-l010@latest").source == "search"


# --- import cost ----------------------------------------------------------------------------


def test_import_zoo_loads_no_heavy_package() -> None:
    code = (
        "import sys, zoo, zoo.cli; "
        "print(sorted(m for m in ('mlflow', 'tensorflow', 'optuna', 'keras') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_tracking_uri_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    from zoo._store import PROJECT_ROOT, artifact_root, resolve_tracking_uri

    monkeypatch.delenv("TINYZOO_TRACKING_URI", raising=False)
    default = resolve_tracking_uri()
    assert default == f"sqlite:///{PROJECT_ROOT / 'mlflow' / 'tinyzoo.db'}"
    assert artifact_root(default) == (PROJECT_ROOT / "mlflow" / "artifacts").as_uri()
    monkeypatch.setenv("TINYZOO_TRACKING_URI", "http://zoo-host:5000")
    assert resolve_tracking_uri() == "http://zoo-host:5000"
    assert resolve_tracking_uri("sqlite:////x/y.db") == "sqlite:////x/y.db"
    with pytest.raises(TinyzooError, match="is a path, not a URI. Use sqlite:///"):
        resolve_tracking_uri("/tmp/zoo.db")
