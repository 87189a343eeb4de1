"""Running ``kubeoracle serve cluster`` for a test, and the real kubectl against it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import msgspec
import pytest

from tests.apiserver.kubectl import KUBECTL

READY_TIMEOUT_SECONDS = 120
STOP_TIMEOUT_SECONDS = 30


class RunningCluster(msgspec.Struct, kw_only=True):
    """A cluster being served: its kubeconfig, its folder, the supervisor and what it said."""

    kubeconfig: Path
    folder: Path
    process: subprocess.Popen[str]
    lines: list[str]
    stderr: Path

    def pids(self) -> dict[str, int]:
        """Each component's pid, from the supervisor's ``started`` lines (latest wins)."""
        found: dict[str, int] = {}
        for line in self.lines:
            for name, pid in re.findall(r"([a-z-]+\d?) \(pid (\d+)\)", line):
                found[name] = int(pid)
        return found

    def wait_for(self, text: str, timeout: float) -> str:
        """The supervisor's next stdout line that holds ``text`` ("" if none in time)."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            line = self.read_line(left)
            if text in line:
                return line
            if not line:
                break
        return ""

    def read_line(self, timeout: float) -> str:
        """The supervisor's next stdout line (waits at most ``timeout`` seconds)."""
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if line:
                self.lines.append(line.rstrip("\n"))
                return self.lines[-1]
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        return ""


def cluster_command(kubeconfig: Path, folder: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "runner",
        "serve",
        "cluster",
        "--write-kubeconfig",
        str(kubeconfig),
        "--dir",
        str(folder),
        "--wait",
        str(READY_TIMEOUT_SECONDS),
        *extra,
    ]


@contextmanager
def serve_cluster(tmp: Path, *extra: str) -> Iterator[RunningCluster]:
    """``serve cluster`` until the block ends (then SIGTERM, as Ctrl-C would stop it)."""
    kubeconfig, folder, stderr = tmp / "kc", tmp / "cluster", tmp / "supervisor.err"
    process = subprocess.Popen(
        cluster_command(kubeconfig, folder, *extra),
        stdout=subprocess.PIPE,
        stderr=stderr.open("w"),
        text=True,
    )
    os.set_blocking(process.stdout.fileno(), False)  # type: ignore[union-attr]
    running = RunningCluster(
        kubeconfig=kubeconfig, folder=folder, process=process, lines=[], stderr=stderr
    )
    try:
        while "ready in" not in (line := running.read_line(READY_TIMEOUT_SECONDS)):
            if not line:
                pytest.fail(
                    f"serve cluster did not get ready: {running.lines} {stderr.read_text()}"
                )
        yield running
    finally:
        stop(running)


def stop(running: RunningCluster) -> int:
    """SIGTERM the supervisor and wait for it; its exit code."""
    if running.process.poll() is None:
        running.process.send_signal(signal.SIGTERM)
    try:
        return running.process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        running.process.kill()
        return running.process.wait()


def kubectl(
    running: RunningCluster, *args: str, timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    """The real kubectl against the cluster, with its own discovery cache."""
    cache = running.folder.parent / "kube-cache"
    command = [KUBECTL, "--kubeconfig", str(running.kubeconfig), "--cache-dir", str(cache)]
    environment = {"PATH": os.environ.get("PATH", ""), "HOME": str(running.folder.parent)}
    return subprocess.run(
        [*command, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environment,
        check=False,
    )


def kubectl_watch(running: RunningCluster, *args: str) -> subprocess.Popen[str]:
    """A kubectl left running (``-w``); terminate it to read what it printed."""
    cache = running.folder.parent / "kube-cache"
    command = [KUBECTL, "--kubeconfig", str(running.kubeconfig), "--cache-dir", str(cache)]
    environment = {"PATH": os.environ.get("PATH", ""), "HOME": str(running.folder.parent)}
    return subprocess.Popen(
        [*command, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
    )


def table(text: str) -> list[list[str]]:
    """kubectl's columns are separated by at least two spaces (and a cell has none)."""
    return [re.split(r"\s{2,}", line.strip()) for line in text.strip().splitlines()]


def alive(pid: int) -> bool:
    """Is the process running (not a zombie)?"""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
