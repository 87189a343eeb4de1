"""The Endpoints controller (``endpoints-controller``): one v1 Endpoints per selecting Service.

Theory of operation (``pkg/controller/endpoint/endpoints_controller.go``, v1.35). Service
events queue the Service; pod events queue the Services the pod belongs to (or belonged to,
``endpoints_util.services_to_update``); an Endpoints deletion queues its Service. Once every
informer has listed, every Endpoints object is queued once (``checkLeftoverEndpoints``: one
whose Service is gone is deleted), leader-election records excepted. A sync of ``ns/name``:

1. no such Service: DELETE the Endpoints (404 is fine) and forget its trigger times;
   ExternalName Services and Services without a selector are left alone;
2. every selected pod that belongs in endpoints (terminating pods only with
   ``publishNotReadyAddresses``) with an IP of the Service's first IP family gives an address
   ``{ip, nodeName, targetRef}`` (plus ``hostname`` when its subdomain names the Service),
   once per Service port whose target the pod has (a headless Service without ports takes it
   without ports): in ``addresses`` when ready or published regardless, else in
   ``notReadyAddresses``;
3. the subsets are repacked (``RepackSubsets``): addresses grouped by the set of ports they
   offer, an address ready on a port counting as ready there;
4. if the stored Endpoints differs (subsets, labels = the Service's, the over-capacity
   annotation) it is created or updated, with the Service's labels (plus
   ``service.kubernetes.io/headless`` when it has no cluster IP), the
   ``endpoints.kubernetes.io/last-change-trigger-time`` annotation when the trigger time is
   known (else removed), and truncated to 1000 addresses (ready ones kept first) with
   ``endpoints.kubernetes.io/over-capacity: truncated``.

A failed write is retried rate-limited, at most 15 times.
"""

from __future__ import annotations

import math
from typing import Any

import msgspec

from impl.controllers import endpoints_util as eu
from impl.controllers.cache import Change, every, get, in_namespace, key_of, split_key
from impl.controllers.calls import create, delete, plain, update
from impl.controllers.objects import annotations_of, is_ready, labels, meta, uid
from impl.controllers.plan import Context, ControllerDef, Outcome, Planned, Reaction, Watch
from models.controllers.config import ControllerConfig
from models.controllers.resources import RESOURCES
from models.k8s.base import FrozenMap
from models.k8s.core.pod import Pod
from models.k8s.core.reference import ObjectReference
from models.k8s.core.service import (
    EndpointAddress,
    EndpointPort,
    Endpoints,
    EndpointSubset,
    Service,
)
from models.k8s.meta import ObjectMeta

NAME = "endpoints-controller"
ENDPOINTS = RESOURCES["endpoints"]
MAX_CAPACITY = 1000
OVER_CAPACITY = "endpoints.kubernetes.io/over-capacity"
TRUNCATED = "truncated"
LEADER_ANNOTATION = "control-plane.alpha.kubernetes.io/leader"
MAX_RETRIES = 15
NAMESPACE_TERMINATING_CAUSE = "NamespaceTerminating"


class EndpointsPrivate(msgspec.Struct, frozen=True, kw_only=True):
    tracker: eu.TriggerTracker = msgspec.field(default_factory=eu.TriggerTracker)
    leftovers_checked: bool = False


# Handlers -------------------------------------------------------------------------------------


def _leftovers(context: Context[EndpointsPrivate]) -> tuple[tuple[str, ...], EndpointsPrivate]:
    """Every Endpoints key once all informers listed (``checkLeftoverEndpoints``)."""
    private = context.private
    if private.leftovers_checked or not {"pods", "services", "endpoints"} <= context.cache.listed:
        return (), private
    keys = tuple(
        key_of(obj)
        for obj in every(context.cache, "endpoints")
        if LEADER_ANNOTATION not in annotations_of(obj)
    )
    return keys, msgspec.structs.replace(private, leftovers_checked=True)


def handle(context: Context[EndpointsPrivate], change: Change) -> Reaction[EndpointsPrivate]:
    keys: set[str] = set()
    if change.resource == "services":
        keys.add(key_of(change.current))
    elif change.resource == "endpoints":
        if change.change == "DELETED":
            keys.add(key_of(change.old))
    elif change.resource == "pods":
        services = eu.namespace_services(context.cache, change.current)
        if change.change == "MODIFIED":
            keys |= eu.services_to_update(services, change.old, change.new)
        else:
            keys |= eu.memberships(services, change.current)
    leftovers, private = _leftovers(context)
    return Reaction(
        expectations=context.expectations,
        private=private,
        adds=(*sorted(keys), *leftovers),
    )


# Sync -----------------------------------------------------------------------------------------


def _ip_for(service: Service, pod: Pod) -> str | None:
    """``podToEndpointAddressForService``'s choice of IP: of the Service's first IP family."""
    spec = service.spec
    families = tuple(spec.ip_families or ()) if spec else ()
    if families:
        want_v6 = families[0] == "IPv6"
    elif eu.is_service_ip_set(service):
        want_v6 = eu.is_ipv6((spec.cluster_ip or "") if spec else "")
    else:
        first = pod.status.pod_ip if pod.status else None
        want_v6 = eu.is_ipv6(first or "")
    for ip in eu.pod_ips(pod):
        if eu.is_ipv6(ip) == want_v6:
            return ip
    return None


def _address(service: Service, pod: Pod, ip: str) -> EndpointAddress:
    spec = pod.spec
    return EndpointAddress(
        ip=ip,
        hostname=(spec.hostname if spec else None)
        if eu.should_set_hostname(pod, service)
        else None,
        node_name=(spec.node_name or "") if spec else "",
        target_ref=ObjectReference(
            kind="Pod",
            namespace=meta(pod).namespace or "",
            name=meta(pod).name or "",
            uid=uid(pod),
        ),
    )


AddressKey = tuple[str, str]
PortKey = tuple[str, int, str, str]


def _address_key(address: EndpointAddress) -> AddressKey:
    ref = address.target_ref
    return (address.ip or "", (ref.uid or "") if ref is not None else "")


def _port_key(port: EndpointPort) -> PortKey:
    return (port.name or "", port.port or 0, port.protocol or "", port.app_protocol or "")


def repack(
    entries: list[tuple[EndpointAddress, EndpointPort | None, bool]],
) -> tuple[EndpointSubset, ...]:
    """``RepackSubsets`` of one-address subsets ``(address, port or None, ready)``."""
    addresses: dict[AddressKey, EndpointAddress] = {}
    by_port: dict[PortKey, dict[AddressKey, bool]] = {}
    ports: dict[PortKey, EndpointPort] = {}
    sentinel: PortKey = ("", -1, "", "")
    for address, port, ready in entries:
        key = _address_key(address)
        addresses.setdefault(key, address)
        port_key = _port_key(port) if port is not None else sentinel
        if port is not None:
            ports[port_key] = port
        seen = by_port.setdefault(port_key, {})
        if not seen.get(key, False):
            seen[key] = ready
    groups: dict[frozenset[tuple[AddressKey, bool]], list[EndpointPort]] = {}
    for port_key, members in by_port.items():
        group = groups.setdefault(frozenset(members.items()), [])
        if port_key != sentinel:
            group.append(ports[port_key])
    subsets = []
    for members_key, group_ports in groups.items():
        ready_keys = sorted(key for key, is_up in members_key if is_up)
        not_ready = sorted(key for key, is_up in members_key if not is_up)
        subsets.append(
            EndpointSubset(
                addresses=tuple(addresses[k] for k in ready_keys) or None,
                not_ready_addresses=tuple(addresses[k] for k in not_ready) or None,
                ports=tuple(sorted(group_ports, key=_port_key)) or None,
            )
        )
    subsets.sort(key=_subset_order)
    return tuple(subsets)


def _subset_order(subset: EndpointSubset) -> tuple[Any, ...]:
    return (
        tuple(_port_key(p) for p in subset.ports or ()),
        tuple(
            _address_key(a)
            for a in (*(subset.addresses or ()), *(subset.not_ready_addresses or ()))
        ),
    )


def desired_subsets(service: Service, pods: list[Pod]) -> tuple[EndpointSubset, ...]:
    """Steps 2 and 3 of a sync: the Service's subsets from its selected pods."""
    spec = service.spec
    publish = bool(spec.publish_not_ready_addresses) if spec else False
    service_ports = tuple(spec.ports or ()) if spec else ()
    headless = ((spec.cluster_ip or "") if spec else "") == eu.CLUSTER_IP_NONE
    entries: list[tuple[EndpointAddress, EndpointPort | None, bool]] = []
    for pod in pods:
        if not eu.should_be_in_endpoints(pod, publish):
            continue
        ip = _ip_for(service, pod)
        if ip is None:
            continue
        address = _address(service, pod, ip)
        ready = publish or is_ready(pod)
        if not service_ports:
            if headless:
                entries.append((address, None, ready))
            continue
        for service_port in service_ports:
            number = eu.find_port(pod, service_port)
            if number is None:
                continue
            port = EndpointPort(
                name=service_port.name or None,
                port=number,
                protocol=service_port.protocol,
                app_protocol=service_port.app_protocol,
            )
            entries.append((address, port, ready))
    return repack(entries)


def _count(subsets: tuple[EndpointSubset, ...]) -> int:
    return sum(len(s.addresses or ()) + len(s.not_ready_addresses or ()) for s in subsets)


def truncate(subsets: tuple[EndpointSubset, ...]) -> tuple[tuple[EndpointSubset, ...], bool]:
    """``truncateEndpoints``: at most 1000 addresses, each subset keeping its share (rounded
    up while room lasts), not-ready addresses dropped first."""
    total_ready = sum(len(s.addresses or ()) for s in subsets)
    total_not_ready = sum(len(s.not_ready_addresses or ()) for s in subsets)
    if total_ready + total_not_ready <= MAX_CAPACITY:
        return subsets, False
    truncate_ready = total_ready > MAX_CAPACITY
    room = MAX_CAPACITY if truncate_ready else MAX_CAPACITY - total_ready
    total = total_ready if truncate_ready else total_not_ready
    left = room
    result = []
    for subset in subsets:
        count = (
            len(subset.addresses or ()) if truncate_ready else len(subset.not_ready_addresses or ())
        )
        allowed = min(math.ceil(count / total * room), left) if total else 0
        if truncate_ready:
            subset = msgspec.structs.replace(
                subset,
                addresses=(subset.addresses or ())[:allowed] or None,
                not_ready_addresses=None,
            )
        else:
            subset = msgspec.structs.replace(
                subset, not_ready_addresses=(subset.not_ready_addresses or ())[:allowed] or None
            )
        left -= allowed
        result.append(subset)
    return tuple(result), True


def _without_versions(subsets: tuple[EndpointSubset, ...] | None) -> tuple[EndpointSubset, ...]:
    def strip(addresses: tuple[EndpointAddress, ...] | None) -> tuple[EndpointAddress, ...] | None:
        if not addresses:
            return None
        return tuple(
            msgspec.structs.replace(
                a,
                target_ref=msgspec.structs.replace(a.target_ref, resource_version=None)
                if a.target_ref is not None
                else None,
            )
            for a in addresses
        )

    return tuple(
        msgspec.structs.replace(
            s,
            addresses=strip(s.addresses),
            not_ready_addresses=strip(s.not_ready_addresses),
            ports=s.ports or None,
        )
        for s in subsets or ()
    )


def _labels_for(service: Service) -> dict[str, str]:
    result = labels(service)
    if eu.is_service_ip_set(service):
        result.pop(eu.HEADLESS_LABEL, None)
    else:
        result[eu.HEADLESS_LABEL] = ""
    return result


def sync(context: Context[EndpointsPrivate], key: str) -> Outcome[EndpointsPrivate]:
    leftovers, private = _leftovers(context)
    namespace, name = split_key(key)
    service: Service | None = get(context.cache, "services", namespace, name)
    if service is None:
        private = msgspec.structs.replace(private, tracker=eu.forget_service(private.tracker, key))
        planned = Planned(call=delete(ENDPOINTS, namespace, name), tolerated=frozenset({404}))
        return Outcome(
            expectations=context.expectations,
            private=private,
            batches=((planned,),),
            adds=leftovers,
        )
    spec = service.spec
    if (spec is not None and spec.type == "ExternalName") or eu.selector_of(service) is None:
        return Outcome(expectations=context.expectations, private=private, adds=leftovers)
    pods = eu.selected_pods(in_namespace(context.cache, "pods", namespace), service)
    tracker, trigger = eu.trigger_time(private.tracker, key, service, pods)
    private = msgspec.structs.replace(private, tracker=tracker)
    subsets = desired_subsets(service, pods)
    current: Endpoints | None = get(context.cache, "endpoints", namespace, name)
    service_labels = labels(service)
    if current is not None:
        compare_labels = labels(current)
        compare_labels.pop(eu.HEADLESS_LABEL, None)
        over = _count(tuple(current.subsets or ())) > MAX_CAPACITY
        capacity_ok = not over and OVER_CAPACITY not in annotations_of(current)
        if (
            _without_versions(current.subsets) == _without_versions(subsets)
            and compare_labels == service_labels
            and capacity_ok
        ):
            return Outcome(expectations=context.expectations, private=private, adds=leftovers)
    annotations = annotations_of(current) if current is not None else {}
    if trigger:
        annotations[eu.LAST_CHANGE_TRIGGER_TIME] = eu.rfc3339_seconds(trigger)
    else:
        annotations.pop(eu.LAST_CHANGE_TRIGGER_TIME, None)
    subsets, truncated = truncate(subsets)
    if truncated:
        annotations[OVER_CAPACITY] = TRUNCATED
    else:
        annotations.pop(OVER_CAPACITY, None)
    new_meta = msgspec.structs.replace(
        meta(current) if current is not None else ObjectMeta(name=name),
        labels=FrozenMap(_labels_for(service)) or None,
        annotations=FrozenMap(annotations) or None,
    )
    endpoints = Endpoints(
        api_version="v1", kind="Endpoints", metadata=new_meta, subsets=subsets or None
    )
    if current is None:
        planned = Planned(
            call=create(ENDPOINTS, namespace, plain(endpoints)),
            tolerated_causes=frozenset({NAMESPACE_TERMINATING_CAUSE}),
        )
    else:
        planned = Planned(call=update(ENDPOINTS, endpoints))
    return Outcome(
        expectations=context.expectations, private=private, batches=((planned,),), adds=leftovers
    )


def _workers(config: ControllerConfig) -> int:
    return config.concurrent_endpoint_syncs


DEFINITION: ControllerDef[EndpointsPrivate] = ControllerDef(
    name=NAME,
    watches=(Watch("services"), Watch("pods"), Watch("endpoints")),
    initial=lambda _config: EndpointsPrivate(),
    handle=handle,
    sync=sync,
    workers=_workers,
    max_retries=MAX_RETRIES,
    aliases=("endpoint",),
)
