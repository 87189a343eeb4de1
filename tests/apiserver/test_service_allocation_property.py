"""No two Services share a cluster IP or a node port (``spec/apiserver/service_allocations.py``):
hypothesis interleaves Service creates (ClusterIP and NodePort), deletes and changes to
ClusterIP with storage operations and watch events held back and let go in random order, and
whenever the store answers, the Services it holds satisfy the property. The companion stores two
Services that share an address and a port straight into etcd (past the API server) and shows the
check then fails."""

from __future__ import annotations

from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from models.apiserver.messages import ApiRequest, StorageTxn
from models.etcd import PutRequest, TxnRequest
from runner.apiserver.local import LocalApiServer
from spec.apiserver.service_allocations import violations
from tests.apiserver.test_service_allocation import SERVICES, HoldingStore, _send, _service

NAMES = ("a", "b", "c", "d")
actions = st.lists(
    st.one_of(
        st.tuples(
            st.just("create"), st.sampled_from(NAMES), st.sampled_from(("ClusterIP", "NodePort"))
        ),
        st.tuples(st.just("delete"), st.sampled_from(NAMES), st.just("")),
        st.tuples(st.just("to-cluster-ip"), st.sampled_from(NAMES), st.just("")),
        st.tuples(st.sampled_from(("hold-storage", "hold-watch")), st.just(""), st.just("")),
        st.tuples(st.sampled_from(("release-storage", "release-watch")), st.just(""), st.just("")),
    ),
    min_size=1,
    max_size=24,
)


def _held(server: LocalApiServer) -> list[dict[str, Any]]:
    listed = server.call("GET", SERVICES)
    assert listed.status == 200
    items: list[dict[str, Any]] = listed.body["items"]
    return items


@settings(max_examples=60, deadline=None)
@given(steps=actions)
def test_no_two_services_share_an_ip_or_a_node_port(steps: list[tuple[str, str, str]]) -> None:
    store = HoldingStore()
    server = LocalApiServer(store=store)
    for action, name, kind in steps:
        if action == "create":
            _send(server, "POST", SERVICES, _service(name, kind))
        elif action == "delete":
            _send(server, "DELETE", f"{SERVICES}/{name}")
        elif action == "to-cluster-ip":
            patch = {"spec": {"type": "ClusterIP", "ports": [{"port": 80}]}}
            server.send(_merge_patch(f"{SERVICES}/{name}", msgspec.json.encode(patch)))
        elif action == "hold-storage":
            store.hold_storage = True
        elif action == "hold-watch":
            store.hold_watch = True
        elif action == "release-storage":
            store.release_storage()
            assert violations(_held(server)) == []
        else:
            store.release_watch()
    store.release_storage()
    store.release_watch()
    assert violations(_held(server)) == []


def _merge_patch(path: str, body: bytes) -> ApiRequest:
    return ApiRequest(
        method="PATCH",
        path=path,
        content_type="application/merge-patch+json",
        accept="application/json",
        body=body,
    )


def test_companion_services_stored_past_the_server_sharing_an_ip_and_port_fail_the_check() -> None:
    store = HoldingStore()
    puts = []
    for name in ("x", "y"):
        service = _service(name, clusterIP="10.0.0.77")
        service["metadata"]["namespace"] = "default"
        service["spec"]["ports"][0]["nodePort"] = 30500
        key = f"/registry/services/specs/default/{name}".encode()
        puts.append(PutRequest(key=key, value=msgspec.json.encode(service)))
    store.submit(
        StorageTxn(operation_id=0, request=TxnRequest(compare=(), success=tuple(puts), failure=())),
        lambda _: None,
    )
    server = LocalApiServer(store=store)
    assert violations(_held(server)) == [
        "cluster IP 10.0.0.77 is held by default/x and default/y",
        "node port 30500 is held by default/x and default/y",
    ]
