"""``kubeoracle validate raft FILE...``: check Raft traces from another implementation.

The files (kubeoracle's Raft event format, or etcd-io/raft's trace NDJSON) are merged and every
event is checked against the reference relation of :mod:`spec.raft_validation`. Exit 0 with
counts when the trace is consistent with Raft; exit 1 naming the first event Raft does not allow
(file, line, node, the state the reference expected, the state reported, the rule in words);
exit 2 for unreadable input.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.cli.output import add_output_option, emit
from runner.exit_codes import ExitCode
from runner.progress import track

if TYPE_CHECKING:
    from runner.cli.output import VerbParsers
    from spec.raft_validation import Summary, Violation


def register(verbs: VerbParsers) -> None:
    """Add ``validate`` and its ``raft`` target."""
    parser = verbs.add_parser(
        "validate",
        help="check traces of another implementation against the reference",
        description="Check traces of another implementation against kubeoracle's reference.",
    )
    targets = parser.add_subparsers(dest="target", metavar="<target>", required=True)
    raft = targets.add_parser(
        "raft",
        help="validate per-node Raft event traces (kubeoracle or etcd-raft format)",
        description=(
            "Validate Raft traces: each event is checked against the reference (is this "
            "transition allowed from the state the reference holds for that node?) and the "
            "cluster-wide Raft properties are checked on the reconstructed states. Several "
            "files are merged by timestamp (or taken one after the other when records have "
            "none)."
        ),
    )
    raft.add_argument("files", nargs="+", type=Path, metavar="FILE", help="trace files")
    raft.add_argument(
        "--format",
        choices=("auto", "kubeoracle", "etcd-raft"),
        default="auto",
        help="input format (default: detected from the first line)",
    )
    add_output_option(raft)
    raft.set_defaults(handler=validate_raft)


def validate_raft(args: argparse.Namespace) -> ExitCode:
    """Read, merge and validate the traces; print the verdict."""
    from runner.raft.trace_input import read_traces
    from spec.raft_validation import Violation, validate

    files: list[Path] = args.files
    trace = read_traces(files, args.format)
    verdict = validate(track(trace.events, "validate raft: events", args.output), trace.options)
    if isinstance(verdict, Violation):
        emit(violation_report(verdict, files), args.output, render_text)
        inconclusive = verdict.choices_cut or verdict.inconclusive
        return ExitCode.INCONCLUSIVE if inconclusive else ExitCode.VIOLATION
    emit(pass_report(verdict, files, trace.records, trace.format), args.output, render_text)
    return ExitCode.PASS


def pass_report(
    summary: Summary, files: list[Path], records: int, trace_format: str
) -> dict[str, Any]:
    """The report of a consistent trace (``records``: the trace's event records)."""
    return {
        "verdict": "pass",
        "format": trace_format,
        "files": [str(path) for path in files],
        "events": records,
        "reference_steps": summary.events,
        "nodes": list(summary.nodes),
        "node_count": len(summary.nodes),
        "terms": summary.terms,
        "highest_term": summary.highest_term,
        "leaders_elected": summary.leaders,
        "committed_entries": summary.committed_entries,
        "commit_advances": summary.commit_advances,
        "messages_sent": summary.messages_sent,
        "messages_received": summary.messages_received,
        "open_choices": summary.open_choices,
    }


def violation_report(violation: Violation, files: list[Path]) -> dict[str, Any]:
    """The report of the first violation."""
    return {
        "verdict": (
            "inconclusive" if violation.choices_cut or violation.inconclusive else "violation"
        ),
        "choices_cut": violation.choices_cut,
        "undetermined": violation.inconclusive,
        "files": [str(path) for path in files],
        "file": violation.source,
        "line": violation.line,
        "events_checked": violation.position,
        "node": violation.node,
        "event": violation.event_kind,
        "rule": violation.rule.name,
        "rule_statement": violation.rule.statement,
        "rule_source": violation.rule.source,
        "detail": violation.detail,
        "expected": violation.expected,
        "reported": violation.reported,
        "reference_state": violation.reference_state,
        "reported_state": violation.reported_state,
    }


def render_text(report: Mapping[str, Any]) -> str:
    """The verdict for people."""
    if report["verdict"] == "pass":
        return (
            f"PASS: {report['events']} events ({report['format']} format) from "
            f"{len(report['files'])} file(s) are "
            f"consistent with Raft ({report['reference_steps']} reference steps)\n"
            f"  nodes: {report['node_count']} ({', '.join(report['nodes'])})\n"
            f"  terms: {report['terms']} (highest {report['highest_term']}), leaders elected: "
            f"{report['leaders_elected']}\n"
            f"  committed entries: {report['committed_entries']} "
            f"({report['commit_advances']} commit index advances)\n"
            f"  messages: {report['messages_sent']} distinct sent, "
            f"{report['messages_received']} received"
        )
    heading = (
        "VIOLATION" if report["verdict"] == "violation" else "INCONCLUSIVE (possible violation)"
    )
    caveat = ""
    if report["undetermined"]:
        caveat = (
            "\n  note: the trace does not determine whether this breaks the rule "
            "(the events that would decide it are not traced)"
        )
    if report["choices_cut"]:
        caveat = (
            f"\n  note: after {report['choices_cut']} earlier event(s) a node had more possible "
            "states than the validator keeps; the violation may come from a dropped one"
        )
    return (
        f"{heading} at {report['file']}:{report['line']} (node {report['node']}, "
        f"{report['event']} event)\n"
        f"  {report['detail']}\n"
        f"  rule broken: {report['rule']}: {report['rule_statement']} "
        f"[{report['rule_source']}]\n"
        f"  reference expected: {report['expected']}\n"
        f"  implementation reported: {report['reported']}\n"
        f"  reference state of node {report['node']} before this event: "
        f"{report['reference_state']}\n"
        f"  state reported by the event: {report['reported_state']}" + caveat
    )
