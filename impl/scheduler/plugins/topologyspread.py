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
StatefulSet; without such a selector it gets none.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final, final

import msgspec

from impl.scheduler.arithmetic import INTEGERS, spread_normalize_score
from impl.scheduler.framework import (
    PRE_FILTER_SKIP,
    PRE_FILTER_SUCCESS,
    SKIP,
    SUCCESS,
    CycleContext,
    Plugin,
    PreFilterResult,
    Status,
    unresolvable,
    unschedulable,
)
from impl.scheduler.nodeinfo import NodeInfo, PodInfo
from models.scheduling import (
    LabelSelector,
    Node,
    Pod,
    Requirement,
    Selecting,
    TopologySpreadConstraint,
    required_node_affinity_matches,
    tolerations_tolerate,
)

REASON_MISSING_LABEL: Final = (
    "node(s) didn't match pod topology spread constraints (missing required label)"
)
REASON_SKEW: Final = "node(s) didn't match pod topology spread constraints"
HOSTNAME_LABEL: Final = "kubernetes.io/hostname"
MAX_INT32: Final = 2**31 - 1


@final
class Constraint(msgspec.Struct, frozen=True, kw_only=True):
    """A constraint with its selector compiled (None selects nothing)."""

    spec: TopologySpreadConstraint
    selector: LabelSelector | None


SYSTEM_DEFAULT_CONSTRAINTS: Final = (
    TopologySpreadConstraint(
        max_skew=3, topology_key=HOSTNAME_LABEL, when_unsatisfiable="ScheduleAnyway"
    ),
    TopologySpreadConstraint(
        max_skew=5, topology_key="topology.kubernetes.io/zone", when_unsatisfiable="ScheduleAnyway"
    ),
)


def default_selector(pod: Pod, selecting: Sequence[Selecting]) -> LabelSelector | None:
    """``helper.DefaultSelector``: the labels of the Services selecting the pod (and of its
    controlling ReplicationController) plus the selector of its controlling ReplicaSet or
    StatefulSet; None when that selects nothing in particular."""
    labels: dict[str, str] = {}
    requirements: list[Requirement] = []
    for item in selecting:
        if item.kind != "Service" or item.namespace != pod.namespace or not item.labels:
            continue
        if all(pod.labels.get(key) == value for key, value in item.labels.items()):
            labels.update(item.labels)
    kind, name = pod.controller
    for item in selecting:
        if (item.kind, item.name, item.namespace) != (kind, name, pod.namespace):
            continue
        if kind == "ReplicationController":
            labels.update(item.labels)
        elif kind in ("ReplicaSet", "StatefulSet") and item.selector is not None:
            requirements += [
                Requirement(key=key, operator="In", values=(value,))
                for key, value in item.selector.match_labels
            ]
            requirements += item.selector.match_expressions
    if not labels and not requirements:
        return None
    return LabelSelector(
        match_labels=tuple(sorted(labels.items())), match_expressions=tuple(requirements)
    )


def compile_constraints(
    pod: Pod,
    when: str,
    defaults: tuple[TopologySpreadConstraint, ...] = (),
    selecting: Sequence[Selecting] = (),
) -> tuple[Constraint, ...]:
    """``filterTopologySpreadConstraints``: the pod's constraints of one kind, with
    ``matchLabelKeys`` added to the selector as ``key In (pod's value)``; for a pod without
    constraints, the default constraints with the default selector."""
    if not pod.topology_spread_constraints:
        wanted = [spec for spec in defaults if spec.when_unsatisfiable == when]
        if not wanted:
            return ()
        selector = default_selector(pod, selecting)
        if selector is None:
            return ()
        return tuple(Constraint(spec=spec, selector=selector) for spec in wanted)
    compiled: list[Constraint] = []
    for spec in pod.topology_spread_constraints:
        if spec.when_unsatisfiable != when:
            continue
        selector = spec.label_selector
        if selector is not None and spec.match_label_keys:
            extra = tuple(
                Requirement(key=key, operator="In", values=(pod.labels[key],))
                for key in spec.match_label_keys
                if key in pod.labels
            )
            selector = LabelSelector(
                match_labels=selector.match_labels,
                match_expressions=(*selector.match_expressions, *extra),
            )
        compiled.append(Constraint(spec=spec, selector=selector))
    return tuple(compiled)


def count_matching(pods: Sequence[PodInfo], selector: LabelSelector | None, namespace: str) -> int:
    """``countPodsMatchSelector``: same namespace, not terminating, labels match."""
    if selector is None:
        return 0
    count = 0
    for info in pods:
        pod = info.pod
        if pod.terminating or pod.namespace != namespace:
            continue
        if selector.matches(pod.labels):
            count += 1
    return count


def node_included(constraint: TopologySpreadConstraint, pod: Pod, node: Node) -> bool:
    """``matchNodeInclusionPolicies``."""
    if constraint.node_affinity_policy == "Honor":
        required = pod.node_affinity.required if pod.node_affinity is not None else None
        if not required_node_affinity_matches(pod.node_selector, required, node):
            return False
    if constraint.node_taints_policy == "Honor":
        for taint in node.taints:
            if taint.effect in ("NoSchedule", "NoExecute") and not tolerations_tolerate(
                pod.tolerations, taint
            ):
                return False
    return True


def _has_all_keys(node: Node, constraints: Sequence[Constraint]) -> bool:
    return all(c.spec.topology_key in node.labels for c in constraints)


@final
class _FilterState(msgspec.Struct, frozen=True, kw_only=True):
    constraints: tuple[Constraint, ...]
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
    constraints: tuple[Constraint, ...]
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
        default_constraints: tuple[TopologySpreadConstraint, ...] = (),
    ) -> None:
        self.system_defaulted = defaulting_type == "System"
        self.defaults = SYSTEM_DEFAULT_CONSTRAINTS if self.system_defaulted else default_constraints

    def _compile(self, context: CycleContext, when: str) -> tuple[Constraint, ...]:
        return compile_constraints(context.pod.pod, when, self.defaults, context.snapshot.selecting)

    def pre_filter(self, context: CycleContext) -> PreFilterResult:
        pod = context.pod.pod
        constraints = self._compile(context, "DoNotSchedule")
        if not constraints:
            return PRE_FILTER_SKIP
        counts: tuple[dict[str, int], ...] = tuple({} for _ in constraints)
        for node in context.snapshot.in_order():
            if not _has_all_keys(node.node, constraints):
                continue
            for index, constraint in enumerate(constraints):
                if not node_included(constraint.spec, pod, node.node):
                    continue
                value = node.node.labels[constraint.spec.topology_key]
                matched = count_matching(node.pods, constraint.selector, pod.namespace)
                counts[index][value] = counts[index].get(value, 0) + matched
        context.state[self.name] = _FilterState(constraints=constraints, counts=counts)
        return PRE_FILTER_SUCCESS

    def filter(self, context: CycleContext, node: NodeInfo) -> Status:
        state = context.state[self.name]
        assert isinstance(state, _FilterState)
        pod = context.pod.pod
        for constraint, domain_counts in zip(state.constraints, state.counts, strict=True):
            value = node.node.labels.get(constraint.spec.topology_key)
            if value is None:
                return unresolvable(REASON_MISSING_LABEL)
            global_min = min(domain_counts.values(), default=MAX_INT32)
            if len(domain_counts) < constraint.spec.min_domains:
                global_min = 0
            selector = constraint.selector
            self_match = 1 if selector is not None and selector.matches(pod.labels) else 0
            skew = domain_counts.get(value, 0) + self_match - global_min
            if skew > constraint.spec.max_skew:
                return unschedulable(REASON_SKEW)
        return SUCCESS

    def pre_score(self, context: CycleContext, nodes: Sequence[NodeInfo]) -> Status:
        pod = context.pod.pod
        constraints = self._compile(context, "ScheduleAnyway")
        if not constraints or not nodes:
            return SKIP
        # nodes lacking a key are ignored only for explicit (or listed default) constraints
        require_all = bool(pod.topology_spread_constraints) or not self.system_defaulted
        counts: tuple[dict[str, int], ...] = tuple({} for _ in constraints)
        ignored: set[str] = set()
        for node in nodes:
            if require_all and not _has_all_keys(node.node, constraints):
                ignored.add(node.name)
                continue
            for index, constraint in enumerate(constraints):
                key = constraint.spec.topology_key
                if key != HOSTNAME_LABEL:
                    counts[index].setdefault(node.node.labels.get(key, ""), 0)
        weights = tuple(
            math.log(
                (len(nodes) - len(ignored) if c.spec.topology_key == HOSTNAME_LABEL else len(n)) + 2
            )
            for c, n in zip(constraints, counts, strict=True)
        )
        for node in context.snapshot.in_order():
            if require_all and not _has_all_keys(node.node, constraints):
                continue
            for index, constraint in enumerate(constraints):
                if not node_included(constraint.spec, pod, node.node):
                    continue
                value = node.node.labels.get(constraint.spec.topology_key, "")
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
        namespace = context.pod.pod.namespace
        for constraint, domain_counts, weight in zip(
            state.constraints, state.counts, state.weights, strict=True
        ):
            value = node.node.labels.get(constraint.spec.topology_key)
            if value is None:
                continue
            if constraint.spec.topology_key == HOSTNAME_LABEL:
                count = count_matching(node.pods, constraint.selector, namespace)
            else:
                count = domain_counts[value]
            total += float(count) * weight + float(constraint.spec.max_skew - 1)
        return go_round(total)

    def normalize_score(
        self, context: CycleContext, nodes: Sequence[NodeInfo], scores: list[int]
    ) -> list[int]:
        state = context.state[self.name + "/score"]
        assert isinstance(state, _ScoreState)
        ignored = [node.name in state.ignored for node in nodes]
        return spread_normalize_score(INTEGERS, scores, ignored)
