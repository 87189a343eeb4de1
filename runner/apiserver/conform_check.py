"""Judging a recorded API server history: the API properties, each object's linearizability,
and the ``sometimes`` companions that show the run exercised what the properties guard.

Verdicts: ``pass`` (exit 0) when nothing is violated, every object is linearizable and every
companion held; ``fail`` (exit 1) on any violation or non-linearizable object; ``inconclusive``
(exit 3) when the search ran out of steps or a companion never held (the run proved little).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from models.apiserver.history import ApiHistory
from runner.exit_codes import ExitCode
from spec.apiserver.properties import SAFETY, unexercised, violations
from spec.apiserver.registers import check_objects


def judge(history: ApiHistory, max_steps: int = 2_000_000) -> tuple[ExitCode, dict[str, Any]]:
    """The exit code and the JSON report."""
    problems = violations(history)
    objects = check_objects(history, max_steps)
    not_linearizable = {
        name: report.violation.explanation if report.violation is not None else report.note
        for name, report in objects.items()
        if report.verdict == "not_linearizable"
    }
    unknown = sorted(name for name, report in objects.items() if report.verdict == "unknown")
    idle = unexercised(history)
    if problems or not_linearizable:
        verdict, code = "fail", ExitCode.VIOLATION
    elif unknown or idle:
        verdict, code = "inconclusive", ExitCode.INCONCLUSIVE
    else:
        verdict, code = "pass", ExitCode.PASS
    report = {
        "verdict": verdict,
        "namespace": history.namespace,
        "operations": len(history.operations),
        "watch_streams": len(history.watches),
        "watch_events": sum(len(stream.events) for stream in history.watches),
        "properties": {
            name: [v.reason for v in problems if v.property_name == name] for name, _ in SAFETY
        },
        "linearizability": {
            "objects": len(objects),
            "not_linearizable": not_linearizable,
            "unknown": unknown,
        },
        "not_exercised": idle,
    }
    return code, report


def summary(report: Mapping[str, Any]) -> str:
    """The human summary of a report."""
    lines = [
        f"conform apiserver: {report['verdict']} ({report['operations']} operations, "
        f"{report['watch_streams']} watches with {report['watch_events']} events, "
        f"namespace {report['namespace']})"
    ]
    for name, reasons in report["properties"].items():
        lines.append(f"  {name}: {'ok' if not reasons else 'VIOLATED'}")
        lines += [f"    - {reason}" for reason in reasons[:5]]
    linear = report["linearizability"]
    lines.append(
        f"  linearizable objects: {linear['objects'] - len(linear['not_linearizable'])}"
        f"/{linear['objects']}"
    )
    for name, why in linear["not_linearizable"].items():
        lines.append(f"    - {name}: {why}")
    if report["not_exercised"]:
        lines.append(f"  not exercised: {', '.join(report['not_exercised'])}")
    return "\n".join(lines)
