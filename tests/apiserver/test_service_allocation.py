"""Service cluster IPs and node ports are never handed out twice (kube-apiserver v1.35 reserves
them atomically in etcd): two creates decided before either commits, or one decided on a watch
cache that has not seen the other, get different addresses and ports; a deleted Service, or one
that stops being a NodePort, gives its address and ports back. The in-process machine runs on a
store that holds storage operations and watch events back until the test lets them go."""

from __future__ import annotations

from typing import Any

import msgspec

from models.apiserver.messages import (
    ApiRequest,
    StorageEvents,
    StorageRange,
    StorageTxn,
    StorageWatch,
    StorageWatchLost,
)
from runner.apiserver.driver import StoreCallback, WatchCallback
from runner.apiserver.local import LocalApiServer
from runner.apiserver.local_store import LocalStore

SERVICES = "/api/v1/namespaces/default/services"


class HoldingStore(LocalStore):
    """An in-process etcd whose operations (``hold_storage``) and watch events
    (``hold_watch``) wait until ``release_storage`` / ``release_watch``."""

    def __init__(self) -> None:
        super().__init__()
        self.hold_storage = False
        self.hold_watch = False
        self.operations: list[tuple[StorageRange | StorageTxn, StoreCallback]] = []
        self.events: list[StorageEvents | StorageWatchLost] = []
        self._to: WatchCallback | None = None

    def submit(self, command: StorageRange | StorageTxn, done: StoreCallback) -> None:
        if self.hold_storage:
            self.operations.append((command, done))
        else:
            super().submit(command, done)

    def watch(self, command: StorageWatch, deliver_to: WatchCallback) -> None:
        self._to = deliver_to
        super().watch(command, self._held)

    def _held(self, event: StorageEvents | StorageWatchLost) -> None:
        if self.hold_watch:
            self.events.append(event)
        elif self._to is not None:
            self._to(event)

    def release_storage(self) -> None:
        self.hold_storage = False
        held, self.operations = self.operations, []
        for command, done in held:
            super().submit(command, done)

    def release_watch(self) -> None:
        self.hold_watch = False
        held, self.events = self.events, []
        for event in held:
            if self._to is not None:
                self._to(event)


def _server() -> tuple[LocalApiServer, HoldingStore]:
    store = HoldingStore()
    return LocalApiServer(store=store), store


def _service(name: str, kind: str = "NodePort", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"type": kind, "selector": {"app": name}, "ports": [{"port": 80}], **spec},
    }


def _send(server: LocalApiServer, method: str, path: str, body: Any = None) -> int:
    data = b"" if body is None else msgspec.json.encode(body)
    request = ApiRequest(
        method=method,
        path=path,
        content_type="application/json" if data else "",
        accept="application/json",
        body=data,
    )
    return server.send(request)


def _answer(server: LocalApiServer, request_id: int) -> tuple[int, Any]:
    response = server.recorder.answers.pop(request_id)
    return response.status, msgspec.json.decode(response.body)


def _allocated(body: Any) -> tuple[str, int]:
    return body["spec"]["clusterIP"], body["spec"]["ports"][0]["nodePort"]


def test_creates_decided_before_either_commits_get_distinct_ip_and_port() -> None:
    server, store = _server()
    store.hold_storage = True
    first = _send(server, "POST", SERVICES, _service("a"))
    second = _send(server, "POST", SERVICES, _service("b"))
    assert first not in server.recorder.answers
    assert second not in server.recorder.answers
    assert len(store.operations) == 2  # both decided, neither committed
    store.release_storage()
    (status_a, body_a), (status_b, body_b) = _answer(server, first), _answer(server, second)
    assert (status_a, status_b) == (201, 201)
    ip_a, port_a = _allocated(body_a)
    ip_b, port_b = _allocated(body_b)
    assert ip_a != ip_b
    assert port_a != port_b
    listed = server.call("GET", SERVICES)
    held = [_allocated(item) for item in listed.body["items"] if item["metadata"]["name"] in "ab"]
    assert sorted(held) == sorted([(ip_a, port_a), (ip_b, port_b)])


def test_a_create_decided_on_a_stale_cache_gets_another_ip_and_port() -> None:
    server, store = _server()
    store.hold_watch = True
    created = server.call("POST", SERVICES, _service("a"))
    assert created.status == 201
    later = server.call("POST", SERVICES, _service("b"))  # the cache has not seen "a"
    assert later.status == 201
    assert _allocated(later.body)[0] != _allocated(created.body)[0]
    assert _allocated(later.body)[1] != _allocated(created.body)[1]
    store.release_watch()


def test_a_requested_ip_already_taken_is_refused_even_before_the_cache_sees_it() -> None:
    server, store = _server()
    store.hold_watch = True
    created = server.call("POST", SERVICES, _service("a", "ClusterIP"))
    ip = created.body["spec"]["clusterIP"]
    refused = server.call("POST", SERVICES, _service("b", "ClusterIP", clusterIP=ip))
    assert refused.status == 422
    assert (
        f"failed to allocate IP {ip}: provided IP is already allocated" in (refused.body["message"])
    )
    store.release_watch()


def test_delete_and_type_change_give_ip_and_ports_back() -> None:
    server, _ = _server()
    first = server.call("POST", SERVICES, _service("a"))
    ip, port = _allocated(first.body)
    assert server.call("DELETE", f"{SERVICES}/a").status == 200
    again = server.call("POST", SERVICES, _service("b"))
    assert _allocated(again.body) == (ip, port)  # the lowest free ones are the freed ones
    as_cluster_ip = _service("b", "ClusterIP", clusterIP=ip)
    as_cluster_ip["metadata"]["resourceVersion"] = again.body["metadata"]["resourceVersion"]
    assert server.call("PUT", f"{SERVICES}/b", as_cluster_ip).status == 200
    third = server.call("POST", SERVICES, _service("c"))
    assert third.status == 201
    assert _allocated(third.body)[1] == port
    assert _allocated(third.body)[0] != ip
