"""gRPC probes: ``runner.kubelet.grpc_probe`` against real gRPC servers (grpcio, with
grpcio-health-checking's Health service), the process runtime probing a container that serves
the health protocol, and the simulated runtime following its script for a grpc probe. Expected
outcomes are the kubelet's gRPC prober's (v1.35): only SERVING succeeds."""

from __future__ import annotations

import queue
import sys
import time
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
import msgspec
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from models.k8s.base import decode_hook
from models.k8s.core.pod import Container, Pod, Probe
from models.kubelet.events import (
    ContainerStarted,
    Event,
    ProbeAnswered,
    RunProbe,
    StartContainer,
)
from runner.kubelet import grpc_probe
from runner.kubelet.process import ProcessRuntime
from tests.controllers.manager_process import free_port
from tests.kubelet.harness import Harness, make_pod

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class SlowHealth(health.HealthServicer):
    """Answers SERVING after two seconds."""

    def Check(  # noqa: N802 (the gRPC method's name)
        self, request: health_pb2.HealthCheckRequest, context: grpc.ServicerContext
    ) -> health_pb2.HealthCheckResponse:
        time.sleep(2)
        return health_pb2.HealthCheckResponse(status=SERVING)


@contextmanager
def grpc_server(servicer: health.HealthServicer | None) -> Iterator[int]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    if servicer is not None:
        health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield port
    finally:
        server.stop(0)


def test_only_serving_succeeds() -> None:
    servicer = health.HealthServicer()
    servicer.set("", SERVING)
    servicer.set("db", NOT_SERVING)
    with grpc_server(servicer) as port:
        assert grpc_probe.outcome("127.0.0.1", port, "", 1) == (True, "")
        assert grpc_probe.outcome("127.0.0.1", port, "db", 1) == (
            False,
            "service unhealthy (responded with 'NOT_SERVING')",
        )
        unknown = grpc_probe.outcome("127.0.0.1", port, "cache", 1)
        assert unknown == (False, "error: health rpc probe failed: StatusCode.NOT_FOUND")


def test_a_server_without_the_health_service_is_unimplemented() -> None:
    with grpc_server(None) as port:
        assert grpc_probe.outcome("127.0.0.1", port, "", 1) == (
            False,
            "this server does not implement the grpc health protocol (grpc.health.v1.Health)",
        )


def test_timeouts_bound_the_connection_and_the_call() -> None:
    started = time.monotonic()
    closed = grpc_probe.outcome("127.0.0.1", free_port(), "", 1)
    assert closed[0] is False
    assert closed[1].startswith("timeout: failed to connect service")
    assert time.monotonic() - started < 5
    with grpc_server(SlowHealth()) as port:
        assert grpc_probe.outcome("127.0.0.1", port, "", 1) == (
            False,
            "timeout: health rpc did not complete within 1s",
        )
        assert grpc_probe.outcome("127.0.0.1", port, "", 3) == (True, "")


SERVER = """
import sys, time
from concurrent import futures
import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
servicer = health.HealthServicer()
servicer.set("", health_pb2.HealthCheckResponse.SERVING)
servicer.set("down", health_pb2.HealthCheckResponse.NOT_SERVING)
server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
server.add_insecure_port("127.0.0.1:" + sys.argv[1])
server.start()
server.wait_for_termination()
"""

POD = msgspec.convert({"metadata": {"name": "p", "uid": "u"}}, Pod, dec_hook=decode_hook)


def _next(events: queue.Queue[Event], kind: type[Any]) -> Any:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        event = events.get(timeout=20)
        if isinstance(event, kind):
            return event
    raise AssertionError(f"no {kind.__name__}")


def test_the_process_runtime_probes_a_container_over_grpc(tmp_path: Path) -> None:
    events: queue.Queue[Event] = queue.Queue()
    runtime = ProcessRuntime("127.0.0.1", events.put, tmp_path)
    port = free_port()
    container = msgspec.convert(
        {"name": "app", "command": [sys.executable, "-c", SERVER, str(port)]},
        Container,
        dec_hook=decode_hook,
    )
    runtime.run(StartContainer(uid="u", pod=POD, container=container, attempt=1))
    _next(events, ContainerStarted)

    def probe(grpc_action: dict[str, Any]) -> bool:
        spec = msgspec.convert({"grpc": grpc_action}, Probe, dec_hook=decode_hook)
        runtime.run(
            RunProbe(uid="u", pod=POD, container="app", attempt=1, probe="liveness", spec=spec)
        )
        answer: ProbeAnswered = _next(events, ProbeAnswered)
        return answer.success

    try:
        deadline = time.monotonic() + 20
        while not probe({"port": port}):
            assert time.monotonic() < deadline, "the gRPC server never answered SERVING"
            time.sleep(0.2)
        assert probe({"port": port, "service": "down"}) is False
        assert probe({"port": port, "service": ""}) is True
    finally:
        runtime.close()


def test_the_simulated_runtime_answers_a_grpc_probe_by_its_script() -> None:
    harness = Harness()
    container = {
        "name": "app",
        "image": "x",
        "readinessProbe": {"grpc": {"port": 9000}, "periodSeconds": 1},
    }
    harness.add(
        make_pod(
            "p",
            {"containers": [container]},
            {"sim.kubeoracle.io/app.readiness-fail-until": "3"},
        )
    )
    ready = []
    for _ in range(5):
        harness.run(1)
        ready.append(harness.container("uid-p", "app").ready)
    # Read at 1..5 s: the probes at 0, 1 and 2 s fail (before 3 s), the one at 3 s succeeds.
    assert ready == [False, False, True, True, True]
