"""Launch a local cluster of real etcd members (the ``etcd`` binary on PATH) and fault them.

Members listen on free loopback ports with data directories under one temporary directory;
:meth:`LocalEtcdCluster.stop` (also on ``with`` exit) kills every member and removes the
directory. Faults: SIGKILL then restart with the same data directory, SIGSTOP then SIGCONT.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from runner.errors import InputError

STARTUP_TIMEOUT_SECONDS = 20.0
STOP_TIMEOUT_SECONDS = 10.0
PROGRESS_NOTIFY_INTERVAL = "500ms"


def free_loopback_ports(count: int) -> tuple[int, ...]:
    """Ports the kernel hands out on 127.0.0.1 (released before etcd binds them)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return tuple(sock.getsockname()[1] for sock in sockets)
    finally:
        for sock in sockets:
            sock.close()


def etcd_binary() -> str:
    """The ``etcd`` on PATH, or an InputError saying how to install it."""
    found = shutil.which("etcd")
    if found is None:
        raise InputError(
            "no etcd binary on PATH: install Debian's etcd-server (apt-get install etcd-server) "
            "or pass --endpoints",
            field="--endpoints",
        )
    return found


class Member:
    """One etcd process with its ports, data directory and log file."""

    def __init__(self, name: str, client_port: int, peer_port: int, data_dir: Path) -> None:
        self.name = name
        self.client_port = client_port
        self.peer_port = peer_port
        self.data_dir = data_dir
        self.log_path = data_dir.parent / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.paused = False

    @property
    def client_url(self) -> str:
        return f"http://127.0.0.1:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"http://127.0.0.1:{self.peer_port}"

    def start(self, initial_cluster: str, state: str) -> None:
        command = [
            etcd_binary(),
            "--name", self.name,
            "--data-dir", str(self.data_dir),
            "--listen-client-urls", self.client_url,
            "--advertise-client-urls", self.client_url,
            "--listen-peer-urls", self.peer_url,
            "--initial-advertise-peer-urls", self.peer_url,
            "--initial-cluster", initial_cluster,
            "--initial-cluster-state", state,
            "--initial-cluster-token", "kubeoracle-conform",
            "--experimental-watch-progress-notify-interval", PROGRESS_NOTIFY_INTERVAL,
            "--logger", "zap",
            "--log-outputs", "stderr",
        ]  # fmt: skip
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=log, stdin=subprocess.DEVNULL
            )
        self.paused = False

    def kill(self) -> None:
        """SIGKILL and wait for it to exit."""
        if self.process is None:
            return
        if self.paused:
            self.process.send_signal(signal.SIGCONT)
        self.process.kill()
        self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        self.process = None
        self.paused = False

    def pause(self) -> None:
        """SIGSTOP."""
        if self.process is not None and not self.paused:
            self.process.send_signal(signal.SIGSTOP)
            self.paused = True

    def resume(self) -> None:
        """SIGCONT."""
        if self.process is not None and self.paused:
            self.process.send_signal(signal.SIGCONT)
            self.paused = False

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


class LocalEtcdCluster:
    """N real etcd members on loopback; a context manager that always cleans up."""

    def __init__(self, size: int = 3) -> None:
        assert size >= 1
        etcd_binary()
        self.size = size
        self.directory = Path(tempfile.mkdtemp(prefix="kubeoracle-etcd-"))
        ports = free_loopback_ports(2 * size)
        self.members = tuple(
            Member(
                f"m{index}", ports[2 * index], ports[2 * index + 1], self.directory / f"m{index}"
            )
            for index in range(size)
        )
        self.initial_cluster = ",".join(f"{m.name}={m.peer_url}" for m in self.members)

    @property
    def endpoints(self) -> tuple[str, ...]:
        return tuple(member.client_url for member in self.members)

    def start(self) -> None:
        """Start every member and wait until each answers a status request."""
        for member in self.members:
            member.start(self.initial_cluster, "new")
        for member in self.members:
            self.wait_ready(member)

    def restart(self, member: Member) -> None:
        """Start a killed member again on its data directory."""
        member.start(self.initial_cluster, "existing")

    def wait_ready(self, member: Member, timeout_seconds: float = STARTUP_TIMEOUT_SECONDS) -> None:
        """Poll the member's health endpoint until it reports healthy, or fail loudly."""
        from runner.etcd.client import EtcdGatewayClient, Indeterminate

        client = EtcdGatewayClient(member.client_url, timeout_seconds=1.0)
        deadline = time.monotonic() + timeout_seconds
        try:
            while time.monotonic() < deadline:
                if not member.running():
                    raise RuntimeError(f"etcd member {member.name} exited; see {member.log_path}")
                status = client.status()
                if not isinstance(status, Indeterminate) and status.get("leader"):
                    return
                time.sleep(0.1)
        finally:
            client.close()
        raise RuntimeError(f"etcd member {member.name} not ready; see {member.log_path}")

    def stop(self) -> None:
        """Kill every member and remove the data directories."""
        for member in self.members:
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                member.kill()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> LocalEtcdCluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
