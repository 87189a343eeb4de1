"""``kubeoracle schema <format>``: print the JSON Schema of one of kubeoracle's file formats.

Each schema is generated from the record types (``models.trace``, ``models.raft_events``,
``models.history``); the files committed in ``docs/`` are this command's output, and tests
keep them equal.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from runner.exit_codes import ExitCode

if TYPE_CHECKING:
    from runner.cli.output import VerbParsers


def _trace() -> str:
    from runner.cli.worlds import WORLDS
    from runner.sim.trace_schema import schema_text

    return schema_text(WORLDS)


def _raft_events() -> str:
    from runner.raft.events_schema import schema_text

    return schema_text()


def _history() -> str:
    from models.history import history_json_schema

    return json.dumps(history_json_schema(), sort_keys=True, indent=2) + "\n"


SCHEMAS: dict[str, tuple[str, Callable[[], str]]] = {
    "trace": ("simulator traces (docs/trace.schema.json)", _trace),
    "raft-events": ("per-node Raft event traces (docs/raft-events.schema.json)", _raft_events),
    "history": ("client histories (docs/history-format.schema.json)", _history),
}


def register(verbs: VerbParsers) -> None:
    """Add the ``schema`` verb with one target per format."""
    parser = verbs.add_parser("schema", help="print the JSON Schema of a kubeoracle file format")
    targets = parser.add_subparsers(dest="target", metavar="<format>", required=True)
    for name, (text, _) in SCHEMAS.items():
        target = targets.add_parser(name, help=text, description=f"The JSON Schema of {text}.")
        target.set_defaults(handler=run_schema)


def run_schema(args: argparse.Namespace) -> ExitCode:
    """Print the selected schema (it is the machine-readable output; there is no summary)."""
    sys.stdout.write(SCHEMAS[args.target][1]())
    return ExitCode.PASS
