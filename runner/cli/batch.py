"""``kubeoracle batch COMMAND FILE...``: one command over many input files, in parallel on this
machine's processes or on a Dask cluster (the engines of ``explore``).

COMMAND is a kubeoracle command line in one argument (``"validate raft {}"``, ``"check history
--model kv {}"``, ``"schedule --cluster {} --pods pods.yaml"``); ``{}`` stands for each file
(appended when absent). The report lists every file in the order given with the command's exit
code and JSON report. Exit 1 when some file's command found a violation, else 2 when some file
was refused (or the command is bad), else 3 when some was inconclusive, else 0.
"""

from __future__ import annotations

import argparse
import shlex
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from runner.cli.explore import add_engine_options, clear_progress, make_engine, progress_bar
from runner.cli.output import add_output_option, emit
from runner.errors import InputError
from runner.exit_codes import ExitCode

if TYPE_CHECKING:
    from runner.cli.output import VerbParsers

FILES_MAX: Final = 1_000_000
STATUS: Final = {code: code.name.lower() for code in ExitCode}


def register(verbs: VerbParsers) -> None:
    """Add the ``batch`` verb."""
    parser = verbs.add_parser(
        "batch",
        help="run validate, check, schedule or replay over many input files in parallel "
        "(local processes or Dask)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "command",
        metavar="COMMAND",
        help="the kubeoracle command, quoted as one argument; {} stands for the file",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="the input files")
    add_engine_options(parser)
    add_output_option(parser)
    parser.set_defaults(handler=run_batch)


def parse_command(text: str) -> tuple[str, ...]:
    """COMMAND split like a shell would, checked: a verb that judges files, no ``-o``."""
    from runner.cli.batch_files import BATCH_VERBS

    try:
        template = tuple(shlex.split(text))
    except ValueError as error:
        raise InputError(f"cannot split the command: {error}", field="COMMAND") from error
    if template[:1] == ("kubeoracle",):
        template = template[1:]
    if not template or template[0] not in BATCH_VERBS:
        verbs = ", ".join(BATCH_VERBS)
        raise InputError(f"the command must start with one of {verbs}", field="COMMAND")
    if any(word in ("-o", "--output") or word.startswith("--output=") for word in template):
        raise InputError("batch sets the output itself (-o json per file)", field="COMMAND")
    return template


def check_command(arguments: tuple[str, ...]) -> None:
    """Parse the command line of the first file once, so that a bad command is refused once
    (exit 2) rather than once per file."""
    from runner.cli.main import build_parser

    parser = build_parser()
    parser.exit_on_error = False
    try:
        parser.parse_args(list(arguments))
    except (argparse.ArgumentError, SystemExit) as error:
        reason = str(error) if isinstance(error, argparse.ArgumentError) else "see above"
        raise InputError(f"not a valid command: {reason}", field="COMMAND") from None


def run_batch(args: argparse.Namespace) -> ExitCode:
    """The ``batch`` handler."""
    from runner.cli.batch_files import FileTask, batch_exit_code, command_arguments, run_file
    from runner.explore.engine import Failed

    template = parse_command(args.command)
    files: list[str] = args.files
    if len(files) > FILES_MAX:
        raise InputError(f"at most {FILES_MAX} files", field="FILE")
    tasks = [FileTask(file, command_arguments(template, file)) for file in files]
    check_command(tasks[0].arguments)
    engine = make_engine(args)
    finished = 0

    def observe(_index: int, _outcome: object) -> None:
        nonlocal finished
        finished += 1
        progress_bar(finished, len(tasks))

    started = time.perf_counter()
    try:
        outcomes = engine.run(run_file, tasks, observe)
    finally:
        engine.close()
        clear_progress()
    seconds = time.perf_counter() - started
    results: list[dict[str, Any]] = []
    for task, outcome in zip(tasks, outcomes, strict=True):
        if isinstance(outcome, Failed):
            results.append({"file": task.file, "exit_code": None, "lost": outcome.reason})
            continue
        done = outcome.value
        results.append(
            {"file": done.file, "exit_code": done.exit_code, "report": done.report}
            | ({"error": done.error} if done.error else {})
        )
    codes = [ExitCode.USAGE if r["exit_code"] is None else r["exit_code"] for r in results]
    verdict = batch_exit_code(codes)
    report = {
        "command": " ".join(template),
        "files": len(files),
        "counts": {STATUS[code]: codes.count(code) for code in ExitCode if code in codes},
        "lost": sum(1 for result in results if result["exit_code"] is None),
        "results": results,
        "verdict": STATUS[verdict],
        "run": {
            "engine": engine.name,
            "workers": engine.workers,
            "seconds": round(seconds, 3),
            "files_per_second": round(len(files) / seconds, 2) if seconds > 0 else None,
        },
    }
    emit(report, args.output, render_text)
    return verdict


def render_text(report: Mapping[str, Any]) -> str:
    """One line per file, then the counts."""
    run = report["run"]
    lines = [
        f"kubeoracle batch {report['command']!r}: {report['files']} files on {run['engine']}"
        f" ({run['workers']} workers) in {run['seconds']:.1f} s"
    ]
    for result in report["results"]:
        code = result["exit_code"]
        if code is None:
            lines.append(f"  LOST {result['file']}: {result['lost']}")
            continue
        status = STATUS.get(code, f"exit {code}").upper()
        detail = ""
        if code == ExitCode.USAGE and result.get("error"):
            detail = ": " + result["error"].strip().splitlines()[-1]
        lines.append(f"  {status} {result['file']}{detail}")
    counts = ", ".join(f"{count} {name}" for name, count in report["counts"].items())
    lines.append(f"verdict: {report['verdict']} ({counts})")
    return "\n".join(lines)
