"""Pod admission on the node: the kubelet's admit handlers, in their order.

Theory of operation. A pod bound to this node is admitted once, when the kubelet first sees it,
against the pods it already admitted that are not terminal:

1. the eviction handler (``pkg/kubelet/eviction``'s ``Admit``): with no pressure condition,
   or for a critical pod (priority at least 2000000000), it admits; under MemoryPressure alone
   it admits any pod that is not BestEffort, and a BestEffort pod that tolerates the
   ``node.kubernetes.io/memory-pressure:NoSchedule`` taint; otherwise (DiskPressure or
   PIDPressure, or a BestEffort pod under memory pressure) it refuses (``Evicted``, "The node
   had condition: [MemoryPressure DiskPressure]. ", the True pressure conditions in order);
2. the predicate handler (``pkg/kubelet/lifecycle/predicate.go``): resource fit in the order
   pods, cpu, memory, ephemeral-storage, extended resources (``OutOf<resource>``, "Node didn't
   have enough resource: cpu, requested: R, used: U, capacity: C", capacity meaning
   allocatable), then required node affinity and nodeSelector (``NodeAffinity``), then NoExecute
   taints the pod does not tolerate (``TaintToleration``); only the first failure is reported.

A refused pod goes to phase Failed with that reason and the message "Pod was rejected: ...".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

import msgspec

from models.k8s.core.node import Node, Taint
from models.k8s.core.pod import Pod
from models.kubelet.config import KubeletConfig, NodeResources
from models.scheduling.amounts import (
    CPU,
    EPHEMERAL_STORAGE,
    MEMORY,
    PODS,
    RequestOptions,
    pod_requests,
    request_amounts,
)
from models.scheduling.matching import first_untolerated, required_node_affinity, tolerated

REJECTED_PREFIX: Final = "Pod was rejected: "
NO_EXECUTE: Final = frozenset({"NoExecute"})
SYSTEM_CRITICAL_PRIORITY: Final = 2_000_000_000
MEMORY_PRESSURE_TAINT: Final = Taint(key="node.kubernetes.io/memory-pressure", effect="NoSchedule")


class Refusal(msgspec.Struct, frozen=True, kw_only=True):
    reason: str
    message: str


def requests_of(pod: Pod) -> tuple[tuple[str, int], ...]:
    """The pod's effective requests as amounts, sorted by resource name."""
    amounts = request_amounts(pod_requests(pod, RequestOptions()))
    return tuple(sorted((name, value) for name, value in amounts.items() if value > 0))


def qos_class(pod: Pod) -> str:
    """``GetPodQOS``: Guaranteed when every container limits cpu and memory with requests
    equal to limits, BestEffort when nothing requests or limits anything, else Burstable."""
    containers = (*(pod.pod_spec.init_containers or ()), *(pod.pod_spec.containers or ()))
    anything = False
    guaranteed = bool(containers)
    for container in containers:
        requests, limits = container.requests(), container.limits()
        anything = anything or bool(requests) or bool(limits)
        for resource in (CPU, MEMORY):
            limit = limits.get(resource)
            request = requests.get(resource, limit)
            if limit is None or request is None or request.compare(limit) != 0:
                guaranteed = False
    if not anything:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def _allocatable(resources: NodeResources) -> Mapping[str, int]:
    return {
        PODS: resources.pods,
        CPU: resources.cpu_millis,
        MEMORY: resources.memory_bytes,
        EPHEMERAL_STORAGE: resources.ephemeral_storage_bytes,
    }


def used(admitted: Iterable[tuple[tuple[str, int], ...]]) -> dict[str, int]:
    """The summed requests of admitted pods, plus their count as ``pods``."""
    total: dict[str, int] = {PODS: 0}
    for requests in admitted:
        total[PODS] += 1
        for name, value in requests:
            total[name] = total.get(name, 0) + value
    return total


def _fit(
    requests: tuple[tuple[str, int], ...], in_use: Mapping[str, int], config: KubeletConfig
) -> Refusal | None:
    allocatable = _allocatable(config.allocatable())
    wanted = dict(requests)
    wanted[PODS] = 1
    order = [
        PODS,
        CPU,
        MEMORY,
        EPHEMERAL_STORAGE,
        *sorted(name for name in wanted if name not in (PODS, CPU, MEMORY, EPHEMERAL_STORAGE)),
    ]
    for name in order:
        requested = wanted.get(name, 0)
        if requested <= 0:
            continue
        capacity = allocatable.get(name, 0)
        current = in_use.get(name, 0)
        if requested > capacity - current:
            return Refusal(
                reason=f"OutOf{name}",
                message=(
                    f"{REJECTED_PREFIX}Node didn't have enough resource: {name}, "
                    f"requested: {requested}, used: {current}, capacity: {capacity}"
                ),
            )
    return None


def _eviction_refusal(pod: Pod, pressure: tuple[str, ...]) -> Refusal | None:
    if not pressure or (pod.pod_spec.priority or 0) >= SYSTEM_CRITICAL_PRIORITY:
        return None
    if pressure == ("MemoryPressure",):
        if qos_class(pod) != "BestEffort":
            return None
        if tolerated(
            pod.pod_spec.tolerations or (), MEMORY_PRESSURE_TAINT, comparison_operators=False
        ):
            return None
    return Refusal(
        reason="Evicted",
        message=f"{REJECTED_PREFIX}The node had condition: [{' '.join(pressure)}]. ",
    )


def admit(
    config: KubeletConfig,
    node: Node | None,
    pod: Pod,
    in_use: Mapping[str, int],
    pressure: tuple[str, ...],
) -> Refusal | None:
    """None when the pod is admitted, else the first refusal (``pressure``: the node's True
    pressure conditions)."""
    refusal = _eviction_refusal(pod, pressure)
    if refusal is not None:
        return refusal
    refusal = _fit(requests_of(pod), in_use, config)
    if refusal is not None:
        return refusal
    labels = dict((node.meta.labels or {}).items()) if node is not None else dict(config.labels)
    if not required_node_affinity(pod.pod_spec).matches(config.node_name, labels):
        return Refusal(
            reason="NodeAffinity", message=f"{REJECTED_PREFIX}Predicate NodeAffinity failed"
        )
    taints = node.node_spec.taints or () if node is not None else ()
    untolerated = first_untolerated(
        taints, pod.pod_spec.tolerations or (), NO_EXECUTE, comparison_operators=False
    )
    if untolerated is not None:
        return Refusal(
            reason="TaintToleration", message=f"{REJECTED_PREFIX}Predicate TaintToleration failed"
        )
    return None
