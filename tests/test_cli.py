"""`tinyzoo` CLI: fast --help, boards, the zoo verbs, and one-line errors with exit code 2."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import sigint_default
from test_zoo import TINY, make_bundle

import zoo
from nas.boards import BOARDS
from zoo.cli import main, parse_bytes, parse_count

ROOT = Path(__file__).resolve().parents[1]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the CLI in-process; argparse's own exits count as return codes."""
    try:
        code = main(list(argv))
    except SystemExit as e:
        code = int(e.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, *fragments: str) -> None:
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for f in fragments:
        assert f in lines[0], (f, lines[0])


def test_help_is_fast_and_imports_no_heavy_package() -> None:
    code = (
        "import sys, time\n"
        "t = time.perf_counter()\n"
        "from zoo.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('mlflow', 'tensorflow', 'optuna', 'keras') if m in sys.modules]\n"
        "print('RESULT', heavy, time.perf_counter() - t)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("RESULT"))
    assert "search" in out.stdout and "pull" in out.stdout
    assert line.split(" ", 1)[1].startswith("[] "), line
    assert float(line.rsplit(" ", 1)[1]) < 1.0, line


def test_tinyzoo_entry_point_help() -> None:
    exe = Path(sys.executable).with_name("tinyzoo")
    if not exe.exists():
        pytest.skip("tinyzoo console script not installed in this environment")
    t = time.perf_counter()
    out = subprocess.run([str(exe), "--help"], capture_output=True, text=True, check=True)
    assert "usage: tinyzoo" in out.stdout
    assert time.perf_counter() - t < 2.0  # interpreter start included


def test_search_help_gives_the_distillation_defaults_in_use(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from nas.distill import DEFAULT_ALPHA, DEFAULT_TEMPERATURE

    with pytest.raises(SystemExit):
        main(["search", "--help"])
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps the help
    assert f"(default {DEFAULT_TEMPERATURE:g}, chosen on validation data" in text
    assert f"0 to 1 (default {DEFAULT_ALPHA:g}, chosen with T)" in text


# --- boards -------------------------------------------------------------------------------


def test_boards_json_lists_every_board_with_its_budget(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "boards", "--json")
    assert code == 0 and err == ""
    boards = json.loads(out)
    assert len(boards) == 16 and [b["name"] for b in boards] == list(BOARDS)
    for b in boards:
        for key in ("name", "title", "core", "clock_mhz", "sram_bytes", "flash_bytes",
                    "ram_reserved", "flash_reserved", "budget_ram_bytes", "budget_flash_bytes"):  # fmt: skip
            assert key in b, key
        assert b["budget_ram_bytes"] == b["sram_bytes"] - b["ram_reserved"] > 0
        assert b["budget_flash_bytes"] == b["flash_bytes"] - b["flash_reserved"] > 0


def test_boards_table_names_every_board(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "boards")
    assert code == 0
    for name in BOARDS:
        assert name in out
    assert "1,536 B" in out  # uno: 2 KB SRAM minus a 512 B reserve


def test_spaces_lists_every_registered_space_with_its_ranges(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from searchspaces import get_space

    code, out, _ = run(capsys, "spaces", "--json")
    assert code == 0
    spaces = json.loads(out)
    assert "dscnn" in [s["name"] for s in spaces]
    for s in spaces:  # what is listed is what the space draws from
        assert s["description"] and get_space(s["name"]).choices() == {
            k: tuple(v) if isinstance(v, list) else v
            for k, v in s.items()
            if k not in ("name", "description")
        }
    code, out, _ = run(capsys, "spaces")
    assert code == 0 and "dscnn" in out and "channels" in out


# --- argument errors ----------------------------------------------------------------------


def test_unknown_board_is_one_line_with_a_close_match(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "search", "--board", "nano33", "--task", "fashion")
    assert_one_line_error(code, err, "unknown board 'nano33'", "Did you mean 'nano33ble'")


def test_unknown_space_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "search", "--space", "dsccn", "--board", "l010", "--task", "digits")
    assert_one_line_error(code, err, "unknown search space 'dsccn'", "Did you mean 'dscnn'")


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--max-ram", "10k", "--max-latency-ms", "5"], "--max-latency-ms needs --board"),
        (["--board", "uno", "--max-latency-ms", "5"], "'uno' (AVR 8-bit) has no latency estimate"),
        (["--board", "l010", "--max-latency-ms", "-1"], "--max-latency-ms must be a positive"),
        (["--max-ram", "10k", "--objectives", "accuracy,latency"], "needs --board"),
        (["--board", "uno", "--objectives", "accuracy,latency"], "has no latency estimate"),
        (["--board", "l010", "--objectives", "latency"], "--objectives 'latency' is not"),
    ],
)
def test_bad_latency_budget_is_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], fragment: str
) -> None:
    code, _, err = run(capsys, "search", "--task", "digits", *argv)
    assert_one_line_error(code, err, fragment)


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--max-peak", "0"], "--max-peak"),
        (["--max-weights", "-5"], "--max-weights"),
        # muNAS's MNIST budget is 2,500 B of activations: 100 B fits nothing, and the error
        # names the smallest member's figures and the flag to raise.
        (["--max-peak", "100", "--max-weights", "4500"], "activation peak"),
        (["--max-peak", "100"], "e.g. --max-peak 128"),
        (["--max-weights", "50"], "parameters (1 B each) > budget 50 B"),
        (["--max-weights", "50"], "e.g. --max-weights 210"),  # the smallest member's count
    ],
)
def test_paper_budgets_are_checked_before_training(
    capsys: pytest.CaptureFixture[str], tracking_uri: str, argv: list[str], fragment: str
) -> None:
    code, _, err = run(capsys, "search", "--task", "digits", *argv)
    assert_one_line_error(code, err, fragment)


def test_unknown_sampler_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "search", "--task", "digits", "--board", "l010", "--sampler", "cma")
    assert_one_line_error(code, err, "--sampler 'cma' is not one of tpe, random")


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--workers", "0"], "--workers must be from 1"),
        (["--workers", str((os.cpu_count() or 1) + 1)], "this machine's CPU cores"),
        (["--finalists", "0"], "--finalists must be at least 1"),
        (["--seed", "-1"], "--seed must be a whole number from 0 to 4294967295"),
        (["--seed", str(2**32)], "--seed must be a whole number"),
        (["--timeout", "0"], "--timeout must be a positive number of seconds"),
        (["--timeout", "nan"], "--timeout must be"),
        (["--timeout", "inf"], "--timeout must be"),
        (["--study", "../../etc/x"], "is not a plain name"),
        (["--study", ""], "is not a plain name"),
        (["--max-latency-ms", "inf"], "--max-latency-ms must be a positive"),
    ],
)
def test_bad_search_settings_are_one_line_before_anything_loads(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str], fragment: str
) -> None:
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    code, _, err = run(
        capsys, "search", "--task", "digits", "--board", "l010", "--tracking-uri", uri, *argv
    )
    assert_one_line_error(code, err, fragment)
    assert list(tmp_path.iterdir()) == []  # no store, no study journal


@pytest.mark.parametrize(
    ("task", "fragment"),
    [
        ("kws", "names the builtin task"),  # kws-<board> and teacher-kws are the shipped ones
        ("teacher-x", "names the builtin task"),
        ("Kws", "names the builtin task"),
        ("MyWords", "must be a plain name"),
        ("a/b", "must be a plain name"),
        ("my words", "must be a plain name"),
    ],
)
def test_a_task_named_with_data_is_a_new_plain_name(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, task: str, fragment: str
) -> None:
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    code, _, err = run(
        capsys, "search", "--task", task, "--data", str(tmp_path), "--board", "l010",
        "--tracking-uri", uri,
    )  # fmt: skip
    assert_one_line_error(code, err, fragment)
    assert list(tmp_path.iterdir()) == []


def test_list_unknown_board(capsys: pytest.CaptureFixture[str], tracking_uri: str) -> None:
    code, _, err = run(capsys, "list", "--board", "esp23")
    assert_one_line_error(code, err, "Did you mean 'esp32'")


@pytest.mark.parametrize(
    ("text", "value"),
    [("65536", 65536), ("64k", 65536), ("64K", 65536), ("64KB", 65536), ("64KiB", 65536),
     ("1M", 1024**2), ("1.5k", 1536)],
)  # fmt: skip
def test_parse_bytes(text: str, value: int) -> None:
    assert parse_bytes(text) == value


def test_parse_count_is_decimal() -> None:
    assert parse_count("2.7M") == 2_700_000 and parse_count("500k") == 500_000


@pytest.mark.parametrize("text", ["0", "-1", "-5k", "-1.5M", "64q", "k", "1.3", "64 kB extra"])
def test_bad_byte_figures_exit_2_with_one_line(
    capsys: pytest.CaptureFixture[str], text: str
) -> None:
    """-5k too reaches the byte parser (argparse alone would call it a missing value)."""
    code, _, err = run(capsys, "search", "--board", "uno", "--task", "digits", "--max-ram", text)
    assert_one_line_error(code, err, "--max-ram", "expected a positive whole number", "64k")
    code, _, err = run(capsys, "list", "--max-r", text)  # argparse's abbreviation too
    assert_one_line_error(code, err, "--max-ram", "expected a positive whole number")


def test_a_pattern_like_a_negative_number_stays_a_pattern(
    capsys: pytest.CaptureFixture[str], tracking_uri: str
) -> None:
    code, out, _ = run(capsys, "list", "--json", "-5")
    assert code == 0 and json.loads(out) == []
    code, out, _ = run(capsys, "list", "--json", "--", "-5k")
    assert code == 0 and json.loads(out) == []


def test_missing_subcommand_and_bad_trials(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys)
    assert_one_line_error(code, err, "COMMAND")
    code, _, err = run(capsys, "search", "--board", "uno", "--task", "digits", "--trials", "0")
    assert_one_line_error(code, err, "--trials must be at least 1")


# --- the zoo verbs ----------------------------------------------------------------------------


def test_list_show_pull_round_trip(
    capsys: pytest.CaptureFixture[str], tracking_uri: str, tmp_path: Path
) -> None:
    code, out, err = run(capsys, "list", "--json")
    assert (code, json.loads(out)) == (0, [])
    code, out, err = run(capsys, "list")
    assert code == 0 and "no models match" in err

    zoo.register(make_bundle(tmp_path / "bundle"))

    code, out, err = run(capsys, "list", "--json")
    assert code == 0 and err == ""
    (item,) = json.loads(out)
    assert (item["name"], item["version"], item["board"]) == ("digits-l010", 1, "l010")
    code, out, _ = run(capsys, "list", "digits-*")
    assert code == 0 and "digits-l010" in out and "r8x8x1_c3s1c4_ds3s1c8_gap_fc10" in out
    code, out, _ = run(capsys, "list", "--json", "--max-ram", "1k")
    assert json.loads(out) == []
    code, out, err = run(capsys, "list", "--task", "kws")
    assert code == 0 and out == "" and "no models match" in err and "(tasks there: digits)" in err

    code, out, _ = run(capsys, "show", "digits-l010@champion", "--json")
    assert code == 0 and json.loads(out)["version"] == 1
    code, out, _ = run(capsys, "show", "digits-l010/1")
    assert code == 0 and "int8 accuracy" in out and "50.00%" in out

    dest = tmp_path / "pulled"
    code, out, _ = run(capsys, "pull", "digits-l010", "-o", str(dest))
    assert code == 0 and "sha256 verified" in out and "model.tflite" in out
    assert (dest / "model.tflite").read_bytes() == TINY
    assert json.loads((dest / "entry.json").read_text())["name"] == "digits-l010"  # says whose
    code, out, _ = run(capsys, "pull", "digits-l010@latest", "-o", str(dest))  # again: updated
    assert code == 0 and "sha256 verified" in out
    other = tmp_path / "other"  # a folder another model was pulled into: not mixed with it
    other.mkdir()
    (other / "entry.json").write_text(json.dumps({"name": "kws-32k"}))
    code, _, err = run(capsys, "pull", "digits-l010", "-o", str(other))
    assert_one_line_error(code, err, "holds model 'kws-32k'", "another -o")
    assert sorted(p.name for p in other.iterdir()) == ["entry.json"]

    code, _, err = run(capsys, "show", "digits-l01")
    assert_one_line_error(code, err, "Did you mean 'digits-l010'")
    code, _, err = run(capsys, "pull", "digits-l010/9")
    assert_one_line_error(code, err, "no version 9")
    code, _, err = run(capsys, "show", "digits-l010@")
    assert_one_line_error(code, err, "NAME@ALIAS")
    (tmp_path / "file").write_text("")
    code, _, err = run(capsys, "pull", "digits-l010", "-o", str(tmp_path / "file" / "sub"))
    assert_one_line_error(code, err, "cannot create output folder", "pick another -o")


def test_tracking_uri_option_overrides_the_environment(
    capsys: pytest.CaptureFixture[str], tracking_uri: str, tmp_path: Path
) -> None:
    zoo.register(make_bundle(tmp_path / "bundle"))
    other = f"sqlite:///{tmp_path / 'other' / 'zoo.db'}"
    code, out, _ = run(capsys, "list", "--json", "--tracking-uri", other)
    assert (code, json.loads(out)) == (0, [])
    assert (tmp_path / "other" / "zoo.db").exists()
    code, _, err = run(capsys, "list", "--tracking-uri", f"sqlite:///{tmp_path / 'other'}")
    assert_one_line_error(code, err, "names a folder, not a database file", "zoo.db")


def test_ui_refuses_a_server_uri(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "ui", "--tracking-uri", "http://zoo-host:5000")
    assert_one_line_error(code, err, "open http://zoo-host:5000 in a browser")


@pytest.mark.slow
def test_ui_serves_the_zoo_and_stops_on_ctrl_c(tracking_uri: str, tmp_path: Path) -> None:
    import signal
    import socket
    import urllib.request

    zoo.register(make_bundle(tmp_path / "bundle"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "zoo.cli", "ui", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: nothing outlives the test
        preexec_fn=sigint_default,
    )
    try:
        url = f"http://127.0.0.1:{port}/ajax-api/2.0/mlflow/registered-models/search"
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    models = json.load(r)["registered_models"]
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
                time.sleep(0.5)
        assert [m["name"] for m in models] == ["digits-l010"]
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)  # a loaded machine stops the server slowly
    finally:
        with contextlib.suppress(ProcessLookupError):  # the MLflow server, if left behind
            os.killpg(proc.pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.communicate()
    assert proc.returncode == 0
    assert out.startswith(f"MLflow UI for the zoo: http://127.0.0.1:{port}")
    assert err.strip() == "stopped the MLflow UI."


# --- profile --------------------------------------------------------------------------------

DATA = Path(__file__).parent / "data"


def test_profile_json_has_the_documented_fields(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from nas.profile import profile_tflite

    code, out, _ = run(capsys, "profile", str(DATA / "tiny_int8.tflite"), "--json")
    assert code == 0
    data = json.loads(out)
    prof = profile_tflite(TINY)
    assert data["macs"] == prof.macs and data["params"] == prof.params
    assert data["tflite_bytes"] == data["flash_bytes"] == len(TINY)  # no board: no reserve
    assert data["activation_bytes"] == prof.activation_bytes
    assert data["arena_bytes"] == prof.arena_bytes > data["activation_bytes"]
    assert 0 < data["ideal_peak_bytes"] <= data["activation_bytes"]
    assert data["fits"] is None
    ops = [row["op"] for row in data["layers"]]
    assert ops == ["CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D", "MEAN", "FULLY_CONNECTED"]
    assert data["layers"][0]["output_shape"] == [1, 8, 8, 4]
    assert sum(row["macs"] for row in data["layers"]) == data["macs"]
    assert max(row["live_bytes"] for row in data["layers"]) == data["activation_bytes"]
    assert 0 < data["weights_int8_bytes"] < len(TINY) and data["weights_huffman_bytes"] > 0


def test_profile_against_a_board_gives_a_verdict_per_budget_field(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A model that does not fit exits 1 (scripts can gate on it), one that fits 0."""
    board = BOARDS["uno"]  # 2 KB of SRAM: the tiny model's arena does not fit
    code, out, _ = run(
        capsys, "profile", str(DATA / "tiny_int8.tflite"), "--board", "uno", "--json"
    )
    data = json.loads(out)
    assert code == 1 and data["board"] == "uno" and data["fits"] is False
    assert data["flash_bytes"] == len(TINY) + board.flash_reserved
    ram = board.sram_bytes - board.ram_reserved
    code, out, _ = run(capsys, "profile", str(DATA / "tiny_int8.tflite"), "--board", "uno")
    assert code == 1
    assert f"exceeds by {data['arena_bytes'] - ram:,}" in out
    assert "tiny_int8.tflite does not fit uno: RAM (TFLM arena) over budget" in out
    code, out, _ = run(capsys, "profile", str(DATA / "tiny_int8.tflite"), "--board", "nano33ble")
    assert code == 0 and "exceeds" not in out and out.count("fits") == 3
    assert "tiny_int8.tflite fits nano33ble" in out
    code, out, _ = run(capsys, "profile", str(DATA / "tiny_int8.tflite"), "--json")
    assert code == 0 and json.loads(out)["fits"] is None  # no board, no verdict


def test_profile_plot_writes_a_png(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    png = tmp_path / "memory.png"
    code, out, _ = run(
        capsys,
        "profile",
        str(DATA / "tiny_int8.tflite"),
        "--board",
        "nano33ble",
        "--plot",
        str(png),
    )
    assert code == 0 and "plot written" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000


@pytest.mark.parametrize(
    ("make", "fragments"),
    [
        (lambda p: p.write_text("hello"), ("not a .tflite file", "TFL3")),
        (
            lambda p: p.write_bytes((DATA / "tiny_float.tflite").read_bytes()),
            ("not an int8 model",),
        ),
        (
            lambda p: p.write_bytes((DATA / "tiny_tanh_int8.tflite").read_bytes()),
            ("TANH", "estimate"),
        ),
        (lambda p: p.write_bytes(TINY[: len(TINY) // 3]), ("truncated",)),
        (lambda p: None, ("no such file",)),
        (lambda p: p.mkdir(), ("a folder, not a file",)),
    ],
    ids=["not-tflite", "float", "unsupported-op", "truncated", "missing", "folder"],
)
def test_profile_bad_input_is_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, make: object, fragments: tuple[str, ...]
) -> None:
    path = tmp_path / "model.tflite"
    make(path)  # type: ignore[operator]
    code, out, err = run(capsys, "profile", str(path))
    assert out == ""
    assert_one_line_error(code, err, *fragments)


def test_profile_plot_into_a_missing_folder_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    plot = tmp_path / "missing" / "memory.png"
    code, out, err = run(capsys, "profile", str(DATA / "tiny_int8.tflite"), "--plot", str(plot))
    assert out == "" and not plot.parent.exists()
    assert_one_line_error(code, err, "does not exist")


@pytest.mark.parametrize("port", ["0", "99999", "http"])
def test_ui_bad_port_is_one_line(capsys: pytest.CaptureFixture[str], port: str) -> None:
    code, _, err = run(capsys, "ui", "--port", port)
    assert_one_line_error(code, err, "expected a TCP port from 1 to 65535")


def test_profile_survives_every_truncation_and_random_corruption() -> None:
    """Never a traceback: each damaged file is profiled or refused with TinyzooError."""
    import random

    from nas.errors import TinyzooError
    from nas.profile import profile_tflite

    rng = random.Random(0)
    damaged = [TINY[:cut] for cut in range(0, len(TINY), 61)]
    for _ in range(600):
        b = bytearray(TINY)
        for _ in range(rng.randint(1, 8)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        damaged.append(bytes(b))
    refused = 0
    for data in damaged:
        try:
            profile_tflite(data)
        except TinyzooError:
            refused += 1
    assert refused > len(TINY) // 61  # at least every truncation


@pytest.mark.parametrize("sigint", ["python", "ignored"])
def test_main_catches_sigint_and_sigterm_while_a_command_runs_and_puts_them_back(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, sigint: str
) -> None:
    # SIGINT and SIGTERM stop a command as Ctrl-C (nas.errors.catch_interrupts); a SIGINT that
    # was ignored (`cmd &` from a script) stays ignored; main restores both on return.
    import signal

    import zoo.cli as cli
    from nas.errors import raise_interrupt

    def keep(signum: int, frame: object) -> None:
        pass

    original = signal.default_int_handler if sigint == "python" else signal.SIG_IGN
    during = {}

    def probe(args: object) -> int:
        during.update(INT=signal.getsignal(signal.SIGINT), TERM=signal.getsignal(signal.SIGTERM))
        return 0

    monkeypatch.setitem(cli._COMMANDS, "spaces", probe)
    old_int, old_term = signal.signal(signal.SIGINT, original), signal.signal(signal.SIGTERM, keep)
    try:
        assert run(capsys, "spaces")[0] == 0
        assert signal.getsignal(signal.SIGINT) is original
        assert signal.getsignal(signal.SIGTERM) is keep
    finally:
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)
    assert during["TERM"] is raise_interrupt
    assert during["INT"] is (raise_interrupt if sigint == "python" else signal.SIG_IGN)
