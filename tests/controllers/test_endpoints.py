"""The Endpoints and EndpointSlice controllers (endpoints_controller.go, k8s.io/endpointslice,
v1.35). Expected values come from the documented semantics: the Service docs ("Endpoints",
"EndpointSlices": 100 endpoints per slice, conditions ready/serving/terminating,
publishNotReadyAddresses) and the well-known labels and annotations reference
(kubernetes.io/service-name, endpointslice.kubernetes.io/managed-by,
endpoints.kubernetes.io/last-change-trigger-time, endpoints.kubernetes.io/over-capacity)."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

from impl.controllers import (
    deployment,
    endpoints,
    endpointslice,
    endpointslice_reconcile,
    garbagecollector,
    replicaset,
)
from impl.controllers import endpoints_util as eu
from impl.controllers.cache import decode
from impl.controllers.objects import meta
from models.apiserver.clock import rfc3339
from models.controllers.resources import RESOURCES
from models.k8s.core.node import Node
from models.k8s.core.pod import Pod
from models.k8s.core.service import Service
from models.k8s.discovery import EndpointSlice
from runner.controllers.local import LocalCluster
from tests.controllers.cluster import DEPLOYMENTS, PODS, create, deployment_body, merge_patch

T0 = 1_767_225_600
T = TypeVar("T")
SERVICES = "/api/v1/namespaces/default/services"
SLICES = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"
ENDPOINTS = "/api/v1/namespaces/default/endpoints"


def typed(resource: str, body: dict[str, Any], model: type[T]) -> T:
    obj = decode(RESOURCES[resource], msgspec.json.encode(body), metadata_only=False)
    assert isinstance(obj, model)
    return obj


def pod(
    name: str,
    ip: str | None = "10.0.0.1",
    ready: bool = True,
    ready_at: int = T0,
    deleting: bool = False,
    phase: str = "Running",
    node: str = "node-1",
    ports: list[dict[str, Any]] | None = None,
    app: str = "web",
    **spec: Any,
) -> Pod:
    status: dict[str, Any] = {
        "phase": phase,
        "conditions": [
            {
                "type": "Ready",
                "status": "True" if ready else "False",
                "lastTransitionTime": rfc3339(ready_at),
            }
        ],
    }
    if ip is not None:
        status["podIP"] = ip
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": "default",
        "uid": f"uid-{name}",
        "resourceVersion": "1",
        "labels": {"app": app},
    }
    if deleting:
        metadata["deletionTimestamp"] = rfc3339(T0)
    body = {
        "metadata": metadata,
        "spec": {
            "nodeName": node,
            "containers": [{"name": "c", "image": "nginx", "ports": ports or []}],
            **spec,
        },
        "status": status,
    }
    return typed("pods", body, Pod)


def service(ports: list[dict[str, Any]] | None = None, created: int = T0, **spec: Any) -> Service:
    body = {
        "metadata": {
            "name": "web",
            "namespace": "default",
            "uid": "svc-uid",
            "creationTimestamp": rfc3339(created),
            "labels": {"tier": "front"},
        },
        "spec": {
            "selector": {"app": "web"},
            "clusterIP": "10.96.0.10",
            "ipFamilies": ["IPv4"],
            "ports": ports
            if ports is not None
            else [{"port": 80, "targetPort": 8080, "protocol": "TCP"}],
            **spec,
        },
    }
    return typed("services", body, Service)


def node(name: str = "node-1", zone: str | None = "zone-a") -> Node:
    metadata: dict[str, Any] = {"name": name}
    if zone:
        metadata["labels"] = {"topology.kubernetes.io/zone": zone}
    return typed("nodes", {"metadata": metadata}, Node)


def ips(addresses: Any) -> list[str]:
    return [a.ip for a in addresses or ()]


# Endpoints ------------------------------------------------------------------------------------


def test_ready_pods_are_addresses_and_unready_ones_not_ready_addresses() -> None:
    pods = [
        pod("a", "10.0.0.1"),
        pod("b", "10.0.0.2", ready=False),
        pod("c", None),
        pod("d", "10.0.0.4", phase="Succeeded"),
        pod("e", "10.0.0.5", deleting=True),
    ]
    (subset,) = endpoints.desired_subsets(service(), pods)
    assert ips(subset.addresses) == ["10.0.0.1"]
    assert ips(subset.not_ready_addresses) == ["10.0.0.2"]
    (port,) = subset.ports or ()
    assert (port.port, port.protocol) == (8080, "TCP")
    address = (subset.addresses or ())[0]
    assert address.node_name == "node-1"
    assert address.target_ref is not None
    assert (address.target_ref.kind, address.target_ref.name) == ("Pod", "a")


def test_publish_not_ready_addresses_lists_every_pod_with_an_ip_as_ready() -> None:
    pods = [
        pod("a", "10.0.0.1"),
        pod("b", "10.0.0.2", ready=False),
        pod("e", "10.0.0.5", deleting=True),
    ]
    (subset,) = endpoints.desired_subsets(service(publishNotReadyAddresses=True), pods)
    assert ips(subset.addresses) == ["10.0.0.1", "10.0.0.2", "10.0.0.5"]
    assert not subset.not_ready_addresses


def test_a_named_target_port_resolves_per_pod_and_each_port_lists_its_own_addresses() -> None:
    ports = [
        {"name": "http", "port": 80, "targetPort": "web", "protocol": "TCP"},
        {"name": "metrics", "port": 9090, "targetPort": 9090, "protocol": "TCP"},
    ]
    pods = [
        pod("a", "10.0.0.1", ports=[{"name": "web", "containerPort": 8080}]),
        pod("b", "10.0.0.2", ports=[{"name": "web", "containerPort": 8081}]),
        pod("c", "10.0.0.3"),
    ]
    subsets = endpoints.desired_subsets(service(ports), pods)
    offered = {tuple((p.name, p.port) for p in s.ports or ()): ips(s.addresses) for s in subsets}
    # A subset is addresses x ports: each port goes with exactly the addresses offering it.
    assert offered == {
        (("http", 8080),): ["10.0.0.1"],
        (("http", 8081),): ["10.0.0.2"],
        (("metrics", 9090),): ["10.0.0.1", "10.0.0.2", "10.0.0.3"],
    }


def test_over_a_thousand_addresses_are_truncated_not_ready_first() -> None:
    pods = [pod(f"p{i:04d}", f"10.1.{i // 250}.{i % 250}") for i in range(990)]
    pods += [pod(f"q{i:02d}", f"10.2.0.{i}", ready=False) for i in range(20)]
    subsets, truncated = endpoints.truncate(endpoints.desired_subsets(service(), pods))
    assert truncated
    (subset,) = subsets
    assert (len(subset.addresses or ()), len(subset.not_ready_addresses or ())) == (990, 10)


def test_trigger_time_is_the_service_creation_first_then_the_earliest_change() -> None:
    svc = service(created=T0 - 100)
    tracker = eu.TriggerTracker()
    tracker, first = eu.trigger_time(tracker, "default/web", svc, [pod("a", ready_at=T0 - 50)])
    assert first == T0 - 100
    tracker, same = eu.trigger_time(tracker, "default/web", svc, [pod("a", ready_at=T0 - 50)])
    assert same == 0
    changed = [pod("a", ready_at=T0 + 7), pod("b", ready_at=T0 + 3)]
    tracker, moved = eu.trigger_time(tracker, "default/web", svc, changed)
    assert moved == T0 + 3


# EndpointSlices ------------------------------------------------------------------------------


def reconcile(
    pods: list[Pod], slices: list[EndpointSlice] | None = None, svc: Service | None = None
) -> endpointslice_reconcile.Plan:
    nodes = {"node-1": node()}
    return endpointslice_reconcile.reconcile(
        svc or service(), pods, slices or [], nodes.get, 100, T0
    )


def test_two_hundred_fifty_pods_make_slices_of_100_100_50() -> None:
    pods = [pod(f"p{i:03d}", f"10.1.{i // 200}.{i % 200}") for i in range(250)]
    plan = reconcile(pods)
    assert sorted(len(s.endpoints or ()) for s in plan.creates) == [50, 100, 100]
    first = plan.creates[0]
    assert dict(first.metadata.label_map()) == {  # type: ignore[union-attr]
        "tier": "front",
        "kubernetes.io/service-name": "web",
        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
    }
    assert first.metadata is not None
    assert first.metadata.generate_name == "web-"
    assert dict(first.metadata.annotation_map()) == {
        "endpoints.kubernetes.io/last-change-trigger-time": rfc3339(T0)
    }
    (port,) = first.ports or ()
    assert (port.name, port.port, port.protocol) == ("", 8080, "TCP")
    assert first.address_type == "IPv4"


def test_conditions_zone_and_node_of_each_endpoint() -> None:
    pods = [
        pod("a", "10.0.0.1"),
        pod("b", "10.0.0.2", ready=False),
        pod("t", "10.0.0.3", deleting=True),
    ]
    (created,) = reconcile(pods).creates
    got = {
        (e.target_ref.name if e.target_ref else ""): (
            e.conditions.ready if e.conditions else None,
            e.conditions.serving if e.conditions else None,
            e.conditions.terminating if e.conditions else None,
            e.node_name,
            e.zone,
        )
        for e in created.endpoints or ()
    }
    assert got == {
        "a": (True, True, False, "node-1", "zone-a"),
        "b": (False, False, False, "node-1", "zone-a"),
        "t": (False, True, True, "node-1", "zone-a"),
    }
    (published,) = reconcile(pods, svc=service(publishNotReadyAddresses=True)).creates
    assert all(e.conditions and e.conditions.ready for e in published.endpoints or ())


def test_a_pod_on_an_unknown_node_is_left_out_with_an_error() -> None:
    plan = reconcile([pod("a", "10.0.0.1"), pod("b", "10.0.0.2", node="gone")])
    (created,) = plan.creates
    assert [e.addresses for e in created.endpoints or ()] == [("10.0.0.1",)]
    assert plan.errors == ["skipping Pod b for Service default/web: Node gone Not Found"]


def test_no_pods_give_one_placeholder_slice_which_is_then_kept() -> None:
    plan = reconcile([])
    (placeholder,) = plan.creates
    assert (placeholder.endpoints, placeholder.ports) == ((), ())
    stored = msgspec.structs.replace(
        placeholder,
        metadata=msgspec.structs.replace(meta(placeholder), name="web-abcde", uid="s1"),
    )
    again = reconcile([], [stored])
    assert (again.creates, again.updates, again.deletes) == ([], [], [])


def _stored(plan: endpointslice_reconcile.Plan) -> list[EndpointSlice]:
    return [
        msgspec.structs.replace(
            s,
            metadata=msgspec.structs.replace(meta(s), name=f"web-{i}", uid=f"s{i}"),
        )
        for i, s in enumerate(plan.creates)
    ]


def test_a_removed_pod_updates_only_its_slice_and_a_new_pod_fills_it() -> None:
    pods = [pod(f"p{i:03d}", f"10.1.0.{i}") for i in range(150)]
    stored = _stored(reconcile(pods))
    plan = reconcile(pods[1:], stored)
    (updated,) = plan.updates
    assert (plan.creates, plan.deletes) == ([], [])
    assert len(updated.endpoints or ()) == 99
    plan = reconcile([*pods, pod("z", "10.9.9.9")], stored)
    (filled,) = plan.updates
    assert len(filled.endpoints or ()) == 51
    assert plan.creates == []


def test_slices_of_an_address_type_the_service_lost_are_deleted() -> None:
    stored = _stored(reconcile([pod("a", "10.0.0.1")]))
    plan = reconcile(
        [pod("a", "fd00::1")], stored, service(ipFamilies=["IPv6"], clusterIP="fd00::a")
    )
    assert [s.metadata.name for s in plan.deletes] == ["web-0"]  # type: ignore[union-attr]
    # The create of the IPv6 slice cannot reuse the IPv4 slice (addressType is immutable).
    assert [s.address_type for s in plan.creates] == ["IPv6"]
    assert [s.address_type for s in plan.updates] == []


# Both controllers on the reference API server -------------------------------------------------


def local() -> LocalCluster:
    return LocalCluster(
        [
            replicaset.DEFINITION,
            deployment.DEFINITION,
            garbagecollector.DEFINITION,
            endpoints.DEFINITION,
            endpointslice.DEFINITION,
        ]
    )


def web_service(c: LocalCluster) -> None:
    body = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
    }
    create(c, SERVICES, body)


def ready_pod_ips(c: LocalCluster) -> list[str]:
    return sorted(
        p["status"]["podIP"]
        for p in c.items(PODS)
        if not p["metadata"].get("deletionTimestamp")
        and p.get("status", {}).get("podIP")
        and any(
            cond["type"] == "Ready" and cond["status"] == "True"
            for cond in p["status"].get("conditions", ())
        )
    )


def endpoint_ips(c: LocalCluster) -> list[str]:
    found = c.get(f"{ENDPOINTS}/web")
    return sorted(a["ip"] for s in found.get("subsets") or () for a in s.get("addresses") or ())


def slice_ips(c: LocalCluster) -> list[str]:
    return sorted(
        address
        for s in c.items(SLICES)
        if s["metadata"]["labels"].get("kubernetes.io/service-name") == "web"
        for e in s.get("endpoints") or ()
        if e["conditions"]["ready"]
        for address in e["addresses"]
    )


def test_endpoints_and_slices_follow_a_deployment_as_it_scales() -> None:
    c = local()
    create(c, DEPLOYMENTS, deployment_body(replicas=3))
    web_service(c)
    c.settle()
    assert len(ready_pod_ips(c)) == 3
    assert endpoint_ips(c) == slice_ips(c) == ready_pod_ips(c)
    merge_patch(c, f"{DEPLOYMENTS}/web", {"spec": {"replicas": 5}})
    c.settle()
    assert len(endpoint_ips(c)) == 5
    assert endpoint_ips(c) == slice_ips(c) == ready_pod_ips(c)
    merge_patch(c, f"{DEPLOYMENTS}/web", {"spec": {"replicas": 1}})
    c.settle()
    assert len(endpoint_ips(c)) == 1
    assert endpoint_ips(c) == slice_ips(c) == ready_pod_ips(c)
    (stored,) = [s for s in c.items(SLICES) if s["metadata"]["generateName"] == "web-"]
    assert stored["metadata"]["ownerReferences"][0]["kind"] == "Service"


def test_deleting_the_service_deletes_its_endpoints_and_the_gc_its_slices() -> None:
    c = local()
    create(c, DEPLOYMENTS, deployment_body(replicas=2))
    web_service(c)
    c.settle()
    assert c.get(f"{ENDPOINTS}/web") is not None
    assert c.api.call("DELETE", f"{SERVICES}/web").status == 200
    c.settle()
    assert c.get(f"{ENDPOINTS}/web") is None
    assert [s for s in c.items(SLICES) if s["metadata"]["name"].startswith("web-")] == []


def test_leftover_endpoints_without_a_service_are_deleted_on_start() -> None:
    c = LocalCluster([], run_pods=False)
    orphan = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "gone"}}
    create(c, ENDPOINTS, orphan)
    leader = {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {
            "name": "lock",
            "annotations": {"control-plane.alpha.kubernetes.io/leader": "{}"},
        },
    }
    create(c, ENDPOINTS, leader)
    _attach(c).settle(pods=False)
    assert c.get(f"{ENDPOINTS}/gone") is None
    assert c.get(f"{ENDPOINTS}/lock") is not None


def _attach(c: LocalCluster) -> LocalCluster:
    """The Endpoints controller started against ``c``'s API server."""
    from runner.controllers.local import Hosted

    c.hosts = {endpoints.NAME: Hosted(endpoints.DEFINITION, c.config, c.now_ms)}
    c._start_informers()
    return c


def test_the_api_server_bumps_a_slices_generation_on_endpoint_changes_only() -> None:
    """The slice tracker relies on it (discovery's EndpointSlice strategy: generation 1 on
    create, +1 when anything but metadata changes)."""
    c = LocalCluster([], run_pods=False)
    body: dict[str, Any] = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": "s", "namespace": "default"},
        "addressType": "IPv4",
        "endpoints": [],
    }
    create(c, SLICES, body)
    assert c.get(f"{SLICES}/s")["metadata"]["generation"] == 1
    merge_patch(c, f"{SLICES}/s", {"metadata": {"labels": {"a": "b"}}})
    assert c.get(f"{SLICES}/s")["metadata"]["generation"] == 1
    merge_patch(c, f"{SLICES}/s", {"endpoints": [{"addresses": ["10.0.0.1"]}]})
    assert c.get(f"{SLICES}/s")["metadata"]["generation"] == 2
