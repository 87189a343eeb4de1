"""Properties of one binding (:class:`models.scheduling.SchedulingStep`), written from
kube-scheduler's documented guarantees and independent of ``impl``:

- ``always`` scheduler.bound_pod_passes_filters: the chosen node's verdict is Success and the
  node-local filters hold on it (NodeName, NodeUnschedulable, TaintToleration, NodeAffinity,
  NodeResourcesFit) - scheduling framework docs, "Filter";
- ``always`` scheduler.no_overcommit: after binding, the chosen node's summed requests are within
  allocatable for every requested resource and its pod count within ``allocatable.pods``;
- ``always`` scheduler.bound_total_is_maximal: no scored node has a higher total
  (``selectHost`` picks among the highest);
- ``always`` scheduler.spread_within_max_skew: for each DoNotSchedule topology spread constraint
  of the pod, after binding, its domain's matching count minus the global minimum is at most
  maxSkew (KEP-895; minDomains forces the minimum to 0);
- ``always`` scheduler.anti_affinity_respected: binding adds no pair of pods in one topology
  domain where one's required anti-affinity term selects the other (both directions).

Each has a ``sometimes`` companion showing the guarded situation arises.
"""

from __future__ import annotations

from collections.abc import Iterable

from models.scheduling import (
    LabelSelector,
    Node,
    Pod,
    PodAffinityTerm,
    Requirement,
    SchedulingStep,
    StringMap,
    Taint,
    namespace_labels,
    required_node_affinity_matches,
)
from spec.property import Property

NATIVE = ("cpu", "memory", "ephemeral-storage")


def _add(into: dict[str, int], amounts: Iterable[tuple[str, int]]) -> None:
    for name, value in amounts:
        into[name] = into.get(name, 0) + value


def reference_requests(pod: Pod) -> dict[str, int]:
    """A pod's effective requests (KEP-753): the larger of (regular containers + sidecars) and
    each init container's peak (its own request plus the sidecars started before it), plus
    overhead. Only cpu, memory, ephemeral-storage and domain-prefixed or hugepages resources."""

    def counted(items: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
        return [(n, v) for n, v in items if n in NATIVE or "/" in n or n.startswith("hugepages-")]

    running: dict[str, int] = {}
    for container in pod.containers:
        _add(running, counted(container.requests.items()))
    sidecars: dict[str, int] = {}
    peak: dict[str, int] = {}
    for container in pod.init_containers:
        own = dict(counted(container.requests.items()))
        if container.restartable:
            _add(running, own.items())
            _add(sidecars, own.items())
            moment = dict(sidecars)
        else:
            moment = dict(own)
            _add(moment, sidecars.items())
        for name, value in moment.items():
            peak[name] = max(peak.get(name, 0), value)
    total = {name: max(running.get(name, 0), peak.get(name, 0)) for name in running.keys() | peak}
    _add(total, counted(pod.overhead.items()))
    return total


def _node(step: SchedulingStep) -> Node | None:
    return next((n for n in step.nodes if n.name == step.pod.node_name), None)


def _pods_on(step: SchedulingStep, name: str, *, after: bool) -> list[Pod]:
    pods = [p for p in step.pods_before if p.node_name == name]
    return [*pods, step.pod] if after and step.pod.node_name == name else pods


def _overcommitted(step: SchedulingStep) -> list[str]:
    node = _node(step)
    if node is None:
        return ["the chosen node is not in the cluster"]
    pods = _pods_on(step, node.name, after=True)
    problems = []
    if len(pods) > node.allocatable.get("pods", 0):
        problems.append("pods")
    total: dict[str, int] = {}
    for pod in pods:
        _add(total, reference_requests(pod).items())
    problems += [n for n, v in sorted(total.items()) if v > 0 and v > node.allocatable.get(n, 0)]
    return problems


def _blocking_taint(taint: Taint) -> bool:
    return taint.effect in ("NoSchedule", "NoExecute")


def _tolerated(pod: Pod, taint: Taint) -> bool:
    for toleration in pod.tolerations:
        if toleration.effect and toleration.effect != taint.effect:
            continue
        if toleration.key and toleration.key != taint.key:
            continue
        if toleration.operator == "Exists" or (
            toleration.operator in ("", "Equal") and toleration.value == taint.value
        ):
            return True
    return False


def bound_pod_passes_filters(step: SchedulingStep) -> bool:
    """The chosen node's verdict is Success and node-local filters hold there."""
    node = _node(step)
    pod = step.pod
    if node is None:
        return False
    verdict = next((v for v in step.verdicts if v.node == node.name), None)
    if verdict is None or verdict.code != "Success":
        return False
    cordon = Taint(key="node.kubernetes.io/unschedulable", effect="NoSchedule")
    if node.unschedulable and not _tolerated(pod, cordon):
        return False
    if any(_blocking_taint(t) and not _tolerated(pod, t) for t in node.taints):
        return False
    required = pod.node_affinity.required if pod.node_affinity is not None else None
    if not required_node_affinity_matches(pod.node_selector, required, node):
        return False
    return not _overcommitted(step)


def no_overcommit(step: SchedulingStep) -> bool:
    """After binding, the chosen node holds what it can."""
    return not _overcommitted(step)


def bound_total_is_maximal(step: SchedulingStep) -> bool:
    """The chosen node's total is the highest among scored nodes."""
    totals = {v.node: v.total for v in step.verdicts if v.total is not None}
    if not totals:
        return True
    chosen = totals.get(step.pod.node_name)
    return chosen is not None and all(chosen >= other for other in totals.values())


def _selector(
    pod: Pod, selector: LabelSelector | None, keys: tuple[str, ...]
) -> LabelSelector | None:
    if selector is None:
        return None
    extra = tuple(
        Requirement(key=k, operator="In", values=(pod.labels[k],)) for k in keys if k in pod.labels
    )
    return LabelSelector(
        match_labels=selector.match_labels, match_expressions=(*selector.match_expressions, *extra)
    )


def spread_skews(step: SchedulingStep) -> list[tuple[int, int]]:
    """For each DoNotSchedule constraint whose domain the chosen node belongs to:
    (skew after binding, maxSkew)."""
    pod = step.pod
    node = _node(step)
    constraints = [
        c for c in pod.topology_spread_constraints if c.when_unsatisfiable == "DoNotSchedule"
    ]
    if node is None or not constraints:
        return []
    required = pod.node_affinity.required if pod.node_affinity is not None else None
    results = []
    for constraint in constraints:
        selector = _selector(pod, constraint.label_selector, constraint.match_label_keys)
        counts: dict[str, int] = {}
        for candidate in step.nodes:
            if any(c.topology_key not in candidate.labels for c in constraints):
                continue
            if constraint.node_affinity_policy == "Honor" and not required_node_affinity_matches(
                pod.node_selector, required, candidate
            ):
                continue
            if constraint.node_taints_policy == "Honor" and any(
                _blocking_taint(t) and not _tolerated(pod, t) for t in candidate.taints
            ):
                continue
            value = candidate.labels[constraint.topology_key]
            matching = sum(
                1
                for other in _pods_on(step, candidate.name, after=True)
                if other.namespace == pod.namespace
                and not other.terminating
                and selector is not None
                and selector.matches(other.labels)
            )
            counts[value] = counts.get(value, 0) + matching
        domain = node.labels.get(constraint.topology_key)
        if domain is None or not counts:
            continue
        minimum = 0 if len(counts) < constraint.min_domains else min(counts.values())
        results.append((counts.get(domain, 0) - minimum, constraint.max_skew))
    return results


def spread_within_max_skew(step: SchedulingStep) -> bool:
    """Every DoNotSchedule constraint of the bound pod holds after binding."""
    return all(skew <= max_skew for skew, max_skew in spread_skews(step))


def _term_selects(owner: Pod, term: PodAffinityTerm, other: Pod, labels_of: StringMap) -> bool:
    if term.namespaces or term.namespace_selector is not None:
        in_namespace = other.namespace in term.namespaces or (
            term.namespace_selector is not None and term.namespace_selector.matches(labels_of)
        )
    else:
        in_namespace = other.namespace == owner.namespace
    return (
        in_namespace
        and term.label_selector is not None
        and term.label_selector.matches(other.labels)
    )


def anti_affinity_violations(step: SchedulingStep, *, after: bool) -> set[tuple[str, str]]:
    """Pairs (owner, other) where owner's required anti-affinity selects other in its domain."""
    nodes = {n.name: n for n in step.nodes}
    pods = list(step.pods_before) + ([step.pod] if after else [])
    violations: set[tuple[str, str]] = set()
    for owner in pods:
        anti = owner.pod_anti_affinity
        if anti is None or owner.node_name not in nodes:
            continue
        for term in anti.required:
            value = nodes[owner.node_name].labels.get(term.topology_key)
            if value is None:
                continue
            for other in pods:
                if other is owner or other.node_name not in nodes:
                    continue
                if nodes[other.node_name].labels.get(term.topology_key) != value:
                    continue
                if _term_selects(
                    owner, term, other, namespace_labels(step.namespaces, other.namespace)
                ):
                    violations.add((owner.key, other.key))
    return violations


def anti_affinity_respected(step: SchedulingStep) -> bool:
    """Binding adds no anti-affinity violation."""
    return anti_affinity_violations(step, after=True) <= anti_affinity_violations(step, after=False)


def _filled(step: SchedulingStep) -> bool:
    node = _node(step)
    if node is None:
        return False
    pods = _pods_on(step, node.name, after=True)
    total: dict[str, int] = {}
    for pod in pods:
        _add(total, reference_requests(pod).items())
    return len(pods) == node.allocatable.get("pods", 0) or any(
        v > 0 and v == node.allocatable.get(n, 0) for n, v in total.items()
    )


PROPERTIES: tuple[Property[SchedulingStep], ...] = (
    Property("scheduler.bound_pod_passes_filters", "always", bound_pod_passes_filters),
    Property("scheduler.no_overcommit", "always", no_overcommit),
    Property("scheduler.bound_total_is_maximal", "always", bound_total_is_maximal),
    Property("scheduler.spread_within_max_skew", "always", spread_within_max_skew),
    Property("scheduler.anti_affinity_respected", "always", anti_affinity_respected),
    Property(
        "scheduler.some_node_filtered_out",
        "sometimes",
        lambda step: any(v.code != "Success" for v in step.verdicts),
        "a filter rejected some node",
    ),
    Property("scheduler.node_filled_to_capacity", "sometimes", _filled, "a resource is full"),
    Property(
        "scheduler.scores_differ",
        "sometimes",
        lambda step: len({v.total for v in step.verdicts if v.total is not None}) > 1,
        "nodes were scored with different totals",
    ),
    Property(
        "scheduler.spread_at_max_skew",
        "sometimes",
        lambda step: any(skew == max_skew for skew, max_skew in spread_skews(step)),
        "a spread constraint is exactly at maxSkew",
    ),
    Property(
        "scheduler.anti_affinity_guarded",
        "sometimes",
        lambda step: (
            any(v.code != "Success" for v in step.verdicts)
            and step.pod.pod_anti_affinity is not None
        ),
        "a pod with anti-affinity was bound while some node was rejected",
    ),
)
