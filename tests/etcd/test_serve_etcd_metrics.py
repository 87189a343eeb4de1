"""``GET /metrics`` on ``serve etcd``'s port (real etcd serves it on its client URL): after some
puts over the JSON gateway, etcd 3.4's proposal, key and database families have moved; an open
watch shows in the watcher gauge; a one-member and a three-member reference both have a leader.
Names, types and HELP texts are etcd 3.4.23's (compared with curl against the real etcd)."""

from __future__ import annotations

import base64
import json
import socket
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from runner.etcd.backend import Backend, SingleMemberBackend, make_backend
from runner.etcd.server import GatewayServer, start_in_thread
from tests.etcd.raw_http import address, post


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.fixture(params=[0, 3], ids=["single", "three-members"])
def gateway(request: pytest.FixtureRequest) -> Iterator[str]:
    backend: Backend = SingleMemberBackend() if request.param == 0 else make_backend(3)
    server = GatewayServer(("127.0.0.1", 0), backend)
    thread = start_in_thread(server)
    try:
        yield server.url
    finally:
        server.close()
        thread.join(timeout=5)


def scrape(url: str) -> tuple[dict[str, float], str]:
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
        content_type = response.headers["content-type"]
        text = response.read().decode()
    samples = {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if not sample.labels
    }
    return samples, content_type


def put(url: str, key: str, value: str) -> None:
    body = json.dumps({"key": b64(key), "value": b64(value)}).encode()
    request = urllib.request.Request(f"{url}/v3/kv/put", data=body, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def delete(url: str, key: str) -> None:
    body = json.dumps({"key": b64(key)}).encode()
    request = urllib.request.Request(f"{url}/v3/kv/deleterange", data=body, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def test_counters_move_after_puts(gateway: str) -> None:
    before, content_type = scrape(gateway)
    for index in range(3):
        put(gateway, f"k{index}", "v")
    put(gateway, "k0", "again")
    delete(gateway, "k2")
    after, _ = scrape(gateway)
    assert content_type.startswith("text/plain; version=0.0.4")
    assert after["etcd_server_has_leader"] == 1
    assert after["etcd_server_leader_changes_seen_total"] >= 1
    # Five writes, each one committed and applied entry.
    committed = "etcd_server_proposals_committed_total"
    assert after[committed] - before[committed] >= 5
    assert (
        after["etcd_server_proposals_applied_total"]
        >= before["etcd_server_proposals_applied_total"] + 5
    )
    assert after["etcd_server_proposals_pending"] == 0
    assert after["etcd_server_proposals_failed_total"] == 0
    assert before["etcd_debugging_mvcc_keys_total"] == 0
    assert after["etcd_debugging_mvcc_keys_total"] == 2  # k0, k1 (k2 deleted)
    assert after["etcd_mvcc_db_total_size_in_bytes"] > before["etcd_mvcc_db_total_size_in_bytes"]
    assert after["process_start_time_seconds"] > 0


def test_an_open_watch_is_a_watcher(gateway: str) -> None:
    watch = socket.create_connection(address(gateway), timeout=10)
    try:
        watch.sendall(post("/v3/watch", b'{"create_request":{"key":"YQ=="}}'))
        received = watch.recv(4096)
        while b"created" not in received:
            received += watch.recv(4096)
        assert received.startswith(b"HTTP/1.1 200")
        samples, _ = scrape(gateway)
    finally:
        watch.close()
    assert samples["etcd_debugging_mvcc_watcher_total"] == 1


def test_metrics_answers_any_method_as_etcd_does(gateway: str) -> None:
    """etcd 3.4.23 answers ``POST /metrics`` 200 with the metrics (seen with curl)."""
    request = urllib.request.Request(f"{gateway}/metrics", data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        assert b"# TYPE etcd_server_has_leader gauge" in response.read()
