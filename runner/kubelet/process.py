"""The process runtime (``serve kubelet --runtime process``): each container's
``command``/``args`` runs as a real local process (the image is recorded and ignored).

- A sandbox is a folder for the pod's logs; the pod's IP is the node's (host network).
- A container starts as its own process group (``start_new_session``) in its ``workingDir``
  (the sandbox folder without one), with the kubelet's environment plus the literal ``value``
  of each of its ``env`` entries (``valueFrom`` is not resolved), output to
  ``<sandbox>/<container>.log``; a waiter thread reports its exit (a signal N reads as exit
  code 128 + N, as container runtimes report it). A container with no command cannot run
  (exit 128, ContainerCannotRun).
- SIGTERM and SIGKILL go to the process group.
- A preStop hook (exec, httpGet or sleep) runs in its own thread; its end is reported.
- Probes are real, each in its own thread, bounded by ``timeoutSeconds``: exec (exit 0),
  httpGet (status 200-399, to the pod IP or ``host``), tcpSocket (a connection opens), grpc
  (``grpc.health.v1.Health/Check`` on the pod IP and ``port`` with the probe's ``service``,
  default "", over an insecure channel with user agent ``kube-probe/1.35``: success only when
  the answer is SERVING; no connection, UNIMPLEMENTED, a deadline or any other error fails).
- ``kubectl exec`` runs its command where the container's running process runs (its folder and
  environment): :meth:`ProcessRuntime.exec_target`.
- Usage (every 10 s, for the kubelet's eviction): resident memory and the cpu rate
  (millicores since the last reading) from ``/proc``, summed per pod, with each pod's process
  count and the bytes and inodes of its sandbox folder; the signals of the filesystem holding
  the sandboxes (as nodefs and imagefs: one disk) and ``pid.available`` (``pid_max`` minus the
  host's processes).
- Stats (``stats``, read when the kubelet API is asked): per container, psutil's figures for
  the process and its descendants (cpu: user + system of each, and of the children it reaped,
  in nanoseconds, or the scheduler's ``/proc/<pid>/schedstat`` run time when larger, so that an
  idle process still reads above zero; memory: resident set, which stands for the cgroup's
  working set); for the node, the host's (busy cpu time since boot, memory in use): every
  node of the fleet shares this host and reports it.

Everything it learns goes back to the fleet's driver as events on ``report``.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import psutil

from impl.kubelet.status import container_id
from models.k8s.base import Opaque
from models.k8s.core.pod import Container, Pod, Probe
from models.kubelet.events import (
    Command,
    ContainerExited,
    ContainerStarted,
    CreateSandbox,
    Event,
    PodUsage,
    PreStopDone,
    ProbeAnswered,
    RemoveSandbox,
    RunPreStop,
    RunProbe,
    SandboxReady,
    SignalObserved,
    StartContainer,
    StopContainer,
    UsageObserved,
)
from models.kubelet.stats import ContainerStats, NodeStats
from runner.kubelet import grpc_probe

CANNOT_RUN_EXIT: Final = 128
PAGE_BYTES: Final = os.sysconf("SC_PAGE_SIZE")
TICKS: Final = os.sysconf("SC_CLK_TCK")

Report = Callable[[Event], None]


def _json(value: Any) -> Any:
    return value.to_builtins() if isinstance(value, Opaque) else value


def container_env(container: Container) -> dict[str, str]:
    """The kubelet's environment plus the container's literal ``env`` values."""
    env = dict(os.environ)
    entries = _json(container.env)
    for entry in entries if isinstance(entries, list) else ():
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            value = entry.get("value")
            if value is None and "valueFrom" in entry:
                continue
            env[entry["name"]] = value if isinstance(value, str) else ""
    return env


class ProcessRuntime:
    """One node's containers as local processes."""

    def __init__(self, node_ip: str, report: Report, root: Path | None = None) -> None:
        self.node_ip = node_ip
        self.report = report
        self.root = root or Path(tempfile.mkdtemp(prefix="kubeoracle-kubelet-"))
        self.lock = threading.Lock()
        self.processes: dict[tuple[str, str, int], subprocess.Popen[bytes]] = {}
        self.containers: dict[tuple[str, str, int], Container] = {}
        self.cpu_seen: dict[str, tuple[int, float]] = {}
        """Per pod: cpu milliseconds used so far, and when that was read (for the rate)."""
        self.started_ms: dict[tuple[str, str, int], int] = {}
        self.rates: dict[tuple[str, str, int], tuple[int, int]] = {}
        """Per container instance: the cpu core-ns and time (ns) of the last stats reading."""
        self.node_rate: tuple[int, int] = (0, 0)

    def run(self, command: Command) -> None:
        """Carry out one runtime command (API commands are not for the runtime)."""
        match command:
            case CreateSandbox():
                (self.root / command.uid).mkdir(parents=True, exist_ok=True)
                self.report(SandboxReady(uid=command.uid, pod_ip=self.node_ip))
            case StartContainer():
                self._start(command)
            case StopContainer():
                with self.lock:
                    process = self.processes.get((command.uid, command.container, command.attempt))
                if process is not None:
                    number = signal.SIGKILL if command.signal == "SIGKILL" else signal.SIGTERM
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(process.pid, number)
            case RunProbe():
                threading.Thread(target=self._probe, args=(command,), daemon=True).start()
            case RunPreStop():
                threading.Thread(target=self._prestop, args=(command,), daemon=True).start()
            case RemoveSandbox():
                with self.lock:
                    left = [p for key, p in self.processes.items() if key[0] == command.uid]
                for process in left:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(process.pid, signal.SIGKILL)
            case _:
                pass

    def log_path(self, uid: str, container: str) -> Path:
        return self.root / uid / f"{container}.log"

    def exec_target(self, uid: str, container: str) -> tuple[Path, dict[str, str]] | None:
        """The working directory and environment of the container's running process, or None
        when it has none running."""
        with self.lock:
            running = [
                (attempt, spec)
                for (owner, name, attempt), spec in self.containers.items()
                if owner == uid and name == container
            ]
        if not running:
            return None
        spec = max(running, key=lambda item: item[0])[1]
        return Path(spec.working_dir or self.root / uid), container_env(spec)

    def _start(self, command: StartContainer) -> None:
        name = command.container.name or ""
        key = (command.uid, name, command.attempt)
        argv = [*(command.container.command or ()), *(command.container.args or ())]
        folder = self.root / command.uid
        folder.mkdir(parents=True, exist_ok=True)
        if not argv:
            self.report(ContainerStarted(uid=command.uid, container=name, attempt=command.attempt))
            self.report(
                ContainerExited(
                    uid=command.uid,
                    container=name,
                    attempt=command.attempt,
                    exit_code=CANNOT_RUN_EXIT,
                    reason="ContainerCannotRun",
                )
            )
            return
        with self.log_path(command.uid, name).open("ab") as log:
            try:
                process = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=command.container.working_dir or folder,
                    env=container_env(command.container),
                    start_new_session=True,
                )
            except OSError as error:
                log.write(f"cannot start {argv[0]}: {error}\n".encode())
                self.report(
                    ContainerStarted(uid=command.uid, container=name, attempt=command.attempt)
                )
                self.report(
                    ContainerExited(
                        uid=command.uid,
                        container=name,
                        attempt=command.attempt,
                        exit_code=CANNOT_RUN_EXIT,
                        reason="ContainerCannotRun",
                    )
                )
                return
        with self.lock:
            self.processes[key] = process
            self.containers[key] = command.container
            self.started_ms[key] = time.time_ns() // 1_000_000
        self.report(ContainerStarted(uid=command.uid, container=name, attempt=command.attempt))
        threading.Thread(target=self._wait, args=(key, process), daemon=True).start()

    def _wait(self, key: tuple[str, str, int], process: subprocess.Popen[bytes]) -> None:
        code = process.wait()
        with self.lock:
            self.processes.pop(key, None)
            self.containers.pop(key, None)
            self.started_ms.pop(key, None)
            self.rates.pop(key, None)
        number = -code if code < 0 else 0
        uid, name, attempt = key
        self.report(
            ContainerExited(
                uid=uid,
                container=name,
                attempt=attempt,
                exit_code=128 + number if number else code,
                signal=number,
            )
        )

    def _probe(self, command: RunProbe) -> None:
        spec = command.spec
        timeout = max(1, spec.timeout_seconds or 1)
        with self.lock:
            container = self.containers.get((command.uid, command.container, command.attempt))
        try:
            success = container is not None and self._check(spec, container, timeout, command.uid)
        except (
            OSError,
            http.client.HTTPException,
            subprocess.SubprocessError,
            ValueError,
            KeyError,
        ):
            success = False
        self.report(
            ProbeAnswered(
                uid=command.uid,
                container=command.container,
                attempt=command.attempt,
                probe=command.probe,
                success=success,
            )
        )

    def _prestop(self, command: RunPreStop) -> None:
        """Run the preStop handler (exec, httpGet or sleep), then report it done."""
        with self.lock:
            container = self.containers.get((command.uid, command.container, command.attempt))
        hooks = _json(container.lifecycle) if container is not None else None
        handler = hooks.get("preStop") if isinstance(hooks, dict) else None
        try:
            if isinstance(handler, dict) and container is not None:
                sleep = handler.get("sleep")
                if isinstance(sleep, dict):
                    time.sleep(min(float(sleep.get("seconds") or 0), 3600.0))
                else:
                    spec = Probe(exec=Opaque.of(handler["exec"])) if "exec" in handler else None
                    if spec is None and "httpGet" in handler:
                        spec = Probe(http_get=Opaque.of(handler["httpGet"]))
                    if spec is not None:
                        self._check(spec, container, 3600, command.uid)
        except (OSError, http.client.HTTPException, subprocess.SubprocessError, ValueError):
            pass
        self.report(
            PreStopDone(uid=command.uid, container=command.container, attempt=command.attempt)
        )

    def _port(self, container: Container, port: Any) -> int:
        if isinstance(port, int):
            return port
        for item in container.ports or ():
            if item.name == port and item.container_port is not None:
                return int(item.container_port)
        return int(str(port))

    def _check(self, spec: Probe, container: Container, timeout: int, uid: str) -> bool:
        action = _json(spec.exec)
        if isinstance(action, dict):
            argv = [str(part) for part in action.get("command") or ()]
            done = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=timeout,
                cwd=container.working_dir or self.root / uid,
                env=container_env(container),
                check=False,
            )
            return done.returncode == 0
        get = _json(spec.http_get)
        if isinstance(get, dict):
            host = str(get.get("host") or self.node_ip)
            connection = http.client.HTTPConnection(
                host, self._port(container, get.get("port")), timeout=timeout
            )
            try:
                connection.request("GET", str(get.get("path") or "/"))
                return 200 <= connection.getresponse().status < 400
            finally:
                connection.close()
        grpc_action = _json(spec.grpc)
        if isinstance(grpc_action, dict):
            return grpc_probe.check(
                self.node_ip,
                int(grpc_action["port"]),
                str(grpc_action.get("service") or ""),
                timeout,
            )
        tcp = _json(spec.tcp_socket)
        if isinstance(tcp, dict):
            host = str(tcp.get("host") or self.node_ip)
            with socket.create_connection(
                (host, self._port(container, tcp.get("port"))), timeout=timeout
            ):
                return True
        return False

    def usage(self, memory_capacity_bytes: int) -> UsageObserved:
        """Resident memory and cpu of each pod's processes, from ``/proc``."""
        per_pod: dict[str, tuple[int, int]] = {}
        with self.lock:
            items = [(key[0], process.pid) for key, process in self.processes.items()]
        for uid, pid in items:
            try:
                stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
            except (OSError, IndexError, ValueError):
                continue
            cpu_ms = (int(stat[11]) + int(stat[12])) * 1000 // TICKS
            cpu, memory = per_pod.get(uid, (0, 0))
            per_pod[uid] = (cpu + cpu_ms, memory + pages * PAGE_BYTES)
        total = sum(memory for _, memory in per_pod.values())
        now = time.monotonic()
        processes: dict[str, int] = {}
        for uid, pid in items:
            processes[uid] = processes.get(uid, 0) + _tree_size(pid)
        pods = []
        for uid, (cpu_ms, memory) in sorted(per_pod.items()):
            before, at = self.cpu_seen.get(uid, (cpu_ms, now))
            rate = int((cpu_ms - before) / (now - at)) if now > at else 0
            self.cpu_seen[uid] = (cpu_ms, now)
            disk, inodes = _folder_usage(self.root / uid)
            pods.append(
                PodUsage(
                    uid=uid,
                    cpu_millis=max(0, rate),
                    memory_bytes=memory,
                    disk_bytes=disk,
                    inodes=inodes,
                    processes=processes.get(uid, 0),
                )
            )
        return UsageObserved(
            memory_available_bytes=max(0, memory_capacity_bytes - total),
            pods=tuple(pods),
            signals=self.signals(),
        )

    def signals(self) -> tuple[SignalObserved, ...]:
        """The filesystem holding the sandboxes as both nodefs and imagefs (one disk, as on a
        node without a separate image filesystem), and the host's process IDs."""
        try:
            fs = os.statvfs(self.root)
            pid_max = int(Path("/proc/sys/kernel/pid_max").read_text())
        except (OSError, ValueError):
            return ()
        found = []
        for prefix in ("nodefs", "imagefs"):
            found.append(
                SignalObserved(
                    signal=f"{prefix}.available",
                    available=fs.f_bavail * fs.f_frsize,
                    capacity=fs.f_blocks * fs.f_frsize,
                )
            )
            found.append(
                SignalObserved(
                    signal=f"{prefix}.inodesFree", available=fs.f_favail, capacity=fs.f_files
                )
            )
        running = len(psutil.pids())
        found.append(
            SignalObserved(signal="pid.available", available=pid_max - running, capacity=pid_max)
        )
        return tuple(found)

    def stats(self, node: str, pods: dict[str, Pod]) -> NodeStats:
        """A reading of every running container (``pods``: the node's pods by UID, for their
        names) and of the host."""
        now_ns = time.time_ns()
        with self.lock:
            items = [
                (key, process.pid, self.started_ms.get(key, 0), self.containers.get(key))
                for key, process in self.processes.items()
            ]
        containers = []
        for key, pid, started_ms, spec in sorted(items, key=lambda item: item[0]):
            pod = pods.get(key[0])
            measured = _tree_usage(pid)
            if pod is None or measured is None:
                continue
            cpu_ns, rss = measured
            containers.append(
                ContainerStats(
                    namespace=pod.meta.namespace or "",
                    pod=pod.meta.name or "",
                    pod_uid=key[0],
                    container=key[1],
                    image=(spec.image or "") if spec is not None else "",
                    container_id=container_id(*key),
                    start_ms=started_ms,
                    cpu_core_ns=cpu_ns,
                    cpu_nanocores=self._rate(key, cpu_ns, now_ns),
                    memory_working_set_bytes=rss,
                    memory_rss_bytes=rss,
                )
            )
        times = psutil.cpu_times()
        busy = times.user + times.nice + times.system
        busy += sum(getattr(times, name, 0.0) for name in ("irq", "softirq", "steal"))
        busy_ns = int(busy * 1e9)
        memory = psutil.virtual_memory()
        before_ns, before_at = self.node_rate
        node_rate = (
            (busy_ns - before_ns) * 1_000_000_000 // (now_ns - before_at)
            if before_at and now_ns > before_at
            else 0
        )
        self.node_rate = (busy_ns, now_ns)
        return NodeStats(
            node=node,
            timestamp_ms=now_ns // 1_000_000,
            start_ms=int(psutil.boot_time() * 1000),
            cpu_core_ns=busy_ns,
            cpu_nanocores=max(0, node_rate),
            memory_working_set_bytes=memory.total - memory.available,
            containers=tuple(containers),
        )

    def _rate(self, key: tuple[str, str, int], cpu_ns: int, now_ns: int) -> int:
        with self.lock:
            before = self.rates.get(key)
            self.rates[key] = (cpu_ns, now_ns)
        if before is None or now_ns <= before[1]:
            return 0
        return max(0, (cpu_ns - before[0]) * 1_000_000_000 // (now_ns - before[1]))

    def close(self) -> None:
        with self.lock:
            left = list(self.processes.values())
        for process in left:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)


def _schedstat_ns(pid: int) -> int:
    """The scheduler's cpu run time of every thread of ``pid`` (ns), 0 when unreadable."""
    total = 0
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return 0
    for task in tasks:
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, IndexError, ValueError):
            continue
    return total


def _tree_size(pid: int) -> int:
    """How many processes a container's process and its descendants are (0 if gone)."""
    try:
        return 1 + len(psutil.Process(pid).children(recursive=True))
    except psutil.Error:
        return 0


def _folder_usage(folder: Path) -> tuple[int, int]:
    """Bytes and inodes under a sandbox folder (its logs: what the pod writes locally here)."""
    size, inodes = 0, 0
    try:
        entries = list(folder.rglob("*"))
    except OSError:
        return 0, 0
    for entry in entries:
        try:
            size += entry.lstat().st_size
        except OSError:
            continue
        inodes += 1
    return size, inodes


def _tree_usage(pid: int) -> tuple[int, int] | None:
    """cpu (core-ns) and resident memory of a process and its descendants; None if gone."""
    try:
        root = psutil.Process(pid)
        members = [root, *root.children(recursive=True)]
    except psutil.Error:
        return None
    cpu_ns = 0
    rss = 0
    for member in members:
        try:
            with member.oneshot():
                times = member.cpu_times()
                rss += member.memory_info().rss
        except psutil.Error:
            continue
        own = int((times.user + times.system + times.children_user + times.children_system) * 1e9)
        cpu_ns += max(own, _schedstat_ns(member.pid))
    return cpu_ns, rss
