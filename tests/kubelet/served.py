"""Helpers for the kubectl tests of ``serve kubelet``: run it as a process next to a served API
server, and poll the pods through kubectl."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.apiserver.kubectl import Served, kubectl

TIMEOUT_SECONDS = 60.0


@contextmanager
def kubelets(api: Served, tmp: Path, *extra: str) -> Iterator[None]:
    """``serve kubelet --kubeconfig <api>`` with ``extra`` until the block ends (SIGTERM)."""
    log = (tmp / "kubelet.log").open("w")
    command = [
        sys.executable,
        "-m",
        "runner",
        "serve",
        "kubelet",
        "--kubeconfig",
        str(api.kubeconfig),
        *extra,
    ]
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, text=True)
    try:
        yield
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        log.close()


def free_ports(count: int) -> int:
    """A port P such that P .. P+count-1 are all free now (for ``serve kubelet --port``)."""
    for _ in range(100):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = int(probe.getsockname()[1])
        if base + count > 65535:
            continue
        sockets = []
        try:
            for port in range(base, base + count):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise AssertionError("no run of free ports")


def ok(served: Served, *args: str, stdin: str | None = None) -> str:
    done = kubectl(served, *args, stdin=stdin)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


def eventually(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    raise AssertionError(f"never: {what}")


def pod(served: Served, name: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(ok(served, "get", "pod", name, "-o", "json"))
    return found
