"""The ``kubeoracle`` command line: ``kubeoracle <verb> <target> [options]``.

Each verb lives in its own module in :mod:`runner.cli` and is listed in
``COMMAND_MODULES``. A module's ``register(verbs)`` adds its parser and sets ``handler`` to a
function ``(argparse.Namespace) -> ExitCode``. Heavy imports (z3, the simulator) happen inside
handlers, so ``kubeoracle --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol, cast

from runner.errors import InputError
from runner.exit_codes import ExitCode
from runner.version import version_text

if TYPE_CHECKING:
    from runner.cli.output import VerbParsers

COMMAND_MODULES: tuple[str, ...] = (
    "runner.cli.batch",
    "runner.cli.check",
    "runner.cli.conform",
    "runner.cli.decode",
    "runner.cli.explore",
    "runner.cli.export",
    "runner.cli.prove",
    "runner.cli.replay",
    "runner.cli.schedule",
    "runner.cli.schema",
    "runner.cli.serve",
    "runner.cli.simulate",
    "runner.cli.validate",
    "runner.cli.view",
)

Handler = Callable[[argparse.Namespace], ExitCode]


class CommandModule(Protocol):
    """What a module in ``COMMAND_MODULES`` provides."""

    def register(self, verbs: VerbParsers) -> None: ...


EPILOG = """exit codes:
  0  pass: everything checked held
  1  violation: an invariant broke, a history is not linearizable, a replay diverged
  2  usage error or unreadable input (the message names the file, line and reason)
  3  inconclusive: a time or search limit was reached, or the solver answered unknown
"""


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
