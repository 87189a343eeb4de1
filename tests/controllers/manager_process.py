"""Running ``kubeoracle serve controller-manager`` (or another served component: ``scheduler``) as
a process for the kubectl tests."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import msgspec
import pytest

START_TIMEOUT_SECONDS = 30


class Manager(msgspec.Struct, kw_only=True):
    process: subprocess.Popen[str]
    metrics_url: str
    secure_url: str
    log: Path

    def metrics(self) -> str:
        with urllib.request.urlopen(f"{self.metrics_url}/metrics", timeout=10) as answer:
            return str(answer.read().decode())

    def wait_for_line(self, text: str, timeout: float = START_TIMEOUT_SECONDS) -> str:
        """Block until the manager prints a line containing ``text``; the line."""
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if text in line:
                return line
            if not line and self.process.poll() is not None:
                break
        pytest.fail(f"the component never said {text!r}: {self.log.read_text()}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def controller_manager(kubeconfig: Path, tmp: Path, *extra: str) -> Iterator[Manager]:
    """The manager on plain-HTTP ``--port`` and HTTPS ``--secure-port``, stopped with SIGTERM."""
    with served_component("controller-manager", kubeconfig, tmp, *extra) as manager:
        yield manager


@contextmanager
def served_component(target: str, kubeconfig: Path, tmp: Path, *extra: str) -> Iterator[Manager]:
    """``kubeoracle serve <target>`` on plain-HTTP ``--port`` and HTTPS ``--secure-port``,
    stopped with SIGTERM."""
    port, secure_port = free_port(), free_port()
    log = tmp / f"{target}-{port}.log"
    command = [
        sys.executable,
        "-m",
        "runner",
        "serve",
        target,
        "--kubeconfig",
        str(kubeconfig),
        "--bind-address",
        "127.0.0.1",
        "--port",
        str(port),
        "--secure-port",
        str(secure_port),
        "--cert-dir",
        str(tmp / f"certs-{port}"),
        *extra,
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log.open("w"), text=True)
    manager = Manager(
        process=process,
        metrics_url=f"http://127.0.0.1:{port}",
        secure_url=f"https://127.0.0.1:{secure_port}",
        log=log,
    )
    try:
        manager.wait_for_line("serving")
        yield manager
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
