"""``kubeoracle check history FILE``: is a recorded client history linearizable? (``check
schedule`` is in :mod:`runner.cli.check_schedule`, ``check proxy`` in
:mod:`runner.cli.check_proxy`.)

Reads a history (kubeoracle JSON Lines, a Jepsen etcd log or a porcupine kv log), judges it
against a sequential model (etcd, kv, register, cas-register) and prints the verdict; on a
violation, the culprit, the operations the violation needs and the longest linearizable prefix.
Watch streams in an etcd history are checked against etcd's watch guarantees. Exit codes: 0
linearizable, 1 not, 2 bad input, 3 out of time.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from runner.cli import check_proxy, check_schedule
from runner.cli.options import bounded_int, timeout_seconds
from runner.cli.output import add_output_option, emit
from runner.exit_codes import ExitCode
from runner.progress import timed

FORMATS = ("kubeoracle", "jepsen", "porcupine-kv")

if TYPE_CHECKING:
    from runner.cli.output import VerbParsers

DEFAULT_TIMEOUT_SECONDS = 60.0
MAX_WORKERS = 256


def register(verbs: VerbParsers) -> None:
    """Add ``check`` and its target ``history``."""
    check = verbs.add_parser("check", help="check a recorded history against a reference model")
    targets = check.add_subparsers(dest="target", metavar="<target>")
    history = targets.add_parser(
        "history",
        help="is a client history linearizable (and are its watch streams correct)?",
        description=(
            "Judge a client history against a sequential model: exit 0 linearizable, 1 not "
            "(with the smallest set of operations found that cannot be linearized), 2 bad "
            "input, 3 out of time."
        ),
    )
    history.add_argument("file", help="the history file")
    history.add_argument(
        "--model",
        choices=("etcd", "kv", "register", "cas-register"),
        default=None,
        help=(
            "the sequential model (default: the file header's; cas-register for jepsen, kv "
            "for porcupine-kv)"
        ),
    )
    history.add_argument("--format", choices=FORMATS, default="kubeoracle", help="input format")
    history.add_argument("--html", metavar="OUT", help="write a timeline page to OUT")
    history.add_argument(
        "--timeout",
        type=timeout_seconds,
        default=DEFAULT_TIMEOUT_SECONDS,
        metavar="S",
        help=f"give up (exit 3) after S seconds (default {DEFAULT_TIMEOUT_SECONDS:g})",
    )
    history.add_argument(
        "--workers",
        type=bounded_int(1, MAX_WORKERS),
        default=None,
        metavar="N",
        help="processes searching independent partitions (kv keys) at once (default: the cores)",
    )
    add_output_option(history)
    history.set_defaults(handler=run_check_history)
    check_schedule.add_target(targets)
    check_proxy.add_target(targets)


def run_check_history(args: argparse.Namespace) -> ExitCode:
    """Handler of ``kubeoracle check history``."""
    from runner.history.judge import judge_history
    from runner.input_files import check_output_path, write_output
    from runner.view.history_view import history_view_data
    from runner.view.page import render_page

    if args.html:
        check_output_path(Path(args.html), "timeline page")
    with timed("check history: searching (bar: the --timeout)", args.timeout, args.output):
        judged = judge_history(args.file, args.format, args.model, args.timeout, args.workers)
    report = judged.report
    document: dict[str, Any] = msgspec.to_builtins(report)
    document["file"] = args.file
    document["seconds"] = judged.seconds
    document["watch_problems"] = judged.watch_problems
    document["operations"] = len(judged.history.operations)
    if report.violation is not None:
        document["prefix_operations"] = len(report.violation.prefix_order)
    if args.html:
        page = render_page(history_view_data(args.file, judged))
        write_output(Path(args.html), page, "timeline page")
        document["html"] = args.html
    emit(document, args.output, render_text)
    if report.verdict == "not_linearizable" or judged.watch_problems:
        return ExitCode.VIOLATION
    if report.verdict == "unknown":
        return ExitCode.INCONCLUSIVE
    return ExitCode.PASS


def render_text(report: Mapping[str, Any]) -> str:
    """The human summary of a check."""
    verdict = str(report["verdict"]).replace("_", " ")
    lines = [
        f"{report['file']}: {verdict} ({report['operations_checked']} operations checked "
        f"against the {report['model']} model, {report['partitions']} partition(s), "
        f"{report['steps']} search steps, {report['seconds']} s)"
    ]
    violation = report.get("violation")
    if violation is not None:
        lines.append(violation["explanation"])
        lines.append(
            f"The longest linearizable prefix ends just before time "
            f"{violation['prefix_end_time']} ({report['prefix_operations']} operations "
            "linearized)."
        )
        if not violation["minimal_is_one_minimal"]:
            lines.append(
                "(Not shown to be minimal: some attempts to relax one more operation hit their "
                "step limit.)"
            )
    elif report.get("note"):
        lines.append(str(report["note"]))
    if report["verdict"] == "unknown":
        lines.append("The search ran out of time; raise --timeout to go on.")
    for problem in report.get("watch_problems", []):
        lines.append(f"watch of client {problem['client_id']}: {problem['message']}")
    if report.get("html"):
        lines.append(f"timeline written to {report['html']}")
    return "\n".join(lines)
