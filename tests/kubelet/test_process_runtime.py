"""The process runtime alone: real processes, their exit codes and signals, exec/tcpSocket/
httpGet probes, the log file, and a container with no command."""

from __future__ import annotations

import queue
import shutil
import time
from pathlib import Path
from typing import Any

import msgspec

from models.k8s.base import decode_hook
from models.k8s.core.pod import Container, Pod, Probe
from models.kubelet.events import (
    ContainerExited,
    ContainerStarted,
    CreateSandbox,
    Event,
    PreStopDone,
    ProbeAnswered,
    RunPreStop,
    RunProbe,
    SandboxReady,
    StartContainer,
    StopContainer,
)
from runner.kubelet.process import ProcessRuntime
from tests.controllers.manager_process import free_port

POD = msgspec.convert({"metadata": {"name": "p", "uid": "u"}}, Pod, dec_hook=decode_hook)


def _runtime(tmp_path: Path) -> tuple[ProcessRuntime, queue.Queue[Event]]:
    events: queue.Queue[Event] = queue.Queue()
    return ProcessRuntime("127.0.0.1", events.put, tmp_path), events


def _next(events: queue.Queue[Event], kind: type[Any]) -> Any:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        event = events.get(timeout=20)
        if isinstance(event, kind):
            return event
    raise AssertionError(f"no {kind.__name__}")


def _container(**fields: Any) -> Container:
    return msgspec.convert({"name": "app", **fields}, Container, dec_hook=decode_hook)


def test_exit_code_and_log(tmp_path: Path) -> None:
    runtime, events = _runtime(tmp_path)
    runtime.run(CreateSandbox(uid="u", pod=POD))
    assert _next(events, SandboxReady).pod_ip == "127.0.0.1"
    runtime.run(
        StartContainer(
            uid="u",
            pod=POD,
            container=_container(command=["sh", "-c", "echo hi; exit 7"]),
            attempt=1,
        )
    )
    assert isinstance(_next(events, ContainerStarted), ContainerStarted)
    exited = _next(events, ContainerExited)
    assert (exited.exit_code, exited.signal) == (7, 0)
    assert runtime.log_path("u", "app").read_text() == "hi\n"


def test_sigterm_reads_as_143_and_no_command_cannot_run(tmp_path: Path) -> None:
    runtime, events = _runtime(tmp_path)
    runtime.run(
        StartContainer(uid="u", pod=POD, container=_container(command=["sleep", "60"]), attempt=1)
    )
    _next(events, ContainerStarted)
    runtime.run(StopContainer(uid="u", container="app", attempt=1, signal="SIGTERM"))
    exited = _next(events, ContainerExited)
    assert (exited.exit_code, exited.signal) == (143, 15)
    runtime.run(StartContainer(uid="u", pod=POD, container=_container(), attempt=2))
    exited = _next(events, ContainerExited)
    assert (exited.exit_code, exited.reason) == (128, "ContainerCannotRun")


def _probe(runtime: ProcessRuntime, events: queue.Queue[Event], spec: dict[str, Any]) -> bool:
    probe = msgspec.convert(spec, Probe, dec_hook=decode_hook)
    runtime.run(
        RunProbe(uid="u", pod=POD, container="app", attempt=1, probe="readiness", spec=probe)
    )
    answer: ProbeAnswered = _next(events, ProbeAnswered)
    return answer.success


def test_probes_are_real(tmp_path: Path) -> None:
    runtime, events = _runtime(tmp_path)
    port = free_port()
    server = _container(command=["python3", "-m", "http.server", str(port)])
    runtime.run(StartContainer(uid="u", pod=POD, container=server, attempt=1))
    _next(events, ContainerStarted)
    assert _probe(runtime, events, {"exec": {"command": ["true"]}}) is True
    assert _probe(runtime, events, {"exec": {"command": ["false"]}}) is False
    deadline = time.monotonic() + 20
    while not _probe(runtime, events, {"tcpSocket": {"port": port}}):
        assert time.monotonic() < deadline, "the server never listened"
        time.sleep(0.2)
    assert _probe(runtime, events, {"httpGet": {"path": "/", "port": port}}) is True
    assert _probe(runtime, events, {"httpGet": {"path": "/missing", "port": port}}) is False
    assert _probe(runtime, events, {"grpc": {"port": port}}) is False
    usage = runtime.usage(8 * 1024**3)
    assert [u.uid for u in usage.pods] == ["u"]
    assert usage.pods[0].memory_bytes > 0
    assert usage.pods[0].processes == 1
    # The container's log file, as the sandbox's local storage.
    assert usage.pods[0].inodes == 1
    assert usage.pods[0].disk_bytes == runtime.log_path("u", "app").stat().st_size
    signals = {s.signal: s for s in usage.signals}
    assert sorted(signals) == [
        "imagefs.available",
        "imagefs.inodesFree",
        "nodefs.available",
        "nodefs.inodesFree",
        "pid.available",
    ]
    # The sandboxes' filesystem, as df reports it for tmp_path.
    disk = shutil.disk_usage(tmp_path)
    assert signals["nodefs.available"].capacity == disk.total
    assert 0 < signals["nodefs.available"].available <= disk.total
    assert signals["imagefs.available"].capacity == disk.total
    pid_max = int(Path("/proc/sys/kernel/pid_max").read_text())
    assert signals["pid.available"].capacity == pid_max
    assert 0 < signals["pid.available"].available < pid_max
    runtime.close()


def test_prestop_exec_runs_then_is_reported(tmp_path: Path) -> None:
    runtime, events = _runtime(tmp_path)
    marker = tmp_path / "bye"
    hook = {"preStop": {"exec": {"command": ["sh", "-c", f"echo bye > {marker}"]}}}
    container = _container(command=["sleep", "60"], lifecycle=hook)
    runtime.run(StartContainer(uid="u", pod=POD, container=container, attempt=1))
    _next(events, ContainerStarted)
    runtime.run(RunPreStop(uid="u", pod=POD, container="app", attempt=1))
    done: PreStopDone = _next(events, PreStopDone)
    assert (done.container, done.attempt) == ("app", 1)
    assert marker.read_text() == "bye\n"
    runtime.close()
