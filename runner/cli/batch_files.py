"""One kubeoracle command over one input file, as a unit of work an engine can run anywhere.

``kubeoracle batch`` runs a command (``validate raft``, ``check history``, ``schedule``,
``replay``, ...) once per input file on the engines of :mod:`runner.explore.engine`: the
command is a template of arguments in which ``{}`` stands for the file (appended when absent).
A worker runs the command in its own process through the CLI's entry point, exactly as
``kubeoracle ARGS -o json`` would, and keeps its exit code, its JSON report and what it wrote
to stderr. Nothing here knows any verb beyond the list of those it accepts.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, final

from runner.exit_codes import ExitCode

BATCH_VERBS: Final = ("check", "replay", "schedule", "validate")
"""The verbs that judge input files and end on their own (``serve`` would never end)."""
PLACEHOLDER: Final = "{}"
ERROR_CHARS_MAX: Final = 2000
WORKER_FLAGS: Final = {("check", "history"): ("--workers", "1")}
"""Added when the template does not set them: the engine already runs one file per worker, so
a command's own search processes would only compete for the same cores."""


@final
@dataclass(frozen=True, slots=True)
class FileTask:
    """Run ``arguments`` (a kubeoracle command line, the file in place) for ``file``."""

    file: str
    arguments: tuple[str, ...]


@final
@dataclass(frozen=True, slots=True)
class FileOutcome:
    """What the command did for ``file``: its exit code, its JSON report (``None`` when it
    printed none, as on bad input) and the start of what it wrote to stderr."""

    file: str
    exit_code: int
    report: Any
    error: str


def command_arguments(template: Sequence[str], file: str) -> tuple[str, ...]:
    """The command line for ``file``: ``{}`` replaced by it (or it appended), the worker
    flags the template leaves unset added, and ``-o json`` at the end."""
    if PLACEHOLDER in template:
        arguments = [file if argument == PLACEHOLDER else argument for argument in template]
    else:
        arguments = [*template, file]
    for prefix, flags in WORKER_FLAGS.items():
        if tuple(template[: len(prefix)]) == prefix and flags[0] not in template:
            arguments[len(prefix) : len(prefix)] = flags
    return (*arguments, "-o", "json")


def run_file(task: FileTask) -> FileOutcome:
    """Run the command in this process with its output captured."""
    from runner.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(task.arguments))
        except SystemExit as stop:  # argparse refuses an argument by exiting
            code = stop.code if isinstance(stop.code, int) else int(ExitCode.USAGE)
    text = out.getvalue()
    try:
        report = json.loads(text) if text.strip() else None
    except ValueError:
        report = None
    return FileOutcome(task.file, code, report, err.getvalue()[:ERROR_CHARS_MAX])


SEVERITY: Final = (ExitCode.VIOLATION, ExitCode.USAGE, ExitCode.INCONCLUSIVE, ExitCode.PASS)
"""The batch's exit code is the first of these any file's command exited with."""


def batch_exit_code(codes: Sequence[int]) -> ExitCode:
    """1 if some file broke a property, else 2 if some file was refused, else 3 if some was
    inconclusive, else 0 (also for an exit code no verb uses: counted as refused)."""
    seen = {code if code in ExitCode._value2member_map_ else ExitCode.USAGE for code in codes}
    return next((code for code in SEVERITY if code in seen), ExitCode.PASS)
