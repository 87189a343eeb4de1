"""What the Endpoints and EndpointSlice controllers share: which pods belong, their ports and
addresses, which Services a pod change touches, and the last-change trigger time.

Theory of operation (``k8s.io/endpointslice/util`` and ``pkg/api/v1/pod``, v1.35):

- a pod belongs in endpoints (``ShouldPodBeInEndpoints``) unless it is terminal
  (Succeeded/Failed), has no IP, or is being deleted while terminating pods are not included;
- a Service port's target is found on the pod (``FindPort``): a number is taken as is, a name
  is looked up among the containers' (and restartable init containers') named ports with the
  Service port's protocol; a pod without it offers no endpoint for that port;
- a pod change queues the Services whose selector (a nil selector selects nothing) matches the
  pod, old and new labels alike when the labels, hostname or subdomain changed
  (``GetServicesToUpdateOnPodChange``); a change that touches neither membership nor
  readiness, deletion, or the pod's IPs queues nothing;
- the trigger-time tracker (``TriggerTimeTracker``) remembers, per Service, each pod's Ready
  condition transition time and the Service's creation time seen at the last sync; a sync's
  trigger time is the earliest of those that moved since, or the Service's creation time the
  first time the Service is seen (and after a restart: the tracker lives in memory).

Times are Unix seconds; 0 means none.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

import immutables
import msgspec

from impl.controllers.cache import Cache, in_namespace, key_of
from impl.controllers.objects import (
    TERMINAL_PHASES,
    deleting,
    is_ready,
    labels,
    meta,
    phase,
    ready_condition,
    seconds,
)
from models.apiserver.clock import rfc3339
from models.k8s.core.pod import Pod
from models.k8s.core.service import Service, ServicePort

LAST_CHANGE_TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"
HEADLESS_LABEL = "service.kubernetes.io/headless"
CLUSTER_IP_NONE = "None"


def rfc3339_seconds(moment: int) -> str:
    """A trigger time as the annotation holds it (Go's RFC3339Nano of a whole second)."""
    return rfc3339(moment)


def pod_ips(pod: Pod) -> tuple[str, ...]:
    """``status.podIPs``; the API server keeps ``podIP`` as its first entry, so a status that
    carries only ``podIP`` has that one."""
    status = pod.status
    if status is None:
        return ()
    listed = tuple(ip.ip for ip in status.pod_ips or () if ip.ip)
    if listed:
        return listed
    return (status.pod_ip,) if status.pod_ip else ()


def is_ipv6(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).version == 6
    except ValueError:
        return False


def should_be_in_endpoints(pod: Pod, include_terminating: bool) -> bool:
    """``ShouldPodBeInEndpoints``."""
    if phase(pod) in TERMINAL_PHASES:
        return False
    if not pod_ips(pod):
        return False
    return include_terminating or not deleting(pod)


def should_set_hostname(pod: Pod, service: Service) -> bool:
    """``ShouldSetHostname``: the pod names a hostname and the Service as its subdomain."""
    spec = pod.spec
    return (
        spec is not None
        and bool(spec.hostname)
        and spec.subdomain == meta(service).name
        and meta(service).namespace == meta(pod).namespace
    )


def find_port(pod: Pod, port: ServicePort) -> int | None:
    """``FindPort``: the pod's port for a Service port, None when it has none."""
    target = port.target_port if port.target_port is not None else port.port
    if isinstance(target, int):
        return target
    if target is None:
        return None
    protocol = port.protocol or "TCP"
    spec = pod.spec
    if spec is None:
        return None
    containers = list(spec.containers or ())
    containers += [c for c in spec.init_containers or () if c.restart_policy == "Always"]
    for container in containers:
        for container_port in container.ports or ():
            if container_port.name == target and (container_port.protocol or "TCP") == protocol:
                return container_port.container_port
    return None


def selector_of(service: Service) -> dict[str, str] | None:
    """The Service's selector; None when it has none (it then selects nothing)."""
    spec = service.spec
    if spec is None or spec.selector is None:
        return None
    return dict(spec.selector)


def selects(service: Service, pod_labels: dict[str, str]) -> bool:
    selector = selector_of(service)
    return selector is not None and all(pod_labels.get(k) == v for k, v in selector.items())


def selected_pods(pods: Iterable[Pod], service: Service) -> list[Pod]:
    return [pod for pod in pods if selects(service, labels(pod))]


def is_service_ip_set(service: Service) -> bool:
    """``IsServiceIPSet``: a cluster IP that is neither empty nor ``None``."""
    cluster_ip = (service.spec.cluster_ip or "") if service.spec else ""
    return cluster_ip not in ("", CLUSTER_IP_NONE)


def namespace_services(cache: Cache, pod: Pod) -> list[Service]:
    """The Services in the pod's namespace."""
    return in_namespace(cache, "services", meta(pod).namespace or "")


def memberships(services: Iterable[Service], pod: Pod) -> set[str]:
    """``GetPodServiceMemberships``: keys of the Services whose selector matches the pod."""
    pod_labels = labels(pod)
    return {key_of(service) for service in services if selects(service, pod_labels)}


def _hostname_and_subdomain(pod: Pod) -> tuple[str, str]:
    spec = pod.spec
    return (spec.hostname or "", spec.subdomain or "") if spec else ("", "")


def services_to_update(services: Iterable[Service], old: Pod, new: Pod) -> set[str]:
    """``GetServicesToUpdateOnPodChange``."""
    if meta(old).resource_version == meta(new).resource_version:
        return set()
    labels_changed = labels(old) != labels(new) or _hostname_and_subdomain(
        old
    ) != _hostname_and_subdomain(new)
    pod_changed = (
        meta(old).deletion_timestamp != meta(new).deletion_timestamp
        or is_ready(old) != is_ready(new)
        or pod_ips(old) != pod_ips(new)
    )
    if not pod_changed and not labels_changed:
        return set()
    listed = list(services)
    current = memberships(listed, new)
    if not labels_changed:
        return current
    previous = memberships(listed, old)
    if pod_changed:
        return current | previous
    return current ^ previous


# Trigger times --------------------------------------------------------------------------------


class ServiceTimes(msgspec.Struct, frozen=True, kw_only=True):
    """What the tracker saw of one Service at its last sync."""

    pods: immutables.Map[str, int] = msgspec.field(default_factory=immutables.Map)
    service: int = 0


class TriggerTracker(msgspec.Struct, frozen=True, kw_only=True):
    services: immutables.Map[str, ServiceTimes] = msgspec.field(default_factory=immutables.Map)


def _pod_trigger_time(pod: Pod) -> int:
    condition = ready_condition(pod)
    if condition is None:
        return 0
    found = seconds(condition.last_transition_time)
    return found if found is not None else 0


def trigger_time(
    tracker: TriggerTracker, key: str, service: Service, pods: Iterable[Pod]
) -> tuple[TriggerTracker, int]:
    """``ComputeEndpointLastChangeTriggerTime``: the tracker after this sync and the time
    (0 when nothing moved)."""
    known = tracker.services.get(key)
    state = known if known is not None else ServiceTimes()
    earliest = 0
    pod_times: dict[str, int] = {}
    for pod in pods:
        moment = _pod_trigger_time(pod)
        if moment:
            pod_times[meta(pod).name or ""] = moment
            if moment > state.pods.get(meta(pod).name or "", 0):
                earliest = moment if not earliest else min(earliest, moment)
    created = seconds(meta(service).creation_timestamp) or 0
    if created > state.service:
        earliest = created if not earliest else min(earliest, created)
    fresh = ServiceTimes(pods=immutables.Map(pod_times), service=created)
    tracker = TriggerTracker(services=tracker.services.set(key, fresh))
    if known is None:
        return tracker, created
    return tracker, earliest


def forget_service(tracker: TriggerTracker, key: str) -> TriggerTracker:
    if key not in tracker.services:
        return tracker
    return TriggerTracker(services=tracker.services.delete(key))
