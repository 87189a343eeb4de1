"""``schedule_one``: one full scheduling attempt for one pod (the cycle, then PostFilter when no
node fits), and the per-node report of it in the shape ``kubeoracle schedule -o json`` prints.
"""

from __future__ import annotations

from typing import Any, final

import msgspec

from impl.scheduler.cycle import CycleResult, fit_error_message, run_cycle
from impl.scheduler.framework import Code, Status
from impl.scheduler.memo import Memo
from impl.scheduler.nodeinfo import PodInfo, Snapshot
from impl.scheduler.preemption import PreemptionOutcome, preempt
from impl.scheduler.profile import PREEMPTION, Profile
from models.scheduling import NodeVerdict, SchedulingStep


@final
class ScheduleOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """A cycle's result with its PostFilter outcome and the FailedScheduling message."""

    cycle: CycleResult
    post_filter: PreemptionOutcome | None
    message: str
    """Empty when some node is feasible."""


def schedule_one(
    profile: Profile,
    snapshot: Snapshot,
    pod: PodInfo,
    *,
    start_index: int = 0,
    preemption_offset: int = 0,
    memo: Memo | None = None,
    detailed: bool = True,
) -> ScheduleOutcome:
    """Schedule ``pod`` against ``snapshot`` with ``profile``; no state changes here. ``memo``
    (owned by the caller) only saves work; ``detailed`` keeps per-plugin scores."""
    cycle, _ = run_cycle(profile, snapshot, pod, start_index, memo, detailed=detailed)
    if cycle.feasible:
        return ScheduleOutcome(cycle=cycle, post_filter=None, message="")
    post_filter: PreemptionOutcome | None = None
    post_message = ""
    if PREEMPTION in profile.post_filter and cycle.node_count > 0:
        post_filter = preempt(profile, snapshot, pod, cycle, preemption_offset)
        post_message = post_filter.message
    if cycle.node_count == 0:
        message = "no nodes available to schedule pods"
    else:
        message = fit_error_message(cycle.node_count, cycle, post_message)
    return ScheduleOutcome(cycle=cycle, post_filter=post_filter, message=message)


def _filter_json(status: Status) -> dict[str, Any]:
    return {"code": status.code.value, "plugin": status.plugin, "reasons": list(status.reasons)}


def outcome_report(outcome: ScheduleOutcome) -> dict[str, Any]:
    """The JSON report: ``nodes.<name>.filter.{code,plugin,reasons}``,
    ``nodes.<name>.scores.<Plugin>.{raw,normalized,weighted}``, ``nodes.<name>.total``,
    ``feasible``, ``selected`` (the top-scoring set), ``postFilter`` and ``message``."""
    cycle = outcome.cycle
    nodes: dict[str, Any] = {}
    for name, status in cycle.statuses:
        nodes[name] = {"filter": _filter_json(status), "scores": {}, "total": None}
    totals = dict(cycle.totals)
    for name, scores in cycle.scores:
        nodes[name] = {
            "filter": _filter_json(Status(code=Code.SUCCESS)),
            "scores": {
                score.plugin: {
                    "raw": score.raw,
                    "normalized": score.normalized,
                    "weighted": score.weighted,
                }
                for score in scores
            },
            "total": totals[name],
        }
    post_filter: dict[str, Any] | None = None
    if outcome.post_filter is not None:
        post_filter = {
            "nominatedNode": outcome.post_filter.nominated_node or None,
            "victims": list(outcome.post_filter.victims),
            "message": outcome.post_filter.message,
        }
    return {
        "pod": cycle.pod,
        "profile": cycle.profile,
        "nodeCount": cycle.node_count,
        "evaluatedNodes": len(nodes),
        "preFilter": _filter_json(cycle.pre_filter_status) if cycle.pre_filter_status else None,
        "nodes": nodes,
        "feasible": list(cycle.feasible),
        "selected": list(cycle.top),
        "postFilter": post_filter,
        "message": outcome.message,
    }


def binding_step(
    snapshot: Snapshot, pod: PodInfo, outcome: ScheduleOutcome, node: str
) -> SchedulingStep:
    """The spec's view of binding ``pod`` to ``node`` after ``outcome``."""
    totals = dict(outcome.cycle.totals)
    verdicts = [
        NodeVerdict(node=name, code=status.code.value) for name, status in outcome.cycle.statuses
    ]
    verdicts += [
        NodeVerdict(node=name, code="Success", total=totals[name] if len(totals) > 1 else None)
        for name in outcome.cycle.feasible
    ]
    infos = snapshot.in_order()
    return SchedulingStep(
        nodes=tuple(info.node for info in infos),
        pods_before=tuple(p.pod for info in infos for p in info.pods),
        pod=msgspec.structs.replace(pod.pod, node_name=node),
        verdicts=tuple(verdicts),
        namespaces=snapshot.namespaces,
    )
