"""``kubeoracle export raft TRACE --to FILE``: a simulator trace as per-node Raft events.

The events are written in kubeoracle's Raft event format (``docs/raft-events.md``), which
``kubeoracle validate raft`` reads, or in etcd-io/raft's trace NDJSON (``--format etcd-raft``).
Exit 0 once the file is written; 2 for an unreadable trace or an unwritable output file.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.cli.output import add_output_option, emit
from runner.errors import InputError
from runner.exit_codes import ExitCode

if TYPE_CHECKING:
    from runner.cli.output import VerbParsers

EVENT_FORMATS = ("kubeoracle", "etcd-raft")


def register(verbs: VerbParsers) -> None:
    """Add the ``export`` verb and its ``raft`` target."""
    parser = verbs.add_parser("export", help="convert a simulator trace for other tools")
    targets = parser.add_subparsers(dest="target", metavar="<target>", required=True)
    raft = targets.add_parser(
        "raft",
        help="per-node Raft events of a 'simulate raft' trace",
        description=(
            "Re-run a 'kubeoracle simulate raft' trace and write what each node would log, in "
            "kubeoracle's Raft event format (for 'kubeoracle validate raft') or etcd-io/raft's "
            "trace NDJSON."
        ),
    )
    raft.add_argument("trace", type=Path, metavar="TRACE", help="a simulator trace (JSON Lines)")
    raft.add_argument("--format", choices=EVENT_FORMATS, default="kubeoracle", help="event format")
    raft.add_argument("--to", type=Path, required=True, metavar="FILE", help="the events file")
    add_output_option(raft)
    raft.set_defaults(handler=run_export_raft)


def run_export_raft(args: argparse.Namespace) -> ExitCode:
    """The ``export raft`` handler."""
    from runner.cli.worlds import WORLDS
    from runner.raft.trace_export import node_events
    from runner.raft.trace_writers import etcd_lines, kubeoracle_lines
    from runner.sim.trace import read_trace

    parsed = read_trace(args.trace, WORLDS)
    if parsed.kind.name != "raft":
        reason = f"a trace of the {parsed.kind.name} world, not of raft"
        raise InputError(reason, source=str(args.trace), line=1, field="world")
    events = node_events(parsed)
    description = f"simulator run of {args.trace.name} (seed {parsed.header.seed})"
    if args.format == "kubeoracle":
        lines = kubeoracle_lines(events, description)
    else:
        lines = etcd_lines(events)
    try:
        args.to.write_text("\n".join(lines) + "\n", encoding="utf-8")
    except OSError as error:
        raise InputError(f"cannot write: {error.strerror}", source=str(args.to)) from None
    nodes = sorted({event.node for event in events})
    report = {
        "trace": str(args.trace),
        "format": args.format,
        "events_file": str(args.to),
        "events": len(events),
        "lines": len(lines),
        "nodes": nodes,
    }
    emit(report, args.output, render_text)
    return ExitCode.PASS


def render_text(report: Mapping[str, Any]) -> str:
    """The human summary of an export."""
    return (
        f"kubeoracle export raft: {report['events']} events of nodes "
        f"{', '.join(str(node) for node in report['nodes'])} from {report['trace']}\n"
        f"  wrote {report['lines']} lines ({report['format']}) to {report['events_file']}"
    )
