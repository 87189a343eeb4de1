"""Properties of one binding (:class:`models.scheduling.step.SchedulingStep`), written from
kube-scheduler's documented guarantees over the API objects, independent of ``impl``:

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

Each has a ``sometimes`` companion showing the guarded situation arises. A pod's requests are
computed here from the API's definition (KEP-753 for init and sidecar containers, KEP-2837 for
pod-level requests), not with the scheduler's code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from models.k8s.core.node import Node, Taint
from models.k8s.core.pod import Container, Pod, PodAffinityTerm
from models.scheduling.amounts import amount
from models.scheduling.matching import (
    SCHEDULE_BLOCKING,
    compile_selector,
    namespace_labels,
    required_node_affinity,
    tolerated,
)
from models.scheduling.step import SchedulingStep
from models.selectors import LabelSelector, Operator, Requirement, Selector
from spec.property import Property

NATIVE = ("cpu", "memory", "ephemeral-storage")
CORDON = Taint(key="node.kubernetes.io/unschedulable", effect="NoSchedule")


def _add(into: dict[str, int], amounts: Iterable[tuple[str, int]]) -> None:
    for name, value in amounts:
        into[name] = into.get(name, 0) + value


def _counted(name: str) -> bool:
    return name in NATIVE or "/" in name or name.startswith("hugepages-")


def _container_amounts(container: Container) -> dict[str, int]:
    requests = dict(container.limits().items())
    requests.update(container.requests().items())
    return {name: amount(name, q) for name, q in requests.items() if _counted(name)}


def reference_requests(pod: Pod) -> dict[str, int]:
    """A pod's effective requests: the larger of (regular containers + sidecars) and each init
    container's peak (its own request plus the sidecars started before it); pod-level requests
    for cpu, memory and hugepages replace the containers'; then overhead."""
    spec = pod.pod_spec
    running: dict[str, int] = {}
    for container in spec.containers or ():
        _add(running, _container_amounts(container).items())
    sidecars: dict[str, int] = {}
    peak: dict[str, int] = {}
    for container in spec.init_containers or ():
        own = _container_amounts(container)
        if container.restart_policy == "Always":
            _add(running, own.items())
            _add(sidecars, own.items())
            moment = dict(sidecars)
        else:
            moment = dict(own)
            _add(moment, sidecars.items())
        for name, value in moment.items():
            peak[name] = max(peak.get(name, 0), value)
    total = {name: max(running.get(name, 0), peak.get(name, 0)) for name in running.keys() | peak}
    if spec.resources is not None:
        for name, quantity in (spec.resources.requests or {}).items():
            if name in ("cpu", "memory") or name.startswith("hugepages-"):
                total[name] = amount(name, quantity)
    _add(total, ((n, amount(n, q)) for n, q in (spec.overhead or {}).items() if _counted(n)))
    return total


def _name(item: Node | Pod) -> str:
    return (item.metadata.name if item.metadata is not None else None) or ""


def _node_of(pod: Pod) -> str:
    return pod.pod_spec.node_name or ""


def _labels(item: Node | Pod) -> Mapping[str, str]:
    return item.metadata.label_map() if item.metadata is not None else {}


def _namespace(pod: Pod) -> str:
    return (pod.metadata.namespace if pod.metadata is not None else None) or "default"


def _allocatable(node: Node) -> dict[str, int]:
    status = node.node_status
    found = status.allocatable if status.allocatable is not None else status.capacity
    return {name: amount(name, q) for name, q in (found or {}).items()}


def _chosen(step: SchedulingStep) -> Node | None:
    return next((n for n in step.nodes if _name(n) == _node_of(step.pod)), None)


def _pods_on(step: SchedulingStep, name: str, *, after: bool) -> list[Pod]:
    pods = [p for p in step.pods_before if _node_of(p) == name]
    return [*pods, step.pod] if after and _node_of(step.pod) == name else pods


def _overcommitted(step: SchedulingStep) -> list[str]:
    node = _chosen(step)
    if node is None:
        return ["the chosen node is not in the cluster"]
    pods = _pods_on(step, _name(node), after=True)
    allocatable = _allocatable(node)
    problems = []
    if len(pods) > allocatable.get("pods", 0):
        problems.append("pods")
    total: dict[str, int] = {}
    for pod in pods:
        _add(total, reference_requests(pod).items())
    problems += [n for n, v in sorted(total.items()) if v > 0 and v > allocatable.get(n, 0)]
    return problems


def _untolerated(step: SchedulingStep, pod: Pod, node: Node) -> bool:
    tolerations = pod.pod_spec.tolerations or ()
    operators = step.comparison_operators
    return any(
        taint.effect in SCHEDULE_BLOCKING
        and not tolerated(tolerations, taint, comparison_operators=operators)
        for taint in node.node_spec.taints or ()
    )


def bound_pod_passes_filters(step: SchedulingStep) -> bool:
    """The chosen node's verdict is Success and node-local filters hold there."""
    node = _chosen(step)
    pod = step.pod
    if node is None:
        return False
    verdict = next((v for v in step.verdicts if v.node == _name(node)), None)
    if verdict is None or verdict.code != "Success":
        return False
    tolerations = pod.pod_spec.tolerations or ()
    cordoned = bool(node.node_spec.unschedulable)
    operators = step.comparison_operators
    if cordoned and not tolerated(tolerations, CORDON, comparison_operators=operators):
        return False
    if _untolerated(step, pod, node):
        return False
    if not required_node_affinity(pod.pod_spec).matches(_name(node), _labels(node)):
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
    chosen = totals.get(_node_of(step.pod))
    return chosen is not None and all(chosen >= other for other in totals.values())


def _spread_selector(
    pod: Pod, raw_selector: LabelSelector | None, keys: tuple[str, ...] | None
) -> Selector:
    selector = compile_selector(raw_selector)
    labels = _labels(pod)
    extra = [
        Requirement(key=k, operator=Operator.IN, values=(labels[k],))
        for k in keys or ()
        if k in labels
    ]
    return selector.with_requirements(*extra) if extra and raw_selector is not None else selector


def _domain_counts(step: SchedulingStep, constraint_index: int) -> dict[str, int]:
    pod = step.pod
    constraints = [
        c
        for c in pod.pod_spec.topology_spread_constraints or ()
        if c.when_unsatisfiable == "DoNotSchedule"
    ]
    constraint = constraints[constraint_index]
    selector = _spread_selector(pod, constraint.label_selector, constraint.match_label_keys)
    required = required_node_affinity(pod.pod_spec)
    counts: dict[str, int] = {}
    for candidate in step.nodes:
        labels = _labels(candidate)
        if any((c.topology_key or "") not in labels for c in constraints):
            continue
        honor_affinity = (constraint.node_affinity_policy or "Honor") == "Honor"
        if honor_affinity and not required.matches(_name(candidate), labels):
            continue
        honor_taints = (constraint.node_taints_policy or "Ignore") == "Honor"
        if honor_taints and _untolerated(step, pod, candidate):
            continue
        value = labels[constraint.topology_key or ""]
        matching = sum(
            1
            for other in _pods_on(step, _name(candidate), after=True)
            if _namespace(other) == _namespace(pod)
            and (other.metadata is None or other.metadata.deletion_timestamp is None)
            and selector.matches(_labels(other))
        )
        counts[value] = counts.get(value, 0) + matching
    return counts


def spread_skews(step: SchedulingStep) -> list[tuple[int, int]]:
    """For each DoNotSchedule constraint whose domain the chosen node belongs to:
    (skew after binding, maxSkew)."""
    pod = step.pod
    node = _chosen(step)
    constraints = [
        c
        for c in pod.pod_spec.topology_spread_constraints or ()
        if c.when_unsatisfiable == "DoNotSchedule"
    ]
    if node is None or not constraints:
        return []
    results = []
    for index, constraint in enumerate(constraints):
        counts = _domain_counts(step, index)
        domain = _labels(node).get(constraint.topology_key or "")
        if domain is None or not counts:
            continue
        min_domains = constraint.min_domains if constraint.min_domains is not None else 1
        minimum = 0 if len(counts) < min_domains else min(counts.values())
        results.append((counts.get(domain, 0) - minimum, constraint.max_skew or 0))
    return results


def spread_within_max_skew(step: SchedulingStep) -> bool:
    """Every DoNotSchedule constraint of the bound pod holds after binding."""
    return all(skew <= max_skew for skew, max_skew in spread_skews(step))


def _term_selects(
    owner: Pod, term: PodAffinityTerm, other: Pod, labels_of: Mapping[str, str]
) -> bool:
    namespaces = term.namespaces or ()
    if namespaces or term.namespace_selector is not None:
        in_namespace = _namespace(other) in namespaces or (
            term.namespace_selector is not None
            and compile_selector(term.namespace_selector).matches(labels_of)
        )
    else:
        in_namespace = _namespace(other) == _namespace(owner)
    return (
        in_namespace
        and term.label_selector is not None
        and compile_selector(term.label_selector).matches(_labels(other))
    )


def _anti_terms(pod: Pod) -> tuple[PodAffinityTerm, ...]:
    affinity = pod.pod_spec.affinity
    anti = affinity.pod_anti_affinity if affinity is not None else None
    if anti is None:
        return ()
    return anti.required_during_scheduling_ignored_during_execution or ()


def anti_affinity_violations(step: SchedulingStep, *, after: bool) -> set[tuple[str, str]]:
    """Pairs (owner, other) where owner's required anti-affinity selects other in its domain."""
    nodes = {_name(n): n for n in step.nodes}
    pods = list(step.pods_before) + ([step.pod] if after else [])
    violations: set[tuple[str, str]] = set()
    for owner in pods:
        if _node_of(owner) not in nodes:
            continue
        for term in _anti_terms(owner):
            key = term.topology_key or ""
            value = _labels(nodes[_node_of(owner)]).get(key)
            if value is None:
                continue
            for other in pods:
                if other is owner or _node_of(other) not in nodes:
                    continue
                if _labels(nodes[_node_of(other)]).get(key) != value:
                    continue
                labels_of = namespace_labels(step.namespaces, _namespace(other))
                if _term_selects(owner, term, other, labels_of):
                    violations.add(
                        (
                            f"{_namespace(owner)}/{_name(owner)}",
                            f"{_namespace(other)}/{_name(other)}",
                        )
                    )
    return violations


def anti_affinity_respected(step: SchedulingStep) -> bool:
    """Binding adds no anti-affinity violation."""
    return anti_affinity_violations(step, after=True) <= anti_affinity_violations(step, after=False)


def _filled(step: SchedulingStep) -> bool:
    node = _chosen(step)
    if node is None:
        return False
    pods = _pods_on(step, _name(node), after=True)
    allocatable = _allocatable(node)
    total: dict[str, int] = {}
    for pod in pods:
        _add(total, reference_requests(pod).items())
    return len(pods) == allocatable.get("pods", 0) or any(
        v > 0 and v == allocatable.get(n, 0) for n, v in total.items()
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
            any(v.code != "Success" for v in step.verdicts) and bool(_anti_terms(step.pod))
        ),
        "a pod with anti-affinity was bound while some node was rejected",
    ),
)
