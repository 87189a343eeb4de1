"""Fuzz tier for the API server: hypothesis-generated requests (paths, methods, queries, media
types, bodies: malformed JSON and YAML, wrong types, deep nesting, huge numbers) against the
machine on the reference etcd. Every request gets an answer (or a watch) with a Status for an
error; nothing raises; and afterwards the server still creates and reads objects.

Marked ``http_fuzz``; bounded by the hypothesis profile (``ci``: 200 examples per test)."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from impl.apiserver.context import Config, builtin_config
from models.apiserver.messages import ApiRequest
from runner.apiserver.local import LocalApiServer
from runner.apiserver.server import ApiHttpServer, start_in_thread

pytestmark = pytest.mark.http_fuzz

CONFIG: Config = builtin_config()
ERROR_CODES = frozenset({400, 403, 404, 405, 406, 409, 410, 413, 415, 422, 429, 500, 503, 504})
SEGMENTS = ("api", "apis", "v1", "apps", "namespaces", "default", "pods", "configmaps",
            "deployments", "scale", "status", "binding", "eviction", "finalize", "p1", "x",
            "nodes", "..", "%2F", "openapi", "v3", "version", "healthz", "", "watch")  # fmt: skip
QUERY_KEYS = ("watch", "resourceVersion", "limit", "continue", "labelSelector", "fieldSelector",
              "fieldValidation", "fieldManager", "force", "timeoutSeconds", "dryRun",
              "propagationPolicy", "resourceVersionMatch", "allowWatchBookmarks")  # fmt: skip
MEDIA = ("application/json", "application/yaml", "application/merge-patch+json",
         "application/strategic-merge-patch+json", "application/json-patch+json",
         "application/apply-patch+yaml", "text/plain", "",
         "application/json; charset=utf-8")  # fmt: skip
FIELDS = ("apiVersion", "kind", "metadata", "name", "namespace", "generateName", "labels",
          "spec", "status", "data", "containers", "image", "replicas", "selector",
          "matchLabels", "resourceVersion", "finalizers", "op", "path", "value",
          "$patch")  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(1 << 70), max_value=1 << 70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=10),
    st.sampled_from(["v1", "Pod", "ConfigMap", "apps/v1", "p1", "", "9999999999999"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=5), inner, max_size=5),
    ),
    max_leaves=25,
)
bodies = st.one_of(
    values.map(lambda value: json.dumps(value).encode()),
    st.binary(max_size=80),
    values.map(lambda value: json.dumps(value).encode()[:-1]),
    st.just(b"[" * 5000),
    st.just(b"a: &x [*x]"),
)
requests = st.builds(
    ApiRequest,
    method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]),
    path=st.lists(st.sampled_from(SEGMENTS), max_size=7).map(lambda parts: "/" + "/".join(parts)),
    query=st.lists(st.tuples(st.sampled_from(QUERY_KEYS), st.text(max_size=8)), max_size=4).map(
        tuple
    ),
    content_type=st.sampled_from(MEDIA),
    accept=st.sampled_from(
        ["application/json", "application/json;as=Table;v=v1;g=meta.k8s.io", ""]
    ),
    body=bodies,
)


def _still_serves(server: LocalApiServer) -> None:
    name = f"after-{server._next_request}"
    created = server.call(
        "POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": name}}
    )
    assert created.status == 201, created.body
    assert server.call("GET", f"/api/v1/namespaces/default/configmaps/{name}").status == 200


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(batch=st.lists(requests, min_size=1, max_size=5))
def test_any_request_gets_an_answer_and_the_server_keeps_working(batch: list[ApiRequest]) -> None:
    server = LocalApiServer(config=CONFIG)
    # Objects for the generated paths to hit: updates, patches and subresources reach them.
    pod = {"metadata": {"name": "p1"}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
    server.call("POST", "/api/v1/namespaces/default/pods", pod)
    server.call("POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "x"}})
    for request in batch:
        request_id = server.send(request)
        answer = server.recorder.answers.get(request_id)
        if answer is None:
            assert request_id in server.recorder.streams  # a watch was started instead
            continue
        if answer.status >= 400:
            assert answer.status in ERROR_CODES, answer
            status: Any = msgspec.json.decode(answer.body)
            assert status["kind"] == "Status"
            assert status["code"] == answer.status
    _still_serves(server)


@pytest.fixture(scope="module")
def http_server() -> Iterator[tuple[str, int]]:
    server = ApiHttpServer(("127.0.0.1", 0), CONFIG)
    thread = start_in_thread(server)
    try:
        yield server.server_address
    finally:
        server.close()
        thread.join(timeout=10)


def _healthy(address: tuple[str, int]) -> bool:
    connection = http.client.HTTPConnection(*address, timeout=5)
    try:
        connection.request("GET", "/healthz")
        return connection.getresponse().status == 200
    finally:
        connection.close()


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(garbage=st.binary(min_size=1, max_size=300) | st.sampled_from([
    b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    b"POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\n"
    b"Transfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"GET /api/v1/pods?watch=true HTTP/1.1\r\nHost: x\r\n\r\n",
    b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",
]))  # fmt: skip
def test_malformed_http_leaves_the_server_serving(
    http_server: tuple[str, int], garbage: bytes
) -> None:
    with socket.create_connection(http_server, timeout=2) as raw:
        raw.sendall(garbage)
        raw.shutdown(socket.SHUT_WR)
        with contextlib.suppress(OSError):
            raw.recv(4096)
    assert _healthy(http_server)
