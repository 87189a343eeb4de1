"""The ``kubeoracle`` command line: ``kubeoracle <verb> <target> [options]``.

Each verb lives in its own module under :mod:`runner.commands` and is listed in
``COMMAND_MODULES``. A module's ``register(verbs)`` adds its parser and sets ``handler`` to a
function ``(argparse.Namespace) -> ExitCode``. Heavy imports (z3, the simulator) happen inside
handlers, so ``kubeoracle --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from importlib import metadata
from typing import TYPE_CHECKING, Protocol, TypeAlias, cast

from runner.errors import InputError
from runner.exit_codes import ExitCode

COMMAND_MODULES: tuple[str, ...] = (
    "runner.commands.check",
    "runner.commands.conform",
    "runner.commands.decode",
    "runner.commands.prove",
    "runner.commands.replay",
    "runner.commands.schedule",
    "runner.commands.serve",
    "runner.commands.simulate",
    "runner.commands.validate",
)

Handler = Callable[[argparse.Namespace], ExitCode]
if TYPE_CHECKING:
    VerbParsers: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]


class CommandModule(Protocol):
    """What a module in ``COMMAND_MODULES`` provides."""

    def register(self, verbs: VerbParsers) -> None: ...


EPILOG = """exit codes:
  0  pass: everything checked held
  1  violation: an invariant broke, a history is not linearizable, a replay diverged
  2  usage error or unreadable input (the message names the file, line and reason)
  3  inconclusive: a time or search limit was reached, or the solver answered unknown
"""


def version_text() -> str:
    """The installed distribution's version, or ``unknown`` when run from a bare checkout."""
    try:
        return metadata.version("kubeoracle")
    except metadata.PackageNotFoundError:
        return "unknown"


def add_output_option(parser: argparse.ArgumentParser) -> None:
    """The ``-o text|json`` option every command shares."""
    parser.add_argument(
        "-o",
        "--output",
        choices=("text", "json"),
        default="text",
        help="text: a summary for people (default); json: a machine-readable report",
    )


def build_parser() -> argparse.ArgumentParser:
    """The full parser with every registered verb."""
    parser = argparse.ArgumentParser(
        prog="kubeoracle",
        description=(
            "A reference Kubernetes control plane (etcd and its Raft, API server, scheduler, "
            "controllers, kubelet, kube-proxy) as pure state machines, with invariants, z3 "
            "proofs and deterministic record and replay."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"kubeoracle {version_text()}")
    verbs = parser.add_subparsers(dest="verb", metavar="<verb>")
    for name in COMMAND_MODULES:
        module = cast(CommandModule, importlib.import_module(name))
        module.register(verbs)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``kubeoracle`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = cast(Handler | None, getattr(args, "handler", None))
    if handler is None:
        parser.print_help(sys.stderr)
        return int(ExitCode.USAGE)
    try:
        return int(handler(args))
    except InputError as error:
        print(f"kubeoracle: {error.describe()}", file=sys.stderr)
        return int(ExitCode.USAGE)
    except BrokenPipeError:
        return int(ExitCode.PASS)


if __name__ == "__main__":
    sys.exit(main())
