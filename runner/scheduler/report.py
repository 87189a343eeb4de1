"""The human form of the scheduler's reports: filter verdicts, the score arithmetic (weight,
raw, normalized, weighted, total) and a queue run's attempts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

SCORE_HEADER: Final = (
    "scores: NormalizeScore maps each plugin's raw score to 0-100, weighted = normalized x "
    "weight, total = sum of weighted"
)


def table(rows: Sequence[Sequence[str]], right: frozenset[int] = frozenset()) -> list[str]:
    """Rows as aligned columns (``right``: column indexes aligned to the right)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [
            cell.rjust(width) if index in right else cell.ljust(width)
            for index, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return lines


def _filter_rows(nodes: Mapping[str, Any]) -> list[str]:
    rows = [["NODE", "FILTER", "PLUGIN", "REASONS"]]
    for name in sorted(nodes):
        verdict = nodes[name]["filter"]
        rows.append(
            [name, verdict["code"], verdict["plugin"] or "-", "; ".join(verdict["reasons"])]
        )
    return table(rows)


def score_rows(nodes: Mapping[str, Any]) -> list[str]:
    """One row per node and score plugin, then the node's total."""
    scored = [name for name in sorted(nodes) if nodes[name]["total"] is not None]
    if not scored or not any(nodes[name]["scores"] for name in scored):
        return []
    rows = [["NODE", "PLUGIN", "WEIGHT", "RAW", "NORMALIZED", "WEIGHTED"]]
    for name in scored:
        first = True
        for plugin, score in nodes[name]["scores"].items():
            rows.append(
                [
                    name if first else "",
                    plugin,
                    str(score["weight"]),
                    str(score["raw"]),
                    str(score["normalized"]),
                    str(score["weighted"]),
                ]
            )
            first = False
        rows.append(["", "total", "", "", "", str(nodes[name]["total"])])
    return [SCORE_HEADER, *table(rows, right=frozenset({2, 3, 4, 5}))]


def render_report(report: Mapping[str, Any]) -> str:
    """The single-pod report as tables."""
    lines = [
        f"pod {report['pod']} (profile {report['profile']}), {report['nodeCount']} nodes, "
        f"kube-scheduler {report['kubernetesVersion']}"
    ]
    nodes: Mapping[str, Any] = report["nodes"]
    if nodes:
        lines += ["", *_filter_rows(nodes)]
    scores = score_rows(nodes)
    if scores:
        lines += ["", *scores]
    skipped = report["skipped"]
    if skipped["filter"] or skipped["score"]:
        lines.append("")
        if skipped["filter"]:
            lines.append(f"skipped at PreFilter: {', '.join(skipped['filter'])}")
        if skipped["score"]:
            lines.append(f"skipped at PreScore: {', '.join(skipped['score'])}")
    if report["notEvaluated"]:
        lines.append(
            "not evaluated (not modelled, assumed to pass): " + ", ".join(report["notEvaluated"])
        )
    lines += ["", f"feasible: {', '.join(report['feasible']) or '(none)'}"]
    lines.append(f"selected (top-scoring): {', '.join(report['selected']) or '(none)'}")
    post = report["postFilter"]
    if post is not None and post["nominatedNode"]:
        lines.append(
            f"preemption: nominated node {post['nominatedNode']}, "
            f"victims {', '.join(post['victims'])}"
        )
    if report["message"]:
        lines.append(f"FailedScheduling: {report['message']}")
    return "\n".join(lines)


def render_queue(report: Mapping[str, Any]) -> str:
    """The queue run as one line per attempt."""
    lines = []
    for attempt in report["attempts"]:
        if attempt["node"]:
            lines.append(f"{attempt['timeMs']:>7}ms  {attempt['pod']} -> {attempt['node']}")
            continue
        extra = ""
        if attempt["nominatedNode"]:
            victims = ", ".join(attempt["victims"])
            extra = f" (nominated {attempt['nominatedNode']}, evicting {victims})"
        lines.append(
            f"{attempt['timeMs']:>7}ms  {attempt['pod']} unschedulable: {attempt['message']}{extra}"
        )
    if report["unscheduled"]:
        lines.append(f"unscheduled: {', '.join(report['unscheduled'])}")
    return "\n".join(lines)
