"""DefaultPreemption (PostFilter): when no node fits, find nodes where evicting lower-priority
pods makes room, pick one, and name the victims.

Steps (``pkg/scheduler/framework/preemption``, ``plugins/defaultpreemption``):
1. eligibility: ``preemptionPolicy: Never`` pods do not preempt;
2. candidates: only nodes whose filter status was Unschedulable (UnschedulableAndUnresolvable
   is "Preemption is not helpful for scheduling");
3. per candidate (from ``offset``, up to ``max(10% of nodes, 100)``): remove every pod of lower
   priority, re-run PreFilter and Filter; if the pod fits, reprieve victims from the most
   important down (priority, then earlier start), keeping each one that still lets the pod fit;
4. pick: fewest PodDisruptionBudget violations (victims that violate a budget are reprieved
   first), lowest highest-victim priority, smallest sum of
   (priority + 2^31), fewest victims, latest earliest start among the top-priority victims,
   then the first in scan order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, final

import msgspec

from impl.scheduler.cycle import CycleResult, run_filters, run_pre_filter
from impl.scheduler.framework import Code, CycleContext, Status, unresolvable
from impl.scheduler.nodeinfo import NodeInfo
from impl.scheduler.podinfo import PodInfo
from impl.scheduler.profile import Profile
from impl.scheduler.snapshot import Snapshot
from models.k8s.policy import PodDisruptionBudget
from models.scheduling.cluster import metadata_of
from models.scheduling.matching import compile_selector

NOT_HELPFUL: Final = "Preemption is not helpful for scheduling"
NO_VICTIMS: Final = "No preemption victims found for incoming pod"
NEVER: Final = "not eligible due to preemptionPolicy=Never."
WAITING: Final = "not eligible due to a terminating pod on the nominated node."
LATEST_TIME: Final = "9999-12-31T23:59:59Z"


@final
class PreemptionOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """The PostFilter result: a nominated node and its victims, or why there is none."""

    nominated_node: str = ""
    victims: tuple[str, ...] = ()
    """``namespace/name`` of the pods to evict, most important first."""
    message: str = ""
    """The PostFilter message kube-scheduler appends to the FailedScheduling event."""
    candidates: tuple[str, ...] = ()


def _start_time(pod: PodInfo) -> str:
    return pod.start_time or LATEST_TIME


def more_important(left: PodInfo, right: PodInfo) -> bool:
    """``MoreImportantPod``: higher priority, then earlier start."""
    if left.priority != right.priority:
        return left.priority > right.priority
    return _start_time(left) < _start_time(right)


def terminating_by_preemption(pod: PodInfo) -> bool:
    """``podTerminatingByPreemption``: being deleted with a DisruptionTarget condition whose
    reason is PreemptionByScheduler."""
    if not pod.terminating:
        return False
    return any(
        condition.type == "DisruptionTarget" and condition.reason == "PreemptionByScheduler"
        for condition in pod.pod.pod_status.conditions or ()
    )


def _waiting_for_victims(snapshot: Snapshot, pod: PodInfo, failed: dict[str, Status]) -> bool:
    """``PodEligibleToPreemptOthers``: a pod already nominated to a node where lower-priority
    pods are terminating by preemption waits for them (unless that node is now unresolvable)."""
    name = pod.nominated_node_name
    if not name or not snapshot.has_node(name):
        return False
    status = failed.get(name)
    if status is not None and status.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
        return False
    return any(
        other.priority < pod.priority and terminating_by_preemption(other)
        for other in snapshot.node(name).pods
    )


def _importance_order(victims: Sequence[PodInfo]) -> list[PodInfo]:
    ordered: list[PodInfo] = []
    for info in victims:  # stable insertion sort: victims per node are few
        position = len(ordered)
        while position > 0 and more_important(info, ordered[position - 1]):
            position -= 1
        ordered.insert(position, info)
    return ordered


def _fits(profile: Profile, snapshot: Snapshot, pod: PodInfo, node: NodeInfo) -> Status:
    """Re-run PreFilter (on the changed snapshot) and Filter for one node."""
    trial = snapshot.with_node(node)
    context = CycleContext(pod, trial)
    outcome = run_pre_filter(profile, context)
    if outcome.rejection is not None:
        return outcome.rejection
    if outcome.allowed is not None and node.name not in outcome.allowed:
        return unresolvable(NOT_HELPFUL)
    return run_filters(profile, context, node, outcome.skipped)


def split_by_budget_violation(
    victims: Sequence[PodInfo], budgets: Sequence[PodDisruptionBudget]
) -> tuple[list[PodInfo], list[PodInfo]]:
    """``filterPodsWithPDBViolation``: walking the victims in order, each matching budget
    (same namespace, non-empty selector selecting the pod, pod not already disrupted) loses one
    allowed disruption; a pod that takes a budget below zero violates it."""
    compiled = [
        (
            metadata_of(budget).namespace or "default",
            compile_selector(budget.spec.selector if budget.spec is not None else None),
            frozenset((budget.status.disrupted_pods or {}) if budget.status is not None else ()),
        )
        for budget in budgets
    ]
    allowed = [
        (budget.status.disruptions_allowed or 0) if budget.status is not None else 0
        for budget in budgets
    ]
    violating: list[PodInfo] = []
    fine: list[PodInfo] = []
    for pod in victims:
        violated = False
        if pod.labels:
            for index, (namespace, selector, disrupted) in enumerate(compiled):
                if namespace != pod.namespace or selector.is_empty():
                    continue
                if not selector.matches(pod.labels) or pod.name in disrupted:
                    continue
                allowed[index] -= 1
                if allowed[index] < 0:
                    violated = True
        (violating if violated else fine).append(pod)
    return violating, fine


def select_victims(
    profile: Profile, snapshot: Snapshot, pod: PodInfo, node: NodeInfo
) -> tuple[list[PodInfo] | None, int, Status]:
    """``SelectVictimsOnNode``: the victims on one node and how many of them violate a
    PodDisruptionBudget, or the status saying why the node does not help."""
    lower = [info for info in node.pods if info.priority < pod.priority]
    if not lower:
        return None, 0, unresolvable(NO_VICTIMS)
    lower_keys = frozenset(info.key for info in lower)
    trial = node.without_pods(lower_keys, -1)
    status = _fits(profile, snapshot, pod, trial)
    if status.code is not Code.SUCCESS:
        return None, 0, status
    victims: list[PodInfo] = []
    violations = 0
    violating, fine = split_by_budget_violation(_importance_order(lower), snapshot.budgets)
    for group, counts in ((violating, 1), (fine, 0)):
        for info in group:
            candidate = trial.with_pod(info, -1)
            if _fits(profile, snapshot, pod, candidate).code is Code.SUCCESS:
                trial = candidate
            else:
                victims.append(info)
                violations += counts
    return victims, violations, status


def _earliest_top_start(victims: Sequence[PodInfo]) -> str:
    top = max(info.priority for info in victims)
    return min(_start_time(info) for info in victims if info.priority == top)


Candidate = tuple[str, list[PodInfo], int]
"""A node, its victims (most important first) and how many of them violate a budget."""


def pick_one_node(candidates: Sequence[Candidate]) -> str:
    """``pickOneNodeForPreemption``: fewest budget violations, lowest highest-victim priority,
    smallest sum of (priority + 2^31), fewest victims, latest start among the most important
    victims, then the first candidate."""
    for name, victims, _ in candidates:
        if not victims:
            return name
    remaining = list(candidates)
    criteria = (
        lambda c: -c[2],
        lambda c: -max(info.priority for info in c[1]),
        lambda c: -sum(info.priority + 2**31 for info in c[1]),
        lambda c: -len(c[1]),
    )
    for criterion in criteria:
        best = max(criterion(candidate) for candidate in remaining)
        remaining = [candidate for candidate in remaining if criterion(candidate) == best]
        if len(remaining) == 1:
            return remaining[0][0]
    latest = max(_earliest_top_start(c[1]) for c in remaining)
    remaining = [c for c in remaining if _earliest_top_start(c[1]) == latest]
    return remaining[0][0]


def _not_found(statuses: Sequence[Status], node_count: int) -> str:
    histogram: dict[str, int] = {}
    for status in statuses:
        for reason in status.reasons:
            histogram[reason] = histogram.get(reason, 0) + 1
    entries = ", ".join(sorted(f"{count} {reason}" for reason, count in histogram.items()))
    return f"preemption: 0/{node_count} nodes are available: {entries}."


def preempt(
    profile: Profile, snapshot: Snapshot, pod: PodInfo, result: CycleResult, offset: int = 0
) -> PreemptionOutcome:
    """DefaultPreemption's PostFilter after a cycle that found no feasible node."""
    if pod.preemption_policy == "Never":
        return PreemptionOutcome(message=f"preemption: {NEVER}")
    failed = dict(result.statuses)
    if _waiting_for_victims(snapshot, pod, failed):
        return PreemptionOutcome(message=f"preemption: {WAITING}")
    nodes = snapshot.in_order()
    potential = [
        n
        for n in nodes
        if failed.get(n.name, Status(code=Code.UNSCHEDULABLE)).code
        is not Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    ]
    statuses: dict[str, Status] = {
        n.name: unresolvable(NOT_HELPFUL) for n in nodes if n not in potential
    }
    if not potential:
        return PreemptionOutcome(message=_not_found(list(statuses.values()), len(statuses)))
    args = profile.preemption
    wanted = max(
        len(potential) * args.min_candidate_nodes_percentage // 100,
        args.min_candidate_nodes_absolute,
    )
    wanted = min(wanted, len(potential))
    non_violating: list[Candidate] = []
    violating: list[Candidate] = []
    for step in range(len(potential)):
        node = potential[(offset + step) % len(potential)]
        victims, violations, status = select_victims(profile, snapshot, pod, node)
        if victims is None:
            statuses[node.name] = status
            continue
        (violating if violations else non_violating).append((node.name, victims, violations))
        if non_violating and len(non_violating) + len(violating) >= wanted:
            break
    candidates = non_violating + violating
    if not candidates:
        return PreemptionOutcome(message=_not_found(list(statuses.values()), len(statuses)))
    chosen = pick_one_node(candidates)
    victims = next(c[1] for c in candidates if c[0] == chosen)
    return PreemptionOutcome(
        nominated_node=chosen,
        victims=tuple(info.key for info in victims),
        candidates=tuple(c[0] for c in candidates),
    )
