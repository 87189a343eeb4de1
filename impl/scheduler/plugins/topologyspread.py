"""PodTopologySpread: DoNotSchedule constraints as a filter (skew = matching pods in the
node's domain + self match - global minimum, compared with maxSkew; minDomains forces the
minimum to 0), ScheduleAnyway constraints as a score (``ln(domains + 2)``-weighted counts,
normalized so that emptier domains score higher).

Counting follows kube-scheduler: only nodes carrying every constraint's topologyKey that pass
the node inclusion policies (nodeAffinityPolicy default Honor, nodeTaintsPolicy default Ignore)
count; only pods in the incoming pod's namespace, not terminating, matching the selector (with
matchLabelKeys folded in) are counted. A pod without constraints gets the default constraints
(system defaults: hostname maxSkew 3 and zone maxSkew 5, both ScheduleAnyway) with the selector
of the Services selecting it and of its controlling ReplicationController, ReplicaSet or
StatefulSet (``helper.DefaultSelector``); without such a selector it gets none.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final, final

import msgspec

from impl.scheduler.arithmetic import INTEGERS, spread_normalize_score
from impl.scheduler.framework import (
    POD_AND_NODE_EVENTS,
    PRE_FILTER_SKIP,
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
from impl.scheduler.podinfo import PodInfo, SpreadConstraint
from impl.scheduler.snapshot import Selecting
from models.scheduling.matching import SCHEDULE_BLOCKING, first_untolerated
from models.selectors import Requirement, Selector

REASON_MISSING_LABEL: Final = (
    "node(s) didn't match pod topology spread constraints (missing required label)"
)
REASON_SKEW: Final = "node(s) didn't match pod topology spread constraints"
HOSTNAME_LABEL: Final = "kubernetes.io/hostname"
ZONE_LABEL: Final = "topology.kubernetes.io/zone"
MAX_INT32: Final = 2**31 - 1
DO_NOT_SCHEDULE: Final = "DoNotSchedule"
SCHEDULE_ANYWAY: Final = "ScheduleAnyway"
SYSTEM_DEFAULTS: Final = ((3, HOSTNAME_LABEL), (5, ZONE_LABEL))


def default_selector(pod: PodInfo, selecting: Sequence[Selecting]) -> Selector:
    """``helper.DefaultSelector``: the Services selecting the pod, merged with its controlling
    ReplicationController's map or ReplicaSet's/StatefulSet's selector."""
    requirements: list[Requirement] = []
    for item in selecting:
        same_namespace = item.kind == "Service" and item.namespace == pod.namespace
        if same_namespace and item.selector.matches(pod.labels):
            requirements.extend(item.selector.requirements)
    kind, name = pod.controller
    for item in selecting:
        if item.kind != "Service" and (item.kind, item.name, item.namespace) == (
            kind,
            name,
            pod.namespace,
        ):
            requirements.extend(item.selector.requirements)
    return Selector().with_requirements(*requirements)


def count_matching(pods: Sequence[PodInfo], selector: Selector, namespace: str) -> int:
    """``countPodsMatchSelector``: same namespace, not terminating, labels match."""
    count = 0
    for pod in pods:
        if pod.terminating or pod.namespace != namespace:
            continue
        if selector.matches(pod.labels):
            count += 1
    return count


def node_included(
    constraint: SpreadConstraint, pod: PodInfo, node: NodeInfo, comparison_operators: bool
) -> bool:
    """``matchNodeInclusionPolicies``."""
    if constraint.honor_node_affinity and not pod.required_affinity.matches(node.name, node.labels):
        return False
    if constraint.honor_node_taints:
        untolerated = first_untolerated(
            node.view.taints,
            pod.tolerations,
            SCHEDULE_BLOCKING,
            comparison_operators=comparison_operators,
        )
        return untolerated is None
    return True


def _has_all_keys(node: NodeInfo, constraints: Sequence[SpreadConstraint]) -> bool:
    labels = node.labels
    return all(c.topology_key in labels for c in constraints)


@final
class _FilterState(msgspec.Struct, frozen=True, kw_only=True):
    constraints: tuple[SpreadConstraint, ...]
    counts: tuple[dict[str, int], ...]
    """Per constraint: matching pods per domain value, over counted nodes."""


def go_round(value: float) -> int:
    """Go's ``math.Round``: halves away from zero."""
    whole = math.trunc(value)
    if abs(value - whole) >= 0.5:
        whole += 1 if value > 0 else -1
    return int(whole)


@final
class _ScoreState(msgspec.Struct, frozen=True, kw_only=True):
    constraints: tuple[SpreadConstraint, ...]
    counts: tuple[dict[str, int], ...]
    weights: tuple[float, ...]
    ignored: frozenset[str]


@final
class PodTopologySpread(Plugin):
    """PreFilter, Filter, PreScore, Score and NormalizeScore of PodTopologySpread."""

    name = "PodTopologySpread"

    def __init__(
        self,
        defaulting_type: str = "System",
        default_constraints: tuple[tuple[int, str, str], ...] = (),
        comparison_operators: bool = False,
    ) -> None:
        """``default_constraints``: (maxSkew, topologyKey, whenUnsatisfiable) for List
        defaulting."""
        self.system_defaulted = defaulting_type == "System"
        self.defaults = (
            tuple((skew, key, SCHEDULE_ANYWAY) for skew, key in SYSTEM_DEFAULTS)
            if self.system_defaulted
            else default_constraints
        )
        self.comparison_operators = comparison_operators

    def _constraints(self, context: CycleContext, when: str) -> tuple[SpreadConstraint, ...]:
        pod = context.pod
        if pod.spread_constraints:
            return tuple(c for c in pod.spread_constraints if c.when_unsatisfiable == when)
        wanted = [(skew, key) for skew, key, kind in self.defaults if kind == when]
        if not wanted:
            return ()
        selector = default_selector(pod, context.snapshot.selecting)
        if selector.is_empty():
            return ()
        return tuple(
            SpreadConstraint(
                max_skew=skew, topology_key=key, when_unsatisfiable=when, selector=selector
            )
            for skew, key in wanted
        )

    def pre_filter(self, context: CycleContext) -> PreFilterResult:
        pod = context.pod
        constraints = self._constraints(context, DO_NOT_SCHEDULE)
        if not constraints:
            return PRE_FILTER_SKIP
        counts: tuple[dict[str, int], ...] = tuple({} for _ in constraints)
        for node in context.snapshot.in_order():
            if not _has_all_keys(node, constraints):
                continue
            for index, constraint in enumerate(constraints):
                if not node_included(constraint, pod, node, self.comparison_operators):
                    continue
                value = node.labels[constraint.topology_key]
                matched = count_matching(node.pods, constraint.selector, pod.namespace)
                counts[index][value] = counts[index].get(value, 0) + matched
        context.state[self.name] = _FilterState(constraints=constraints, counts=counts)
        return PRE_FILTER_SUCCESS

    def filter(self, context: CycleContext, node: NodeInfo) -> Status:
        state = context.state[self.name]
        assert isinstance(state, _FilterState)
        pod = context.pod
        for constraint, domain_counts in zip(state.constraints, state.counts, strict=True):
            value = node.labels.get(constraint.topology_key)
            if value is None:
                return unresolvable(REASON_MISSING_LABEL)
            global_min = min(domain_counts.values(), default=MAX_INT32)
            if len(domain_counts) < constraint.min_domains:
                global_min = 0
            self_match = 1 if constraint.selector.matches(pod.labels) else 0
            skew = domain_counts.get(value, 0) + self_match - global_min
            if skew > constraint.max_skew:
                return unschedulable(REASON_SKEW)
        return SUCCESS

    def pre_score(self, context: CycleContext, nodes: Sequence[NodeInfo]) -> Status:
        pod = context.pod
        constraints = self._constraints(context, SCHEDULE_ANYWAY)
        if not constraints or not nodes:
            return SKIP
        # nodes lacking a key are ignored only for explicit (or listed default) constraints
        require_all = bool(pod.spread_constraints) or not self.system_defaulted
        counts: tuple[dict[str, int], ...] = tuple({} for _ in constraints)
        ignored: set[str] = set()
        for node in nodes:
            if require_all and not _has_all_keys(node, constraints):
                ignored.add(node.name)
                continue
            for index, constraint in enumerate(constraints):
                key = constraint.topology_key
                if key != HOSTNAME_LABEL:
                    counts[index].setdefault(node.labels.get(key, ""), 0)
        weights = tuple(
            math.log(
                (len(nodes) - len(ignored) if c.topology_key == HOSTNAME_LABEL else len(n)) + 2
            )
            for c, n in zip(constraints, counts, strict=True)
        )
        for node in context.snapshot.in_order():
            if require_all and not _has_all_keys(node, constraints):
                continue
            for index, constraint in enumerate(constraints):
                if not node_included(constraint, pod, node, self.comparison_operators):
                    continue
                value = node.labels.get(constraint.topology_key, "")
                if value not in counts[index]:
                    continue
                matched = count_matching(node.pods, constraint.selector, pod.namespace)
                counts[index][value] += matched
        context.state[self.name + "/score"] = _ScoreState(
            constraints=constraints, counts=counts, weights=weights, ignored=frozenset(ignored)
        )
        return SUCCESS

    def score(self, context: CycleContext, node: NodeInfo) -> int:
        state = context.state[self.name + "/score"]
        assert isinstance(state, _ScoreState)
        if node.name in state.ignored:
            return 0
        total = 0.0
        namespace = context.pod.namespace
        for constraint, domain_counts, weight in zip(
            state.constraints, state.counts, state.weights, strict=True
        ):
            value = node.labels.get(constraint.topology_key)
            if value is None:
                continue
            if constraint.topology_key == HOSTNAME_LABEL:
                count = count_matching(node.pods, constraint.selector, namespace)
            else:
                count = domain_counts[value]
            total += float(count) * weight + float(constraint.max_skew - 1)
        return go_round(total)

    def normalize_score(
        self, context: CycleContext, nodes: Sequence[NodeInfo], scores: list[int]
    ) -> list[int]:
        state = context.state[self.name + "/score"]
        assert isinstance(state, _ScoreState)
        ignored = [node.name in state.ignored for node in nodes]
        return spread_normalize_score(INTEGERS, scores, ignored)

    def cluster_events(self) -> frozenset[EventKind]:
        return POD_AND_NODE_EVENTS | {EventKind.NODE_DELETE}

    def queueing_hint(self, event: ClusterEvent, pod: PodInfo) -> bool:
        other = event.pod
        if other is None:
            return True
        if other.namespace != pod.namespace:
            return False
        return any(c.selector.matches(other.labels) for c in pod.spread_constraints)
