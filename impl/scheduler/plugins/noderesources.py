"""NodeResourcesFit (filter and the LeastAllocated / MostAllocated / RequestedToCapacityRatio
scoring strategies) and NodeResourcesBalancedAllocation.

Filter: reasons collected in kube-scheduler's order (``Too many pods``, cpu, memory,
ephemeral-storage, then scalar resources, by name here where Go follows map order). The status
is Unschedulable, or UnschedulableAndUnresolvable when some request exceeds the node's whole
allocatable (v1.34+: preemption cannot help there). The pod's requests include pod-level
resources (PodLevelResources). Scoring: the pod's requests with the non-zero defaults against
the node's non-zero sums for cpu and memory, plain sums otherwise; resources the node does not
offer, and scalar resources the pod does not request, are left out. BalancedAllocation uses
plain requests and skips pods that request none of its resources (v1.32+).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final, final

import msgspec

from impl.scheduler.arithmetic import (
    INTEGERS,
    insufficient,
    least_requested_score,
    most_requested_score,
    requested_to_capacity_ratio_score,
    rounded_weighted_mean_of_positive,
    scaled_shape,
    too_many_pods,
    weighted_mean,
)
from impl.scheduler.framework import (
    PRE_FILTER_SUCCESS,
    SKIP,
    SUCCESS,
    ClusterEvent,
    CycleContext,
    EventKind,
    Plugin,
    PreFilterResult,
    Status,
    unresolvable,
    unschedulable,
)
from impl.scheduler.nodeinfo import NodeInfo
from impl.scheduler.podinfo import PodInfo
from models.scheduling.amounts import (
    CPU,
    EPHEMERAL_STORAGE,
    MEMORY,
    is_extended_resource,
    is_scalar_resource,
)

REASON_TOO_MANY_PODS: Final = "Too many pods"
LEAST_ALLOCATED: Final = "LeastAllocated"
MOST_ALLOCATED: Final = "MostAllocated"
REQUESTED_TO_CAPACITY_RATIO: Final = "RequestedToCapacityRatio"
DEFAULT_RESOURCES: Final = ((CPU, 1), (MEMORY, 1))


@final
class ScoringStrategy(msgspec.Struct, frozen=True, kw_only=True):
    """``NodeResourcesFitArgs.scoringStrategy`` after defaulting."""

    type: str = LEAST_ALLOCATED
    resources: tuple[tuple[str, int], ...] = DEFAULT_RESOURCES
    shape: tuple[tuple[int, int], ...] = ()
    """RequestedToCapacityRatio shape: (utilization 0-100, score 0-10)."""


def insufficient_resources(
    pod: PodInfo,
    node: NodeInfo,
    ignored_resources: frozenset[str] = frozenset(),
    ignored_groups: frozenset[str] = frozenset(),
) -> list[tuple[str, bool]]:
    """``fitsRequest``: every reason the pod does not fit, in kube-scheduler's order, each
    with whether it is unresolvable (the request exceeds the node's allocatable)."""
    reasons: list[tuple[str, bool]] = []
    if too_many_pods(INTEGERS, len(node.pods), node.allowed_pod_number()):
        reasons.append((REASON_TOO_MANY_PODS, False))
    requests = pod.requests
    if not requests:
        return reasons
    requested = node.requested
    for resource in (CPU, MEMORY, EPHEMERAL_STORAGE):
        wanted = requests.get(resource, 0)
        allocatable = node.allocatable(resource)
        if insufficient(INTEGERS, wanted, allocatable, requested.get(resource, 0)):
            reasons.append((f"Insufficient {resource}", wanted > allocatable))
    for resource in sorted(requests.keys()):
        wanted = requests[resource]
        if not is_scalar_resource(resource) or wanted == 0:
            continue
        if is_extended_resource(resource) and (
            resource in ignored_resources or resource.split("/")[0] in ignored_groups
        ):
            continue
        allocatable = node.allocatable(resource)
        if insufficient(INTEGERS, wanted, allocatable, requested.get(resource, 0)):
            reasons.append((f"Insufficient {resource}", wanted > allocatable))
    return reasons


def _scoring_amounts(
    pod: PodInfo, node: NodeInfo, resource: str, *, plain: bool
) -> tuple[int, int]:
    """``calculateResourceAllocatableRequest``: (allocatable, requested after placing the pod);
    (0, 0) means the resource is left out."""
    wanted = (pod.requests if plain else pod.non_zero).get(resource, 0)
    if wanted == 0 and is_scalar_resource(resource):
        return 0, 0
    if resource == CPU:
        used = node.requested.get(CPU, 0) if plain else node.non_zero_cpu
        return node.allocatable(CPU), used + wanted
    if resource == MEMORY:
        used = node.requested.get(MEMORY, 0) if plain else node.non_zero_memory
        return node.allocatable(MEMORY), used + wanted
    if resource == EPHEMERAL_STORAGE or resource in node.view.allocatable:
        return node.allocatable(resource), node.requested.get(resource, 0) + wanted
    return 0, 0


def resource_score(strategy: ScoringStrategy, pod: PodInfo, node: NodeInfo) -> int:
    """The NodeResourcesFit score of one node under a scoring strategy."""
    entries: list[tuple[int, int, bool]] = []
    for resource, weight in strategy.resources:
        allocatable, requested = _scoring_amounts(pod, node, resource, plain=False)
        if strategy.type == LEAST_ALLOCATED:
            score = least_requested_score(INTEGERS, requested, allocatable)
        elif strategy.type == MOST_ALLOCATED:
            score = most_requested_score(INTEGERS, requested, allocatable)
        else:
            shape = scaled_shape(strategy.shape)
            score = requested_to_capacity_ratio_score(INTEGERS, shape, requested, allocatable)
        entries.append((score, weight, allocatable != 0))
    if strategy.type == REQUESTED_TO_CAPACITY_RATIO:
        return rounded_weighted_mean_of_positive(INTEGERS, entries)
    return weighted_mean(INTEGERS, entries)


@final
class NodeResourcesFit(Plugin):
    """PreFilter, Filter, PreScore and Score of NodeResourcesFit."""

    name = "NodeResourcesFit"

    def filter_memo_key(self, context: CycleContext) -> object | None:
        return ()

    def score_memo_key(self, context: CycleContext) -> object | None:
        return ()

    def __init__(
        self,
        strategy: ScoringStrategy | None = None,
        ignored_resources: frozenset[str] = frozenset(),
        ignored_groups: frozenset[str] = frozenset(),
    ) -> None:
        self.strategy = strategy if strategy is not None else ScoringStrategy()
        self.ignored_resources = ignored_resources
        self.ignored_groups = ignored_groups

    def pre_filter(self, context: CycleContext) -> PreFilterResult:
        return PRE_FILTER_SUCCESS

    def filter(self, context: CycleContext, node: NodeInfo) -> Status:
        found = insufficient_resources(
            context.pod, node, self.ignored_resources, self.ignored_groups
        )
        if not found:
            return SUCCESS
        reasons = tuple(reason for reason, _ in found)
        if any(unresolvable_reason for _, unresolvable_reason in found):
            return unresolvable(*reasons)
        return unschedulable(*reasons)

    def cluster_events(self) -> frozenset[EventKind]:
        return frozenset({EventKind.ASSIGNED_POD_DELETE, EventKind.NODE_ADD, EventKind.NODE_UPDATE})

    def queueing_hint(self, event: ClusterEvent, pod: PodInfo) -> bool:
        if event.kind is EventKind.ASSIGNED_POD_DELETE:
            return True
        node = event.node
        if node is None:
            return False
        empty = NodeInfo(view=node.view, name=node.name)
        if insufficient_resources(pod, empty, self.ignored_resources, self.ignored_groups):
            return False
        old = event.old_node
        if old is None:
            return True
        return _more_room(pod, old, node)

    def pre_score(self, context: CycleContext, nodes: Sequence[NodeInfo]) -> Status:
        return SUCCESS

    def score(self, context: CycleContext, node: NodeInfo) -> int:
        return resource_score(self.strategy, context.pod, node)


def balanced_score(fractions: Sequence[float]) -> int:
    """``balancedResourceScorer``: 100 * (1 - standard deviation of the capped fractions)."""
    std = 0.0
    if len(fractions) == 2:
        std = abs((fractions[0] - fractions[1]) / 2)
    elif len(fractions) > 2:
        mean = sum(fractions) / len(fractions)
        total = 0.0
        for fraction in fractions:
            total = total + (fraction - mean) * (fraction - mean)
        std = math.sqrt(total / len(fractions))
    return int((1 - std) * 100)


def _more_room(pod: PodInfo, old: NodeInfo, new: NodeInfo) -> bool:
    """``haveAnyRequestedResourcesIncreased``: more pods allowed, or more of a requested
    resource allocatable."""
    if new.allowed_pod_number() > old.allowed_pod_number():
        return True
    return any(
        value > 0 and new.allocatable(name) > old.allocatable(name)
        for name, value in pod.requests.items()
    )


@final
class NodeResourcesBalancedAllocation(Plugin):
    """Score: favours nodes whose resource fractions stay close to each other."""

    name = "NodeResourcesBalancedAllocation"

    def score_memo_key(self, context: CycleContext) -> object | None:
        return ()

    def __init__(self, resources: tuple[tuple[str, int], ...] = DEFAULT_RESOURCES) -> None:
        self.resources = resources

    def pre_score(self, context: CycleContext, nodes: Sequence[NodeInfo]) -> Status:
        requests = context.pod.requests
        if all(requests.get(resource, 0) == 0 for resource, _ in self.resources):
            return SKIP
        return SUCCESS

    def score(self, context: CycleContext, node: NodeInfo) -> int:
        fractions: list[float] = []
        for resource, _ in self.resources:
            allocatable, requested = _scoring_amounts(context.pod, node, resource, plain=True)
            if allocatable == 0:
                continue
            fraction = float(requested) / float(allocatable)
            fractions.append(min(fraction, 1.0))
        return balanced_score(fractions)
