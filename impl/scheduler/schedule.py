"""``schedule_one``: one full scheduling attempt for one pod (the cycle, then the PostFilter
plugins when no node fits), and the per-node report of it in the shape ``kubeoracle schedule
-o json`` prints.

PostFilter (``RunPostFilterPlugins``) runs the profile's PostFilter plugins in order:
DynamicResources answers ``no new claims to deallocate`` for a pod without claims, then
DefaultPreemption either nominates a node (success: the FailedScheduling message then has no
PostFilter part) or explains why not; the messages of the plugins that did not succeed are
joined with ``", "`` and follow the filter histogram.
"""

from __future__ import annotations

from typing import Any, final

import msgspec

from impl.scheduler.cycle import CycleResult, fit_error_message, run_cycle
from impl.scheduler.framework import Code, Status
from impl.scheduler.plugins.unmodelled import NO_NEW_CLAIMS
from impl.scheduler.podinfo import PodInfo
from impl.scheduler.preemption import PreemptionOutcome, preempt
from impl.scheduler.profile import DYNAMIC_RESOURCES, PREEMPTION, Profile
from impl.scheduler.results_cache import ResultsCache
from impl.scheduler.snapshot import Snapshot
from models.scheduling.step import NodeVerdict, SchedulingStep


@final
class ScheduleOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """A cycle's result with its PostFilter outcome and the FailedScheduling message."""

    cycle: CycleResult
    post_filter: PreemptionOutcome | None
    message: str
    """Empty when some node is feasible."""


def run_post_filter(
    profile: Profile,
    snapshot: Snapshot,
    pod: PodInfo,
    cycle: CycleResult,
    preemption_offset: int,
) -> tuple[PreemptionOutcome | None, str]:
    """The PostFilter plugins in order: the preemption outcome and the joined message (empty
    when preemption nominated a node)."""
    reasons: list[str] = []
    outcome: PreemptionOutcome | None = None
    for name in profile.post_filter:
        if name == DYNAMIC_RESOURCES:
            reasons.append(NO_NEW_CLAIMS)
        elif name == PREEMPTION:
            outcome = preempt(profile, snapshot, pod, cycle, preemption_offset)
            if outcome.nominated_node:
                return outcome, ""
            reasons.append(outcome.message)
    return outcome, ", ".join(reason for reason in reasons if reason)


def schedule_one(
    profile: Profile,
    snapshot: Snapshot,
    pod: PodInfo,
    *,
    start_index: int = 0,
    preemption_offset: int = 0,
    cache: ResultsCache | None = None,
    detailed: bool = True,
) -> tuple[ScheduleOutcome, ResultsCache]:
    """Schedule ``pod`` against ``snapshot`` with ``profile``; no state changes here. ``cache``
    only saves work (it comes back with this attempt's results); ``detailed`` keeps the
    per-plugin scores."""
    cycle, _, cache = run_cycle(profile, snapshot, pod, start_index, cache, detailed=detailed)
    if cycle.feasible:
        return ScheduleOutcome(cycle=cycle, post_filter=None, message=""), cache
    if cycle.node_count == 0:
        return ScheduleOutcome(
            cycle=cycle, post_filter=None, message="no nodes available to schedule pods"
        ), cache
    post_filter, post_message = run_post_filter(profile, snapshot, pod, cycle, preemption_offset)
    message = fit_error_message(cycle.node_count, cycle, post_message)
    return ScheduleOutcome(cycle=cycle, post_filter=post_filter, message=message), cache


def _filter_json(status: Status) -> dict[str, Any]:
    return {"code": status.code.value, "plugin": status.plugin, "reasons": list(status.reasons)}


def outcome_report(outcome: ScheduleOutcome) -> dict[str, Any]:
    """The JSON report: ``nodes.<name>.filter.{code,plugin,reasons}``,
    ``nodes.<name>.scores.<Plugin>.{weight,raw,normalized,weighted}``, ``nodes.<name>.total``,
    ``feasible``, ``selected`` (the top-scoring set), the skipped and not evaluated plugins,
    ``postFilter`` and ``message``."""
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
                    "weight": score.weight,
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
        "skipped": {
            "filter": sorted(cycle.skipped_filters),
            "score": sorted(cycle.skipped_scores),
        },
        "notEvaluated": list(cycle.not_evaluated),
        "nodes": nodes,
        "feasible": list(cycle.feasible),
        "selected": list(cycle.top),
        "postFilter": post_filter,
        "message": outcome.message,
    }


def binding_step(
    snapshot: Snapshot,
    pod: PodInfo,
    outcome: ScheduleOutcome,
    node: str,
    comparison_operators: bool = False,
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
    bound = msgspec.structs.replace(
        pod.pod, spec=msgspec.structs.replace(pod.pod.pod_spec, node_name=node)
    )
    return SchedulingStep(
        nodes=tuple(info.view.node for info in infos),
        pods_before=tuple(p.pod for info in infos for p in info.pods),
        pod=bound,
        verdicts=tuple(verdicts),
        namespaces=snapshot.namespaces,
        comparison_operators=comparison_operators,
    )
