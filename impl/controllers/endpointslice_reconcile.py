"""The EndpointSlice reconciler: from a Service, its pods and its slices to the slices to create,
update and delete (``k8s.io/endpointslice`` ``Reconciler.Reconcile``, v1.35).

Theory of operation. Slices of an address type the Service no longer has are deleted. Per
address type (IPv4, IPv6 from ``spec.ipFamilies``; inferred from the cluster IP, or both for a
headless Service without families):

1. existing slices not owned by the Service are deleted; the rest are grouped by port set;
2. each selected pod that belongs (terminating pods included) becomes an endpoint under the
   port set it offers; a pod on a node the cache lacks is skipped with an error (unless
   ``publishNotReadyAddresses``); an endpoint without an address of this type is dropped;
3. per port set (``reconcileByPortMapping``): each existing slice keeps the desired endpoints
   it holds (an endpoint is known by its addresses, hostname and pod name; a changed one
   marks the slice for update), a slice left empty is deleted, one whose labels differ from
   the Service's is updated; leftover endpoints fill slices being updated, fullest first,
   then the one unchanged slice closest to full that can take them all, then new slices of
   at most ``maxEndpointsPerSlice``;
4. port sets no longer desired lose their slices; when nothing would remain, a placeholder
   slice without endpoints or ports is kept or created;
5. creates that replace deletes of the same address type become updates of those slices.

Departures: Kubernetes fills slices from a hash set and orders ports by hash; here endpoints
go in pod-name order and ports in the Service's order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import msgspec

from impl.controllers import endpoints_util as eu
from impl.controllers.objects import deleting, is_ready, labels, meta, uid
from models.k8s.base import FrozenMap
from models.k8s.core.node import Node
from models.k8s.core.pod import Pod
from models.k8s.core.reference import ObjectReference
from models.k8s.core.service import Service
from models.k8s.discovery import Endpoint, EndpointConditions, EndpointSlice, EndpointSlicePort
from models.k8s.meta import ObjectMeta, OwnerReference

LABEL_SERVICE_NAME = "kubernetes.io/service-name"
LABEL_MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
CONTROLLER_NAME = "endpointslice-controller.k8s.io"
LABEL_ZONE = "topology.kubernetes.io/zone"
RESERVED = (LABEL_SERVICE_NAME, LABEL_MANAGED_BY, eu.HEADLESS_LABEL)

PortsKey = tuple[tuple[str, int, str, str], ...]
EndpointKey = tuple[tuple[str, ...], str, str, str]


@dataclass
class Plan:
    creates: list[EndpointSlice] = field(default_factory=list)
    updates: list[EndpointSlice] = field(default_factory=list)
    deletes: list[EndpointSlice] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def address_types(service: Service) -> tuple[str, ...]:
    """``getAddressTypesForService``."""
    spec = service.spec
    families = tuple(spec.ip_families or ()) if spec else ()
    found = [t for t in ("IPv4", "IPv6") if t in families]
    if found:
        return tuple(found)
    if eu.is_service_ip_set(service):
        return ("IPv6",) if eu.is_ipv6((spec.cluster_ip or "") if spec else "") else ("IPv4",)
    return ("IPv4", "IPv6")


def endpoint_ports(service: Service, pod: Pod) -> tuple[EndpointSlicePort, ...]:
    """``getEndpointPorts``: one per Service port whose target the pod has."""
    spec = service.spec
    ports = tuple(spec.ports or ()) if spec else ()
    found = []
    for port in ports:
        number = eu.find_port(pod, port)
        if number is None:
            continue
        found.append(
            EndpointSlicePort(
                name=port.name or "",
                protocol=port.protocol,
                port=number,
                app_protocol=port.app_protocol,
            )
        )
    return tuple(found)


def _ports_key(ports: tuple[EndpointSlicePort, ...] | None) -> PortsKey:
    return tuple(
        sorted(
            (p.name or "", p.port or 0, p.protocol or "", p.app_protocol or "") for p in ports or ()
        )
    )


def endpoint_key(endpoint: Endpoint) -> EndpointKey:
    """``hashEndpoint``: sorted addresses, hostname, and the target's namespace and name."""
    ref = endpoint.target_ref
    return (
        tuple(sorted(endpoint.addresses or ())),
        endpoint.hostname or "",
        (ref.namespace or "") if ref else "",
        (ref.name or "") if ref else "",
    )


def _equal_beyond_hash(a: Endpoint, b: Endpoint) -> bool:
    """``EndpointsEqualBeyondHash``."""
    conditions_a = a.conditions or EndpointConditions()
    conditions_b = b.conditions or EndpointConditions()

    def ref(e: Endpoint) -> ObjectReference | None:
        return (
            msgspec.structs.replace(e.target_ref, resource_version=None) if e.target_ref else None
        )

    return (
        a.node_name == b.node_name
        and a.zone == b.zone
        and conditions_a == conditions_b
        and ref(a) == ref(b)
        and a.hints == b.hints
    )


def to_endpoint(pod: Pod, node: Node | None, service: Service, address_type: str) -> Endpoint:
    """``podToEndpoint``."""
    serving = is_ready(pod)
    terminating = deleting(pod)
    publish = bool(service.spec.publish_not_ready_addresses) if service.spec else False
    ready = publish or (serving and not terminating)
    spec = pod.spec
    node_name = (spec.node_name or "") if spec else ""
    zone = labels(node).get(LABEL_ZONE) if node is not None else None
    return Endpoint(
        addresses=tuple(ip for ip in eu.pod_ips(pod) if eu.is_ipv6(ip) == (address_type == "IPv6")),
        conditions=EndpointConditions(ready=ready, serving=serving, terminating=terminating),
        target_ref=ObjectReference(
            kind="Pod", namespace=meta(pod).namespace or "", name=meta(pod).name or "", uid=uid(pod)
        ),
        node_name=node_name or None,
        zone=zone or None,
        hostname=(spec.hostname if spec else None)
        if eu.should_set_hostname(pod, service)
        else None,
    )


def slice_labels(current: EndpointSlice | None, service: Service) -> tuple[dict[str, str], bool]:
    """``setEndpointSliceLabels``: the Service's labels plus the reserved ones; changed?"""
    mine = {k: v for k, v in (labels(current) if current else {}).items() if k not in RESERVED}
    theirs = {k: v for k, v in labels(service).items() if k not in RESERVED}
    changed = mine != theirs
    if eu.is_service_ip_set(service):
        theirs.pop(eu.HEADLESS_LABEL, None)
    else:
        theirs[eu.HEADLESS_LABEL] = ""
    theirs[LABEL_SERVICE_NAME] = meta(service).name or ""
    theirs[LABEL_MANAGED_BY] = CONTROLLER_NAME
    return theirs, changed


def new_slice(
    service: Service, address_type: str, ports: tuple[EndpointSlicePort, ...]
) -> EndpointSlice:
    """``newEndpointSlice``: generateName ``<service>-``, owned by the Service."""
    slice_labels_, _ = slice_labels(None, service)
    owner = OwnerReference(
        api_version="v1",
        kind="Service",
        name=meta(service).name or "",
        uid=uid(service),
        controller=True,
        block_owner_deletion=True,
    )
    return EndpointSlice(
        api_version="discovery.k8s.io/v1",
        kind="EndpointSlice",
        metadata=ObjectMeta(
            generate_name=f"{meta(service).name or ''}-",
            namespace=meta(service).namespace,
            labels=FrozenMap(slice_labels_),
            owner_references=(owner,),
        ),
        address_type=address_type,
        ports=ports,
        endpoints=(),
    )


def _owned_by(endpoint_slice: EndpointSlice, service: Service) -> bool:
    return any(
        ref.uid == uid(service) and ref.kind == "Service" and ref.api_version == "v1"
        for ref in meta(endpoint_slice).owner_references or ()
    )


def _is_placeholder(endpoint_slice: EndpointSlice, service: Service, address_type: str) -> bool:
    """``placeholderSliceCompare``: namespace, labels, address type, no endpoints, no ports."""
    expected_labels, _ = slice_labels(None, service)
    return (
        meta(endpoint_slice).namespace == meta(service).namespace
        and labels(endpoint_slice) == expected_labels
        and endpoint_slice.address_type == address_type
        and not endpoint_slice.endpoints
        and not endpoint_slice.ports
    )


def _with(
    endpoint_slice: EndpointSlice, endpoints: list[Endpoint], slice_labels_: dict[str, str]
) -> EndpointSlice:
    return msgspec.structs.replace(
        endpoint_slice,
        endpoints=tuple(endpoints),
        metadata=msgspec.structs.replace(meta(endpoint_slice), labels=FrozenMap(slice_labels_)),
    )


def _by_port_mapping(
    service: Service,
    existing: list[EndpointSlice],
    desired: dict[EndpointKey, Endpoint],
    ports: tuple[EndpointSlicePort, ...],
    address_type: str,
    max_per_slice: int,
) -> tuple[list[EndpointSlice], list[EndpointSlice], list[EndpointSlice]]:
    """``reconcileByPortMapping``: creates, updates, deletes for one port set."""
    remaining = dict(desired)
    by_name: dict[str, EndpointSlice] = {}
    unchanged: list[str] = []
    to_update: list[str] = []
    to_delete: list[str] = []
    for current in existing:
        name = meta(current).name or ""
        by_name[name] = current
        kept: list[Endpoint] = []
        updated = False
        for endpoint in current.endpoints or ():
            wanted = remaining.pop(endpoint_key(endpoint), None)
            if wanted is not None:
                kept.append(wanted)
                updated = updated or not _equal_beyond_hash(wanted, endpoint)
        new_labels, labels_changed = slice_labels(current, service)
        if updated or len(kept) != len(current.endpoints or ()):
            if not kept:
                to_delete.append(name)
            else:
                by_name[name] = _with(current, kept, new_labels)
                to_update.append(name)
        elif labels_changed:
            by_name[name] = _with(current, kept, new_labels)
            to_update.append(name)
        else:
            unchanged.append(name)
    queue = [remaining[k] for k in sorted(remaining, key=lambda k: (k[3], k))]
    if queue and to_update:
        for name in sorted(to_update, key=lambda n: -len(by_name[n].endpoints or ())):
            target = by_name[name]
            room = max_per_slice - len(target.endpoints or ())
            if room > 0 and queue:
                taken, queue = queue[:room], queue[room:]
                by_name[name] = msgspec.structs.replace(
                    target, endpoints=(*(target.endpoints or ()), *taken)
                )
    creates: list[EndpointSlice] = []
    while queue:
        fill: str | None = None
        if len(queue) < max_per_slice and unchanged:
            fitting = [
                n
                for n in unchanged
                if len(by_name[n].endpoints or ()) + len(queue) <= max_per_slice
            ]
            if fitting:
                fill = max(fitting, key=lambda n: len(by_name[n].endpoints or ()))
        target = by_name[fill] if fill is not None else new_slice(service, address_type, ports)
        room = max_per_slice - len(target.endpoints or ())
        taken, queue = queue[:room], queue[room:]
        target = msgspec.structs.replace(target, endpoints=(*(target.endpoints or ()), *taken))
        if fill is not None:
            by_name[fill] = target
            to_update.append(fill)
            unchanged.remove(fill)
        else:
            creates.append(target)
    return (
        creates,
        [by_name[n] for n in to_update],
        [by_name[n] for n in to_delete],
    )


def _by_address_type(
    service: Service,
    pods: list[Pod],
    existing: list[EndpointSlice],
    node_of: Callable[[str], Node | None],
    max_per_slice: int,
    address_type: str,
    plan: Plan,
) -> tuple[list[EndpointSlice], list[EndpointSlice], list[EndpointSlice]]:
    creates: list[EndpointSlice] = []
    updates: list[EndpointSlice] = []
    deletes: list[EndpointSlice] = []
    existing_by_ports: dict[PortsKey, list[EndpointSlice]] = {}
    for current in existing:
        if _owned_by(current, service):
            existing_by_ports.setdefault(_ports_key(current.ports), []).append(current)
        else:
            deletes.append(current)
    desired: dict[PortsKey, dict[EndpointKey, Endpoint]] = {}
    desired_ports: dict[PortsKey, tuple[EndpointSlicePort, ...]] = {}
    publish = bool(service.spec.publish_not_ready_addresses) if service.spec else False
    for pod in sorted(pods, key=lambda p: meta(p).name or ""):
        if not eu.should_be_in_endpoints(pod, True):
            continue
        ports = endpoint_ports(service, pod)
        key = _ports_key(ports)
        desired.setdefault(key, {})
        desired_ports.setdefault(key, ports)
        node_name = (pod.spec.node_name or "") if pod.spec else ""
        node = node_of(node_name)
        if node is None and not publish:
            plan.errors.append(
                f"skipping Pod {meta(pod).name} for Service {meta(service).namespace}/"
                f"{meta(service).name}: Node {node_name} Not Found"
            )
            continue
        endpoint = to_endpoint(pod, node, service, address_type)
        if endpoint.addresses:
            desired[key][endpoint_key(endpoint)] = endpoint
    for key, endpoints in desired.items():
        c, u, d = _by_port_mapping(
            service,
            existing_by_ports.get(key, []),
            endpoints,
            desired_ports[key],
            address_type,
            max_per_slice,
        )
        creates += c
        updates += u
        deletes += d
    for key, slices in existing_by_ports.items():
        if key not in desired:
            deletes += slices
    if len(existing) == len(deletes) and not creates:
        if len(deletes) == 1 and _is_placeholder(deletes[0], service, address_type):
            deletes = []
        else:
            creates.append(new_slice(service, address_type, ()))
    return creates, updates, deletes


def reconcile(
    service: Service,
    pods: list[Pod],
    slices: list[EndpointSlice],
    node_of: Callable[[str], Node | None],
    max_per_slice: int,
    trigger: int,
) -> Plan:
    """The writes that bring a Service's managed slices in line (``Reconcile`` and
    ``finalize``), each written slice annotated with the trigger time (0: annotation removed)."""
    plan = Plan()
    types = address_types(service)
    deletes = [s for s in slices if s.address_type not in types]
    creates: list[EndpointSlice] = []
    updates: list[EndpointSlice] = []
    for address_type in types:
        of_type = [s for s in slices if s.address_type == address_type]
        c, u, d = _by_address_type(
            service, pods, of_type, node_of, max_per_slice, address_type, plan
        )
        creates += c
        updates += u
        deletes += d
    index = 0
    while index < len(deletes) and creates:
        victim = deletes[index]
        last = creates[-1]
        if victim.address_type == last.address_type and _owned_by(victim, service):
            creates.pop()
            reused = msgspec.structs.replace(
                victim,
                endpoints=last.endpoints,
                ports=last.ports,
                metadata=msgspec.structs.replace(meta(victim), labels=meta(last).labels),
            )
            updates.append(reused)
            deletes.pop(index)
        else:
            index += 1
    plan.creates = [_annotated(s, trigger) for s in creates]
    plan.updates = [_annotated(s, trigger) for s in updates]
    plan.deletes = deletes
    return plan


def _annotated(endpoint_slice: EndpointSlice, trigger: int) -> EndpointSlice:
    """``addTriggerTimeAnnotation``."""
    annotations = dict(meta(endpoint_slice).annotation_map())
    if trigger:
        annotations[eu.LAST_CHANGE_TRIGGER_TIME] = eu.rfc3339_seconds(trigger)
    else:
        annotations.pop(eu.LAST_CHANGE_TRIGGER_TIME, None)
    return msgspec.structs.replace(
        endpoint_slice,
        metadata=msgspec.structs.replace(
            meta(endpoint_slice), annotations=FrozenMap(annotations) or None
        ),
    )
