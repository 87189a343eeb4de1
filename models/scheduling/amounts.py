"""Resource names, amounts and a pod's effective requests.

Amounts are what kube-scheduler compares: ``cpu`` in millicores (``MilliValue``), every other
resource in its base unit (``Value``), both rounding up. Requests are summed as exact
quantities and converted once, as component-helpers sums ``resource.Quantity`` values.

``pod_requests`` is component-helpers ``resource.PodRequests`` (v1.35):

- regular containers and restartable init containers (sidecars) add up; each other init
  container counts alone, on top of the sidecars started before it; the pod needs the larger
  of the two (KEP-753);
- with ``pod_level`` (PodLevelResources), ``spec.resources.requests`` for cpu, memory and
  hugepages replace the containers' sum;
- with ``use_status`` (InPlacePodVerticalScaling, for pods already on a node), a container's
  request is the largest of its spec, its actuated ``status...resources`` and its
  ``allocatedResources`` (only the last two while a resize is Infeasible);
- ``non_missing`` gives a container without a cpu or memory request 100m and 200Mi (the
  scoring plugins' defaults); an explicit zero stays zero;
- overhead is added last.

API server defaulting is applied where a hand-written manifest may lack it: a container
request missing but limited takes its limit, and pod-level requests default as
``defaultPodRequests`` does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final, final

import msgspec

from models.k8s.core.pod import Container, ContainerStatus, Pod, PodSpec, PodStatus
from models.quantity import Quantity, QuantityFormat

CPU: Final = "cpu"
MEMORY: Final = "memory"
EPHEMERAL_STORAGE: Final = "ephemeral-storage"
PODS: Final = "pods"
HUGEPAGES_PREFIX: Final = "hugepages-"
DEFAULT_MILLI_CPU_REQUEST: Final = 100
DEFAULT_MEMORY_REQUEST: Final = 200 * 1024 * 1024
RESIZE_PENDING: Final = "PodResizePending"
RESIZE_INFEASIBLE: Final = "Infeasible"

QuantityMap = dict[str, Quantity]

_NON_MISSING: Final[Mapping[str, Quantity]] = {
    CPU: Quantity.from_milli(DEFAULT_MILLI_CPU_REQUEST, QuantityFormat.DECIMAL_SI),
    MEMORY: Quantity.from_int(DEFAULT_MEMORY_REQUEST, QuantityFormat.DECIMAL_SI),
}


def amount(resource: str, quantity: Quantity) -> int:
    """What the scheduler compares: ``MilliValue()`` for cpu, ``Value()`` otherwise."""
    return quantity.milli_value() if resource == CPU else quantity.value()


def is_scalar_resource(name: str) -> bool:
    """``IsScalarResourceName``: extended (domain-prefixed), hugepages-*, attachable-volumes-*
    and ``kubernetes.io/`` prefixed resources."""
    if name.startswith((HUGEPAGES_PREFIX, "attachable-volumes-")):
        return True
    return "/" in name and not name.startswith("requests.")


def is_extended_resource(name: str) -> bool:
    """``IsExtendedResourceName``: domain-prefixed and not in the ``kubernetes.io`` domain."""
    return "/" in name and "kubernetes.io/" not in name and not name.startswith("requests.")


def is_counted(name: str) -> bool:
    """Does ``framework.Resource.Add`` keep this resource (cpu, memory, ephemeral-storage,
    pods and scalar resources)?"""
    return name in (CPU, MEMORY, EPHEMERAL_STORAGE, PODS) or is_scalar_resource(name)


def is_pod_level_resource(name: str) -> bool:
    """``IsSupportedPodLevelResource``: cpu, memory and hugepages."""
    return name in (CPU, MEMORY) or name.startswith(HUGEPAGES_PREFIX)


@final
class RequestOptions(msgspec.Struct, frozen=True, kw_only=True):
    """Which of ``PodResourcesOptions`` apply (see the module docstring)."""

    pod_level: bool = True
    use_status: bool = False
    non_missing: bool = False


def _add(into: QuantityMap, more: Mapping[str, Quantity]) -> None:
    for name, quantity in more.items():
        present = into.get(name)
        into[name] = quantity if present is None else present + quantity


def _maximum(into: QuantityMap, more: Mapping[str, Quantity]) -> None:
    for name, quantity in more.items():
        present = into.get(name)
        if present is None or present.compare(quantity) < 0:
            into[name] = quantity


def _largest(*lists: Mapping[str, Quantity]) -> QuantityMap:
    result: QuantityMap = {}
    for quantities in lists:
        _maximum(result, quantities)
    return result


def container_requests(container: Container) -> QuantityMap:
    """The container's requests with API defaulting: a missing request takes the limit."""
    requests = dict(container.requests().items())
    for name, limit in container.limits().items():
        requests.setdefault(name, limit)
    return requests


def _resize_infeasible(status: PodStatus) -> bool:
    for condition in status.conditions or ():
        if condition.type == RESIZE_PENDING:
            return condition.reason == RESIZE_INFEASIBLE
    return False


def _effective(spec: QuantityMap, status: ContainerStatus | None, infeasible: bool) -> QuantityMap:
    if status is None or status.resources is None:
        return spec
    actuated = dict((status.resources.requests or {}).items())
    allocated = dict((status.allocated_resources or {}).items())
    if infeasible:
        return _largest(actuated, allocated)
    return _largest(spec, actuated, allocated)


def _with_defaults(requests: QuantityMap, options: RequestOptions) -> QuantityMap:
    if not options.non_missing:
        return requests
    filled = dict(requests)
    for name, quantity in _NON_MISSING.items():
        filled.setdefault(name, quantity)
    return filled


def _statuses(status: PodStatus) -> dict[str, ContainerStatus]:
    found: dict[str, ContainerStatus] = {}
    for entry in (*(status.container_statuses or ()), *(status.init_container_statuses or ())):
        found[entry.name or ""] = entry
    return found


def aggregate_container_requests(pod: Pod, options: RequestOptions) -> QuantityMap:
    """``AggregateContainerRequests``: containers plus sidecars, against each init container
    on top of the sidecars before it."""
    spec = pod.pod_spec
    statuses = _statuses(pod.pod_status) if options.use_status else {}
    infeasible = options.use_status and _resize_infeasible(pod.pod_status)
    total: QuantityMap = {}
    for container in spec.containers or ():
        own = container_requests(container)
        if options.use_status:
            own = _effective(own, statuses.get(container.name or ""), infeasible)
        _add(total, _with_defaults(own, options))
    sidecars: QuantityMap = {}
    init_peak: QuantityMap = {}
    for container in spec.init_containers or ():
        own = container_requests(container)
        restartable = container.restart_policy == "Always"
        if options.use_status and restartable:
            own = _effective(own, statuses.get(container.name or ""), infeasible)
        own = _with_defaults(own, options)
        if restartable:
            _add(total, own)
            _add(sidecars, own)
            during = dict(sidecars)
        else:
            during = dict(own)
            _add(during, sidecars)
        _maximum(init_peak, during)
    _maximum(total, init_peak)
    return total


def pod_level_requests(spec: PodSpec, containers: Mapping[str, Quantity]) -> QuantityMap:
    """``spec.resources.requests`` for the supported resources, with ``defaultPodRequests``
    when pod-level limits are set: cpu and memory without a request take the containers' sum
    when some container asks for them, then any limited resource without a request takes its
    limit."""
    resources = spec.resources
    if resources is None:
        return {}
    requests = {n: q for n, q in (resources.requests or {}).items() if is_pod_level_resource(n)}
    limits: Mapping[str, Quantity] = resources.limits or {}
    if not limits:
        return requests
    for name, quantity in containers.items():
        if name in (CPU, MEMORY) and name not in requests:
            requests[name] = quantity
    for name, limit in limits.items():
        if is_pod_level_resource(name) and name not in requests:
            requests[name] = limit
    return requests


def pod_requests(pod: Pod, options: RequestOptions) -> QuantityMap:
    """``resource.PodRequests``: the pod's effective requests as quantities."""
    requests = aggregate_container_requests(pod, options)
    if options.pod_level:
        plain = aggregate_container_requests(pod, RequestOptions(pod_level=False))
        requests.update(pod_level_requests(pod.pod_spec, plain))
    _add(requests, dict((pod.pod_spec.overhead or {}).items()))
    return requests


def request_amounts(requests: Mapping[str, Quantity]) -> dict[str, int]:
    """Requests as amounts, keeping only what ``framework.Resource`` counts."""
    return {name: amount(name, q) for name, q in requests.items() if is_counted(name)}


def resource_amounts(quantities: Iterable[tuple[str, Quantity]]) -> dict[str, int]:
    """A resource list (allocatable, capacity) as amounts."""
    return {name: amount(name, quantity) for name, quantity in quantities}
