"""``kubeoracle replay FILE``: re-execute a trace and confirm it step by step.

Exit 0 when the replay reproduces the trace (every fingerprint and snapshot matches and the
result, pass or the same violation at the same step, happens again); 1 at the first
divergence, with a readable diff of the states; 2 for a corrupt or truncated trace, naming the
file, the line and the reason.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.cli.output import add_output_option, emit
from runner.exit_codes import ExitCode

if TYPE_CHECKING:
    from runner.cli.output import VerbParsers
    from runner.sim.replay import ReplayReport
    from runner.sim.trace import ParsedTrace


def register(verbs: VerbParsers) -> None:
    """Add the ``replay`` verb."""
    parser = verbs.add_parser(
        "replay",
        help="re-execute a trace and report the first step that differs",
        description=(
            "Re-execute a trace written by 'kubeoracle simulate': every step's fingerprint, "
            "every snapshot and the result must be reproduced."
        ),
    )
    parser.add_argument("file", type=Path, metavar="FILE", help="a trace (JSON Lines)")
    add_output_option(parser)
    parser.set_defaults(handler=run_replay)


def run_replay(args: argparse.Namespace) -> ExitCode:
    """The ``replay`` handler."""
    from runner.cli.worlds import WORLDS
    from runner.sim.replay import replay
    from runner.sim.trace import code_version, read_trace

    parsed = read_trace(args.file, WORLDS)
    outcome = replay(parsed)
    report = build_report(parsed, outcome, code_version())
    emit(report, args.output, render_text)
    return ExitCode.PASS if outcome.reproduced else ExitCode.VIOLATION


def build_report(parsed: ParsedTrace, outcome: ReplayReport, version: str) -> dict[str, Any]:
    """The machine-readable report of a replay."""
    from runner.sim.fingerprint import to_builtins

    divergence = outcome.divergence
    report: dict[str, Any] = {
        "trace": parsed.source,
        "seed": parsed.header.seed,
        "recorded_code_version": parsed.header.code_version,
        "code_version": version,
        "steps_in_trace": parsed.result.steps,
        "steps_replayed": outcome.steps_replayed,
        "recorded_result": to_builtins(parsed.result),
        "status": "reproduced" if divergence is None else "diverged",
        "divergence": None,
    }
    if divergence is not None:
        report["divergence"] = {
            "step": divergence.step,
            "line": divergence.line,
            "reason": divergence.reason,
            "action": divergence.action,
            "differences": [
                {"path": d.path, "expected": d.expected, "got": d.got, "text": d.describe()}
                for d in divergence.differences
            ],
        }
    return report


def render_text(report: Mapping[str, Any]) -> str:
    """The human summary of a replay."""
    recorded = report["recorded_result"]
    lines = [f"kubeoracle replay {report['trace']}: seed {report['seed']}"]
    if report["recorded_code_version"] != report["code_version"]:
        lines.append(
            f"  note: recorded with {report['recorded_code_version']},"
            f" replayed with {report['code_version']}"
        )
    divergence = report["divergence"]
    if divergence is None:
        what = recorded["status"]
        if recorded["status"] != "pass":
            what += f" of {recorded['property']} after step {recorded['index']}"
        lines.append(
            f"REPRODUCED: {report['steps_replayed']} steps, every fingerprint and delta matched;"
            f" result: {what}"
        )
        return "\n".join(lines)
    lines.append(
        f"DIVERGED at step {divergence['step']} (line {divergence['line']}): {divergence['reason']}"
    )
    if divergence["action"] is not None:
        lines.append(f"  action: {json.dumps(divergence['action'], sort_keys=True)}")
    lines.extend(f"  {difference['text']}" for difference in divergence["differences"])
    return "\n".join(lines)
