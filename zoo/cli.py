"""`tinyzoo`: search a model for a board, browse and pull the zoo, open the MLflow UI.

Heavy packages (TensorFlow, MLflow, Optuna) are imported by the command that needs them, so
`tinyzoo --help` and argument errors answer at once. Every user error is one line on stderr
and exit code 2; Ctrl-C, or `kill` (SIGTERM), is one line and exit code 130: a search stopped
either way keeps its finished trials and says how to resume. `profile --board` exits 1 when
the model does not fit the board.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from nas.errors import TinyzooError, catch_interrupts, interrupts_received

if TYPE_CHECKING:
    from nas.boards import Board, Budget
    from nas.huffman import WeightSizes
    from nas.profile import Profile
    from zoo._entry import ZooEntry

__all__ = ["main", "parse_bytes", "parse_count"]

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_DOES_NOT_FIT = 1  # `profile --board`: the model exceeds the board's budget
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kKmM]?)(?:i?B)?")


def parse_bytes(text: str) -> int:
    """Bytes from `65536`, `64k`, `64KB`, `1M`, `1.5MiB` (k = 1024, M = 1024**2)."""
    m = _SIZE.fullmatch(text.strip())
    value = float(m.group(1)) * {"": 1, "k": 1024, "m": 1024**2}[m.group(2).lower()] if m else 0
    if not m or value < 1 or value != int(value):
        raise argparse.ArgumentTypeError(
            "expected a positive whole number of bytes like 65536, 64k or 1M "
            f"(k = 1024 B, M = 1024 kB), got {text!r}"
        )
    return int(value)


def parse_count(text: str) -> int:
    """A count such as MACs from `2700000`, `2.7M` or `500k` (decimal: k = 1000, M = 10**6)."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kKmM]?)", text.strip())
    value = float(m.group(1)) * {"": 1, "k": 1e3, "m": 1e6}[m.group(2).lower()] if m else 0
    if not m or value < 1 or value != int(value):
        raise argparse.ArgumentTypeError(
            f"expected a positive count like 2700000, 2.7M or 500k (k = 1000), got {text!r}"
        )
    return int(value)


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"expected a TCP port from 1 to 65535, got {text!r}")
    return int(text)


class _Parser(argparse.ArgumentParser):
    """argparse with the CLI's one-line error style (still exit code 2)."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"error: {message}. See `{self.prog} --help`.\n")
        raise SystemExit(EXIT_USAGE)


def _valued_options(parser: argparse.ArgumentParser) -> set[str]:
    """The option strings, in `parser` and its subcommands, that take a value."""
    out: set[str] = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                out |= _valued_options(sub)
        elif action.option_strings and action.nargs != 0:
            out.update(action.option_strings)
    return out


def _negatives_attached(parser: argparse.ArgumentParser, argv: Sequence[str]) -> list[str]:
    """`--opt -5k` as `--opt=-5k`: argparse takes a value that starts with '-' and is not a
    plain number (-5k, -1.5M) for an option and answers 'expected one argument'; attached, it
    reaches the option's parser, which says what a valid value is."""
    valued = _valued_options(parser)

    def takes_value(opt: str) -> bool:  # argparse also takes a long option's unique prefix
        return opt in valued or (opt.startswith("--") and any(v.startswith(opt) for v in valued))

    out: list[str] = []
    for i, tok in enumerate(argv):
        if tok == "--":  # what follows is positional
            return out + list(argv[i:])
        prev = out[-1] if out else ""
        if re.fullmatch(r"-\.?\d.*", tok) and takes_value(prev):
            out[-1] = f"{prev}={tok}"
        else:
            out.append(tok)
    return out


def _add_uri(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--tracking-uri",
        metavar="URI",
        help="MLflow store of the zoo (default: $TINYZOO_TRACKING_URI, else sqlite under mlflow/)",
    )


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="tinyzoo",
        description="Search, quantize and ship neural networks that fit a microcontroller.",
        epilog="Models are named NAME, NAME@ALIAS or NAME/VERSION (e.g. kws-nano33ble@champion).",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    b = sub.add_parser("boards", help="the boards tinyzoo knows and each one's model budget")
    b.add_argument("--json", action="store_true", help="print JSON instead of a table")

    sp = sub.add_parser("spaces", help="the search spaces (--space NAME) and their ranges")
    sp.add_argument("--json", action="store_true", help="print JSON instead of a table")

    s = sub.add_parser("search", help="search, verify and register a model for a board")
    s.add_argument(
        "--board",
        help="board name (see `tinyzoo boards`); or give budgets alone (--max-ram, --max-flash, "
        "--max-macs, --max-peak, --max-weights)",
    )
    s.add_argument("--task", required=True, help="task / dataset, e.g. fashion, digits, kws")
    s.add_argument("--trials", type=int, default=20, help="Optuna trials (default 20)")
    s.add_argument("--timeout", type=float, metavar="SECONDS", help="stop searching after this")
    s.add_argument("--max-ram", type=parse_bytes, metavar="BYTES", help="arena budget, e.g. 64k")
    s.add_argument("--max-flash", type=parse_bytes, metavar="BYTES", help="model size budget")
    s.add_argument("--max-macs", type=parse_count, metavar="N", help="MACs budget, e.g. 2.7M")
    s.add_argument(
        "--max-peak",
        type=parse_bytes,
        metavar="BYTES",
        help="activation peak as papers count it (muNAS, MCUNet: whole tensors, best op order, "
        "nothing in place)",
    )
    s.add_argument(
        "--max-weights", type=parse_bytes, metavar="BYTES", help="weights, one byte per parameter"
    )
    s.add_argument(
        "--max-latency-ms",
        type=float,
        metavar="MS",
        help="latency budget on --board, checked against an estimate (cycles/MAC of its core)",
    )
    s.add_argument(
        "--epochs",
        type=int,
        metavar="N",
        help="final training epochs for the winner (default: the task's recipe)",
    )
    s.add_argument(
        "--finalists",
        type=int,
        metavar="K",
        help="the proxy's top K retrained in full before the winner is chosen (default 3)",
    )
    s.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    s.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="search processes on this machine, sharing the study (default 1)",
    )
    s.add_argument(
        "--storage",
        metavar="URL",
        help="keep the study in this database (postgresql://USER:PW@HOST/DB) so that "
        "processes on several machines share it (default: a journal file in studies/ beside "
        "the zoo's sqlite store; for a server store, in ~/.cache/tinyzoo/studies)",
    )
    s.add_argument(
        "--objectives",
        default="accuracy",
        metavar="LIST",
        help="accuracy (default), or accuracy,latency for a Pareto search against the "
        "board's latency estimate",
    )
    s.add_argument(
        "--sampler",
        default="tpe",
        metavar="NAME",
        help="tpe (default: learns from the trials so far) or random (a baseline)",
    )
    s.add_argument(
        "--search-only",
        action="store_true",
        help="only run trials for the shared study; the process without it registers",
    )
    s.add_argument(
        "--space", default="dscnn", help="search space (see `tinyzoo spaces`; default dscnn)"
    )
    s.add_argument("--data", metavar="DIR", help="your own dataset folder (see README)")
    s.add_argument("--study", metavar="NAME", help="Optuna study name; rerun with it to resume")
    s.add_argument(
        "--teacher",
        default="auto",
        metavar="NAME|none",
        help="distil the winner from this zoo teacher (default: teacher-<task>, trained once)",
    )
    s.add_argument(
        "--temperature",
        type=float,
        metavar="T",
        help="distillation temperature, above 0 (default 2, chosen on validation data: "
        "docs/RESULTS.md)",
    )
    s.add_argument(
        "--alpha",
        type=float,
        help="weight of the hard labels in distillation, 0 to 1 (default 0.5, chosen with T)",
    )
    s.add_argument(
        "--prune",
        type=float,
        metavar="F",
        help="L1 channel pruning: remove this share of the winner's MACs (0 < F < 1), fine-tune",
    )
    s.add_argument(
        "--qat",
        action="store_true",
        help="always run quantization-aware training (default: only when PTQ loses more than "
        "--qat-threshold points of validation accuracy)",
    )
    s.add_argument(
        "--qat-threshold",
        type=float,
        default=0.5,
        metavar="POINTS",
        help="PTQ validation loss that triggers QAT (default 0.5)",
    )
    _add_uri(s)

    ls = sub.add_parser("list", help="the zoo's models (each one's champion version)")
    ls.add_argument("pattern", nargs="?", metavar="PATTERN", help="name wildcard, e.g. 'kws-*'")
    ls.add_argument("--task", help="only this task")
    ls.add_argument("--board", help="only models searched for this board")
    ls.add_argument("--max-ram", type=parse_bytes, metavar="BYTES", help="arena fits in BYTES")
    ls.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _add_uri(ls)

    sh = sub.add_parser("show", help="everything the zoo knows about one model version")
    sh.add_argument("ref", metavar="NAME[@ALIAS|/VERSION]")
    sh.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _add_uri(sh)

    pl = sub.add_parser("pull", help="download a model: .tflite, C sources, profile, card")
    pl.add_argument("ref", metavar="NAME[@ALIAS|/VERSION]")
    pl.add_argument("-o", "--out", metavar="DIR", help="output folder (default ./models/NAME)")
    _add_uri(pl)

    pr = sub.add_parser("profile", help="memory, MACs and fit of any int8 .tflite, per layer")
    pr.add_argument("model", metavar="MODEL.tflite")
    pr.add_argument(
        "--board",
        help="judge the model against this board's budget (exit code 1 when it does not fit)",
    )
    pr.add_argument("--json", action="store_true", help="print JSON instead of a table")
    pr.add_argument("--plot", metavar="FILE.png", help="draw memory over the schedule")

    ui = sub.add_parser("ui", help="browse the zoo in the MLflow UI")
    ui.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    ui.add_argument("--port", type=_port, default=5000, help="port, 1 to 65535 (default 5000)")
    _add_uri(ui)
    return p


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tinyzoo")
    except PackageNotFoundError:
        return "unknown"


# --- output -------------------------------------------------------------------------------


def _console() -> Any:
    import os

    from rich.console import Console

    # Piped output (scripts, CI logs) is not cut to 80 columns: tables stay one row per model.
    wide = not sys.stdout.isatty() and "COLUMNS" not in os.environ
    return Console(width=200 if wide else None)


def _size(n: int | float | None) -> str:
    """Bytes as a person reads them: exact KB/MB when whole, else grouped bytes."""
    if n is None:
        return "-"
    n = int(n)
    if n >= 1024**2 and n % 1024**2 == 0:
        return f"{n // 1024**2} MB"
    if n >= 1024 and n % 1024 == 0:
        return f"{n // 1024} KB"
    return f"{n:,} B"


def _table(title: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> Any:
    """A compact table; a header "RAM\nbudget" takes two lines to keep 80 columns readable."""
    from rich import box
    from rich.table import Table

    t = Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
    )
    for i, col in enumerate(columns):
        folds = col in (
            "board",
            "core",
            "arch",
            "what",
            "choices",
        )  # text folds; numbers never break
        t.add_column(
            col,
            justify="left" if i == 0 or folds else "right",
            no_wrap=not folds,
            overflow="fold" if folds else "ellipsis",
        )
    for row in rows:
        t.add_row(*map(str, row))
    return t


def _print_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


def _signed(n: float) -> str:
    return f"- {-n}" if n < 0 else f"+ {n}"


def _entry_facts(e: ZooEntry) -> list[tuple[str, object]]:
    iq, oq = e.input_quant, e.output_quant
    return [
        ("version", f"{e.version} ({', '.join('@' + a for a in e.aliases) or 'no alias'})"),
        ("task / board", f"{e.task} / {e.board or 'custom budget'}"),
        ("architecture", f"{e.arch} (space {e.space}, seed {e.seed})"),
        ("int8 accuracy (TFLM)", f"{e.int8_accuracy:.2%}"),
        ("float accuracy", f"{e.float_accuracy:.2%}"),
        ("TFLM arena", f"{e.arena_bytes:,} B (activations {e.activation_bytes:,} B)"),
        ("model (.tflite)", f"{e.tflite_bytes:,} B; flash with runtime {e.flash_bytes:,} B"),
        ("MACs / params", f"{e.macs:,} / {e.params:,}"),
        *([("latency (estimate)", f"~{e.latency_ms_estimate:.1f} ms on {e.board}, not measured")]
          if e.latency_ms_estimate is not None else []),
        ("input", f"int8 {'x'.join(map(str, e.input_shape))}, q = round(x / {iq['scale']:.6g}) {_signed(iq['zero_point'])}"),
        ("preprocessing", e.preprocessing),
        ("output", f"int8 logits x{len(e.labels)}, real = (q {_signed(-oq['zero_point'])}) * {oq['scale']:.6g}"),
        ("labels", ", ".join(e.labels)),
        ("source", f"{e.source} (MLflow run {e.run_id})"),
    ]  # fmt: skip


def _show_entry(e: ZooEntry, title: str) -> None:
    from rich.table import Table

    t = Table(title=title, title_justify="left", show_header=False)
    t.add_column(style="bold")
    t.add_column()
    for k, v in _entry_facts(e):
        t.add_row(k, str(v))
    _console().print(t)


# --- commands -------------------------------------------------------------------------------


def _cmd_boards(args: argparse.Namespace) -> int:
    from nas.boards import BOARDS, budget_for

    rows = [(b, budget_for(b)) for b in BOARDS.values()]
    if args.json:
        _print_json(
            [
                {**b.to_dict(), **{f"budget_{k}": v for k, v in budget.to_dict().items()}}
                for b, budget in rows
            ]
        )
        return 0
    con = _console()
    wide = con.width >= 120  # the board's full title only where it fits
    cols = ["name", *(["board"] if wide else []), "core", "MHz", "SRAM", "flash", "RAM\nreserve",
            "flash\nreserve", "RAM\nbudget", "flash\nbudget"]  # fmt: skip
    table = [
        (b.name, *([b.title] if wide else []), b.core, b.clock_mhz, _size(b.sram_bytes),
         _size(b.flash_bytes), _size(b.ram_reserved), _size(b.flash_reserved),
         _size(bu.ram_bytes), _size(bu.flash_bytes))
        for b, bu in rows
    ]  # fmt: skip
    title = "Boards: a model's budget is memory minus the reserve (override: --max-ram/--max-flash)"
    con.print(_table(title, cols, table))
    return 0


def _cmd_spaces(args: argparse.Namespace) -> int:
    from searchspaces import list_spaces

    spaces = list_spaces()
    if args.json:
        _print_json([{"name": s.name, "description": s.description, **s.choices()} for s in spaces])
        return 0

    def show(v: object) -> str:
        if isinstance(v, tuple | list):
            return ",".join(str(x) for x in v)
        return str(v)

    rows = [
        (s.name, s.description, "\n".join(f"{k}: {show(v)}" for k, v in s.choices().items()))
        for s in spaces
    ]
    title = "Search spaces (tinyzoo search --space NAME)"
    _console().print(_table(title, ["name", "what", "choices"], rows))
    return 0


def _cmd_search(args: argparse.Namespace) -> int:
    from pathlib import Path

    from nas.boards import budget_for, get_board

    board = get_board(args.board) if args.board is not None else None
    # Unknown board, bad figures, a latency bound without an estimate: fail before TF loads.
    budget_for(
        board,
        max_ram=args.max_ram,
        max_flash=args.max_flash,
        max_macs=args.max_macs,
        max_latency_ms=args.max_latency_ms,
        max_peak=args.max_peak,
        max_weights=args.max_weights,
    )
    from nas.workers import check_workers

    check_workers(args.workers)
    from nas.search import check_objectives, check_run, check_sampler

    objectives = check_objectives(args.objectives)
    check_sampler(args.sampler)
    if "latency" in objectives:
        from nas.latency import require_latency_model

        require_latency_model(board, flag="--objectives accuracy,latency")
    if args.storage is not None:
        from nas.storage import check_url

        check_url(args.storage)
    check_run(
        trials=args.trials, epochs=args.epochs, finalists=args.finalists, seed=args.seed,
        timeout=args.timeout, study_name=args.study, task=args.task,
        own_data=args.data is not None,
    )  # fmt: skip
    from nas.compress import Compress, check_options
    from nas.distill import DEFAULT_ALPHA, DEFAULT_TEMPERATURE, check_params

    temperature = DEFAULT_TEMPERATURE if args.temperature is None else args.temperature
    alpha = DEFAULT_ALPHA if args.alpha is None else args.alpha
    check_params(temperature, alpha)  # bad input fails before TensorFlow loads
    compress = Compress(prune=args.prune, qat=args.qat, qat_threshold=args.qat_threshold)
    check_options(compress)
    from nas.pipeline import Interrupted, run_search

    try:
        entry = run_search(
            board=args.board,
            task=args.task,
            trials=args.trials,
            timeout=args.timeout,
            max_ram=args.max_ram,
            max_flash=args.max_flash,
            max_macs=args.max_macs,
            max_latency_ms=args.max_latency_ms,
            max_peak=args.max_peak,
            max_weights=args.max_weights,
            seed=args.seed,
            workers=args.workers,
            storage=args.storage,
            search_only=args.search_only,
            objectives=objectives,
            sampler=args.sampler,
            space=args.space,
            data_dir=Path(args.data) if args.data else None,
            tracking_uri=args.tracking_uri,
            study_name=args.study,
            epochs=args.epochs,
            finalists=args.finalists,
            teacher=args.teacher,
            temperature=temperature,
            alpha=alpha,
            compress=compress,
        )
    except Interrupted as e:
        sys.stderr.write(_one_line(e) + "\n")  # it says it was interrupted and how to resume
        return EXIT_INTERRUPTED
    if entry is None:  # --search-only: its trials are in the shared study
        return 0
    _show_entry(entry, f"registered {entry.ref}")
    _console().print(f"pull it with: [bold]tinyzoo pull {entry.ref}[/]")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    import zoo

    board = args.board
    if board is not None:
        from nas.boards import get_board

        board = get_board(board).name
    entries = zoo.list_models(
        task=args.task,
        board=board,
        max_ram=args.max_ram,
        pattern=args.pattern,
        tracking_uri=args.tracking_uri,
    )
    if args.json:
        _print_json([e.to_dict() for e in entries])
        return 0
    if not entries:
        from zoo._store import resolve_tracking_uri

        held = zoo.list_models(tracking_uri=args.tracking_uri)  # what the filters left out
        there = f" (tasks there: {', '.join(sorted({e.task for e in held}))})" if held else ""
        sys.stderr.write(
            f"no models match in the zoo at {resolve_tracking_uri(args.tracking_uri)}{there}. "
            "Add one with `tinyzoo search --board B --task T`.\n"
        )
        return 0
    cols = ["name", "ver", "task", "board", "int8\nacc", "arena\nB", ".tflite\nB", "MACs", "params",
            "arch"]  # fmt: skip
    rows = [
        (e.name, e.version, e.task, e.board or "-", f"{e.int8_accuracy:.2%}",
         f"{e.arena_bytes:,}", f"{e.tflite_bytes:,}", f"{e.macs:,}", f"{e.params:,}", e.arch)
        for e in entries
    ]  # fmt: skip
    _console().print(_table("tinyzoo models (champion version of each)", cols, rows))
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    import zoo

    entry = zoo.get(args.ref, tracking_uri=args.tracking_uri)
    if args.json:
        _print_json(entry.to_dict())
    else:
        _show_entry(entry, entry.ref)
    return 0


def _cmd_pull(args: argparse.Namespace) -> int:
    import zoo

    entry = zoo.get(args.ref, tracking_uri=args.tracking_uri)
    out = zoo.pull(entry.ref, args.out, tracking_uri=args.tracking_uri)
    con = _console()
    con.print(f"pulled [bold]{entry.ref}[/] into {out}/ (sha256 verified):")
    for name in sorted(entry.sha256):
        con.print(f"  {name:<14} {(out / name).stat().st_size:>9,} B")
    return 0


def _cmd_ui(args: argparse.Namespace) -> int:
    import subprocess
    import tempfile
    from pathlib import Path

    from zoo._pretrained import ensure_pretrained
    from zoo._store import artifact_root, experiment_id, make_client, sqlite_path

    client = make_client(args.tracking_uri)
    uri = client.tracking_uri
    if uri.startswith(("http://", "https://")):
        raise TinyzooError(f"the zoo is on an MLflow server: open {uri} in a browser instead.")
    ensure_pretrained(client)
    experiment_id(client)  # the experiment exists with its artifact root before the UI reads it
    cmd = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri,
           "--host", args.host, "--port", str(args.port), "--workers", "1"]  # fmt: skip
    root = artifact_root(uri)
    if root:
        cmd += ["--default-artifact-root", root]
    db = sqlite_path(uri)
    log = (db.parent if db else Path(tempfile.gettempdir())) / "tinyzoo-ui.log"
    print(f"MLflow UI for the zoo: http://{args.host}:{args.port}  (Ctrl-C to stop)", flush=True)
    print(f"server log: {log}", flush=True)
    with log.open("w") as out:
        # Own session: a terminal's Ctrl-C reaches only us, and we forward it exactly once.
        # `kill` (SIGTERM) stops the server too (main() makes it an interrupt), not only Ctrl-C.
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            code = proc.wait()
        except KeyboardInterrupt:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            sys.stderr.write("stopped the MLflow UI.\n")
            return 0
    lines = log.read_text(errors="replace").strip().splitlines()
    tail = " | ".join([ln for ln in lines if "ERROR" in ln][-2:] or lines[-3:])
    raise TinyzooError(
        f"the MLflow UI exited with code {code} ({tail}). Is port {args.port} taken? "
        "Try --port 5001; full log in " + str(log) + "."
    )


def _verdicts(p: Profile, budget: Budget) -> list[tuple[str, int, int]]:
    """(field, the model's figure, the budget's limit) for every bounded budget field."""
    fields = [
        ("RAM (TFLM arena)", p.arena_bytes, budget.ram_bytes),
        ("flash (.tflite)", p.tflite_bytes, budget.flash_bytes),
        ("MACs", p.macs, budget.max_macs),
        ("activation peak (paper)", p.paper_peak_bytes, budget.max_peak_bytes),
        ("weights (1 B/param)", p.params, budget.max_weight_bytes),
    ]
    return [(name, value, limit) for name, value, limit in fields if limit is not None]


def _cmd_profile(args: argparse.Namespace) -> int:
    from pathlib import Path

    from nas.boards import budget_for, get_board
    from nas.huffman import weight_sizes
    from nas.profile import profile_tflite

    board = get_board(args.board) if args.board else None
    path = Path(args.model)
    if not path.is_file():
        raise TinyzooError(
            f"{args.model}: {'a folder, not a file' if path.is_dir() else 'no such file'}. Give "
            "the path of an int8 .tflite model (`tinyzoo pull NAME` writes one as model.tflite)."
        )
    if args.plot and not args.plot.lower().endswith(".png"):
        raise TinyzooError(f"--plot {args.plot}: the plot is a PNG; name the file *.png.")
    if args.plot and not Path(args.plot).resolve().parent.is_dir():
        raise TinyzooError(
            f"--plot {args.plot}: folder {str(Path(args.plot).parent)!r} does not exist; "
            "create it or name a file in an existing one."
        )
    data = path.read_bytes()
    prof = profile_tflite(data)
    weights = weight_sizes(data)
    budget = budget_for(board) if board else None
    flash = prof.flash_bytes(board.flash_reserved) if board else prof.tflite_bytes
    verdicts = _verdicts(prof, budget) if budget else []
    ms = budget.latency_ms(prof.macs, len(prof.layers)) if budget else None
    over = [label for label, value, limit in verdicts if value > limit]  # exceeded fields
    fits = not over if budget else None
    if args.plot:
        from nas.memplot import plot_memory

        plot_memory(
            prof,
            args.plot,
            title=f"{path.name}: memory over the schedule",
            ram_budget=budget.ram_bytes if budget else None,
        )
    if args.json:
        out = prof.to_dict()
        out.update(
            file=str(path),
            flash_bytes=flash,
            weights_int8_bytes=weights.int8_bytes,
            weights_huffman_bytes=weights.huffman_bytes,
            board=board.name if board else None,
            fits=fits,
            budget=budget.to_dict() if budget else None,
            latency_ms_estimate=None if ms is None else round(ms, 3),
            latency_model=budget.latency.to_dict() if budget and budget.latency else None,
        )
        _print_json(out)
        return EXIT_DOES_NOT_FIT if fits is False else 0
    _print_profile(prof, path.name, board, flash, verdicts, weights, ms)
    if args.plot:
        _console().print(f"plot written to {args.plot}")
    if board is not None:
        _console().print(
            f"[red]{path.name} does not fit {board.name}[/]: {', '.join(over)} over budget"
            if over
            else f"[green]{path.name} fits {board.name}[/]"
        )
    return EXIT_DOES_NOT_FIT if fits is False else 0


def _print_profile(
    prof: Profile,
    name: str,
    board: Board | None,
    flash: int,
    verdicts: list[tuple[str, int, int]],
    weights: WeightSizes,
    latency_ms: float | None,
) -> None:
    from rich.table import Table

    con = _console()
    t = Table(title=f"{name}: per-layer profile (TFLM schedule)", title_justify="left")
    for col in ("#", "op", "input", "output", "MACs", "weights B", "live B"):
        t.add_column(col, justify="left" if col in ("op", "input", "output") else "right")
    peak = prof.peak_index
    for i, r in enumerate(prof.layers):
        t.add_row(
            str(i), r.op, "x".join(map(str, r.input_shape)), "x".join(map(str, r.output_shape)),
            f"{r.macs:,}", f"{r.weight_bytes:,}", f"{r.live_bytes:,}",
            style="bold red" if i == peak else None,
        )  # fmt: skip
    con.print(t)
    reserve = f" (+ {board.flash_reserved:,} B runtime reserve of {board.name})" if board else ""
    facts = [
        ("MACs / params", f"{prof.macs:,} / {prof.params:,}"),
        (".tflite", f"{prof.tflite_bytes:,} B"),
        (
            "weights, Huffman-coded",
            f"{weights.huffman_bytes:,} B of {weights.int8_bytes:,} B int8 "
            "(storage/transfer only: TFLM needs the raw .tflite)",
        ),
        ("flash", f"{flash:,} B{reserve}"),
        ("activations (TFLM head)", f"{prof.activation_bytes:,} B, peak at op {peak}"),
        ("persistent (TFLM tail)", f"{prof.persistent_bytes:,} B"),
        ("TFLM arena", f"{prof.arena_bytes:,} B (smallest arena TFLM allocates in)"),
        ("ideal peak", f"{prof.ideal_peak_bytes:,} B (best order, in-place ops; no runtime)"),
        ("paper peak", f"{prof.paper_peak_bytes:,} B (best order, whole tensors: muNAS, MCUNet)"),
    ]
    if board is not None:
        est = (
            f"~{latency_ms:.1f} ms at {board.clock_mhz} MHz: an ESTIMATE from cycles per MAC "
            "(nas/latency.py), not measured"
            if latency_ms is not None
            else f"no estimate for {board.core} (TFLM needs a 32-bit core)"
        )
        facts.append((f"latency on {board.name}", est))
    for label, value, limit in verdicts:
        verdict = (
            f"[green]fits[/] ({value:,} of {limit:,}, {limit - value:,} spare)"
            if value <= limit
            else f"[red]exceeds by {value - limit:,}[/] ({value:,} > {limit:,})"
        )
        facts.append((f"{label} on {board.name if board else ''}", verdict))
    for label, text in facts:
        con.print(f"  [bold]{label:<32}[/] {text}")


_COMMANDS = {
    "boards": _cmd_boards,
    "spaces": _cmd_spaces,
    "search": _cmd_search,
    "list": _cmd_list,
    "show": _cmd_show,
    "pull": _cmd_pull,
    "profile": _cmd_profile,
    "ui": _cmd_ui,
}


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())


def _interrupted_hint(args: argparse.Namespace) -> str:
    if args.command != "search":
        return "interrupted."
    if args.study:
        return f"interrupted: rerun the same command with --study {args.study} to resume."
    return "interrupted: nothing was registered; rerun the same command to resume the search."


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `tinyzoo`; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(_negatives_attached(parser, sys.argv[1:] if argv is None else argv))
    # `kill` stops a command as Ctrl-C does: a search keeps its trials and says how to resume,
    # a half-written entry is not left behind. Restored on return (tests call main in-process).
    previous = catch_interrupts(signal.SIGINT, signal.SIGTERM)
    seen = interrupts_received()
    try:
        return _COMMANDS[args.command](args)
    except TinyzooError as e:
        sys.stderr.write(f"error: {_one_line(e)}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write(_interrupted_hint(args) + "\n")
        return EXIT_INTERRUPTED
    except Exception as e:
        if interrupts_received() != seen:  # a Ctrl-C that native code turned into an error
            sys.stderr.write(_interrupted_hint(args) + "\n")
            return EXIT_INTERRUPTED
        if type(e).__module__.split(".")[0] != "mlflow":
            raise
        # The store itself failed (unreachable server, locked db): say so without a traceback.
        sys.stderr.write(f"error: MLflow: {_one_line(e)}\n")
        return 1
    finally:
        for signum, handler in previous.items():  # None: set outside Python; SIG_DFL nearest
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)


if __name__ == "__main__":
    sys.exit(main())
