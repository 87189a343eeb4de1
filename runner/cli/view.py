"""``kubeoracle view FILE -o PAGE.html``: a self-contained HTML timeline of a trace or a history.

A trace of any world (its first line is a ``kubeoracle-trace`` header) is read through the
strict input discipline and re-executed; a history (any format ``check history`` reads) is
judged against its model first, as ``check history`` does. The page shows one lane per
component (per client, for a history), messages as arrows, each step's state diff on click,
the violation highlighted, and a search by object name (``docs/view.md``). Exit 0 when the page
was written, 2 for a bad input file (naming the file, line and reason) or an unwritable output.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from runner.cli.options import timeout_seconds
from runner.exit_codes import ExitCode

if TYPE_CHECKING:
    from runner.cli.output import VerbParsers

HISTORY_FORMATS = ("kubeoracle", "jepsen", "porcupine-kv")
MODELS = ("etcd", "kv", "register", "cas-register")


def register(verbs: VerbParsers) -> None:
    """Add the ``view`` verb."""
    parser = verbs.add_parser(
        "view",
        help="write a self-contained HTML timeline of a trace or a history",
        description=(
            "Write one HTML page (no network, no external files) showing a trace of any world, "
            "or a client history judged for linearizability: a lane per component, messages "
            "as arrows, each step's state diff on click, violations highlighted, search by "
            "object name."
        ),
    )
    parser.add_argument("file", type=Path, metavar="FILE", help="a trace or a history")
    parser.add_argument(
        "-o", "--output", type=Path, required=True, metavar="PAGE", help="the HTML file to write"
    )
    parser.add_argument(
        "--format",
        choices=HISTORY_FORMATS,
        default="kubeoracle",
        help="a history's format (a trace is recognised by its header)",
    )
    parser.add_argument(
        "--model", choices=MODELS, default=None, help="a history's model (default: its header's)"
    )
    parser.add_argument(
        "--timeout",
        type=timeout_seconds,
        default=60.0,
        metavar="S",
        help="a history's check gives up after S seconds (the page then shows no verdict)",
    )
    parser.add_argument(
        "--no-replay",
        action="store_true",
        help=(
            "do not re-execute a trace: show the values it records (long ones by digest); "
            "much faster for big worlds"
        ),
    )
    parser.set_defaults(handler=run_view)


def _is_trace(path: Path) -> bool:
    """Whether the file's first line looks like a trace's (a ``record``, not a history's
    ``kind``); the trace reader then checks it whole."""
    from runner.input_files import read_lines

    for _, line in read_lines(path):
        return b'"record"' in line or b"kubeoracle-trace" in line
    return False


def run_view(args: argparse.Namespace) -> ExitCode:
    """The ``view`` handler."""
    from runner.input_files import check_output_path, write_output
    from runner.view.page import render_page

    check_output_path(args.output, "page")
    if _is_trace(args.file):
        from runner.cli.worlds import WORLDS
        from runner.sim.trace import read_trace
        from runner.view.trace_view import read_trace_view

        data = read_trace_view(read_trace(args.file, WORLDS), replay=not args.no_replay)
    else:
        from runner.view.history_view import read_history_view

        data = read_history_view(args.file, args.format, args.model, args.timeout)
    write_output(args.output, render_page(data), "page")
    arrows = f", {len(data.arrows)} messages" if data.arrows else ""
    print(
        f"{args.output}: {len(data.rows)} rows in {len(data.lanes)} lanes{arrows}, "
        f"{len(data.marks)} violation(s) marked"
    )
    return ExitCode.PASS
