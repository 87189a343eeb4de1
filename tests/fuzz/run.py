"""Running the CLI in process and capturing what a user would see."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass

from runner.cli.main import main


@dataclass(frozen=True)
class Outcome:
    """A command's exit code, standard output and standard error."""

    code: int
    out: str
    err: str


def run_cli(args: list[str]) -> Outcome:
    """``kubeoracle ARGS`` in this process; argparse's own exit counts as the exit code. Any
    other exception propagates (the fuzz test then fails and shrinks it)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(args)
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else 2
    return Outcome(code, out.getvalue(), err.getvalue())
