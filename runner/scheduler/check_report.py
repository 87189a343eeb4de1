"""``check schedule``'s report: the JSON form of each binding's judgement, the summary and the
exit code, and the human form."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from impl.scheduler.check import Judgement
from runner.exit_codes import ExitCode


def judgement_json(judgement: Judgement) -> dict[str, Any]:
    """One binding: verdict, the rejecting filter, preemption, the score gap."""
    entry: dict[str, Any] = {
        "pod": judgement.pod,
        "node": judgement.node,
        "schedulerName": judgement.scheduler_name,
        "verdict": judgement.verdict,
        "feasible": judgement.verdict in ("ok", "not-top-scoring"),
        "topScoring": judgement.verdict == "ok",
        "feasibleNodes": judgement.feasible_nodes,
        "filter": None,
        "preemption": None,
        "gap": None,
        "message": judgement.message,
        "note": judgement.note,
    }
    if judgement.rejection is not None:
        entry["filter"] = {
            "code": judgement.rejection.code.value,
            "plugin": judgement.rejection.plugin,
            "reasons": list(judgement.rejection.reasons),
        }
        helps = judgement.victims is not None
        entry["preemption"] = {
            "needed": helps,
            "victims": list(judgement.victims or ()),
        }
    if judgement.gap is not None:
        gap = judgement.gap
        entry["gap"] = {
            "points": gap.points,
            "chosenTotal": gap.chosen_total,
            "bestTotal": gap.best_total,
            "bestNodes": list(gap.best_nodes),
            "decidingPlugin": gap.deciding_plugin,
            "bestWeighted": gap.best_weighted,
            "chosenWeighted": gap.chosen_weighted,
        }
    return entry


def check_report(
    judgements: Sequence[Judgement], strict: bool, skipped: Sequence[str] = ()
) -> tuple[dict[str, Any], ExitCode]:
    """The whole report and its exit code: 1 on an infeasible binding, and on a binding that
    is not top-scoring under ``strict``. ``skipped``: pods of the bindings file without a
    node."""
    counts = dict.fromkeys(("ok", "not-top-scoring", "infeasible", "unjudged"), 0)
    for judgement in judgements:
        counts[judgement.verdict] += 1
    failed = counts["infeasible"] > 0 or (strict and counts["not-top-scoring"] > 0)
    report = {
        "bindings": [judgement_json(j) for j in judgements],
        "summary": {
            "total": len(judgements),
            "ok": counts["ok"],
            "notTopScoring": counts["not-top-scoring"],
            "infeasible": counts["infeasible"],
            "unjudged": counts["unjudged"],
            "skipped": len(skipped),
        },
        "skipped": list(skipped),
        "strict": strict,
        "verdict": "fail" if failed else "pass",
    }
    return report, ExitCode.VIOLATION if failed else ExitCode.PASS


def _line(entry: Mapping[str, Any]) -> list[str]:
    head = f"{entry['pod']} -> {entry['node']} ({entry['schedulerName']}): "
    verdict = entry["verdict"]
    if verdict == "ok":
        return [head + "ok, feasible and top-scoring"]
    if verdict == "unjudged":
        return [head + f"not judged: {entry['note']}"]
    if verdict == "not-top-scoring":
        gap = entry["gap"]
        return [
            head + f"WARNING feasible but not top-scoring: total {gap['chosenTotal']}, "
            f"best {gap['bestTotal']} on {', '.join(gap['bestNodes'])} (gap {gap['points']}); "
            f"deciding plugin {gap['decidingPlugin']} ({gap['bestWeighted']} against "
            f"{gap['chosenWeighted']} weighted)"
        ]
    rejection = entry["filter"]
    lines = [
        head + f"INFEASIBLE: {rejection['plugin'] or 'the cluster'} rejects the node "
        f"({rejection['code']}): {'; '.join(rejection['reasons'])}"
    ]
    preemption = entry["preemption"]
    if preemption["needed"]:
        victims = ", ".join(preemption["victims"])
        lines.append(f"    preemption would have been needed on this node: evict {victims}")
    if entry["feasibleNodes"]:
        lines.append(
            f"    kube-scheduler would have bound it without preemption: "
            f"{entry['feasibleNodes']} feasible node(s)"
        )
    elif entry["message"]:
        lines.append(f"    kube-scheduler would report: {entry['message']}")
    return lines


def render_check(report: Mapping[str, Any]) -> str:
    """One line per binding (two or three for an infeasible one), then the summary."""
    lines: list[str] = []
    for entry in report["bindings"]:
        lines += _line(entry)
    summary = report["summary"]
    lines.append(
        f"{summary['total']} bindings: {summary['ok']} ok, {summary['notTopScoring']} not "
        f"top-scoring, {summary['infeasible']} infeasible, {summary['unjudged']} not judged"
        + (f", {summary['skipped']} skipped (not bound)" if summary["skipped"] else "")
        + f" -> {report['verdict'].upper()}"
    )
    return "\n".join(lines)
