"""Print how fast ``kubectl exec`` goes through ``serve apiserver`` and ``serve kubelet --runtime
process`` on this machine: the round trip of a command that does nothing, and the bytes per
second of output (kubelet -> API server -> kubectl) and of stdin (``-i``, the other way), each
through two WebSocket hops.

Run: ``python -m benchmarks.kubectl_exec [--runs 20] [--megabytes 50]``. A fresh API server
(reference etcd) and one process-runtime kubelet start in a temporary folder; one pod runs
``sleep``. Then: ``kubectl exec web -- true`` ``--runs`` times (median, p90 and slowest wall
time, which includes kubectl's own start; beside it the median of ``kubectl get pod web``);
``kubectl exec web -- head -c N /dev/zero`` with the output counted (MB/s); ``kubectl exec -i
web -- wc -c`` fed N bytes (MB/s, the count checked). The machine's load average is printed
with the figures: other jobs change them.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Final

KUBECTL: Final = "/usr/bin/kubectl"
NODE: Final = "bench-exec-0"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start(folder: Path) -> tuple[list[subprocess.Popen[str]], Path]:
    kubeconfig = folder / "kubeconfig"
    serve = [sys.executable, "-m", "runner", "serve"]
    api_log = (folder / "apiserver.log").open("w")
    api = subprocess.Popen(
        [*serve, "apiserver", "--insecure-port", "0", "--write-kubeconfig", str(kubeconfig)],
        stdout=api_log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 60
    while "listening on" not in (folder / "apiserver.log").read_text():
        if time.monotonic() > deadline:
            raise SystemExit("serve apiserver did not start")
        time.sleep(0.2)
    kubelet_log = (folder / "kubelet.log").open("w")
    kubelet = subprocess.Popen(
        [
            *serve,
            "kubelet",
            "--kubeconfig",
            str(kubeconfig),
            "--nodes",
            "1",
            "--node-name-prefix",
            NODE[:-1],
            "--runtime",
            "process",
            "--port",
            str(_free_port()),
        ],
        stdout=kubelet_log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return [api, kubelet], kubeconfig


def _kubectl(
    kubeconfig: Path, *args: str, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [KUBECTL, "--kubeconfig", str(kubeconfig), *args],
        input=stdin,
        capture_output=True,
        timeout=300,
        check=False,
    )


def _wait_running(kubeconfig: Path) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web"},
        "spec": {
            "nodeName": NODE,
            "containers": [{"name": "app", "image": "x", "command": ["sleep", "3600"]}],
        },
    }
    deadline = time.monotonic() + 60
    while _kubectl(kubeconfig, "apply", "-f", "-", stdin=json.dumps(pod).encode()).returncode:
        if time.monotonic() > deadline:
            raise SystemExit("the pod could not be created")
        time.sleep(0.5)
    while True:
        done = _kubectl(kubeconfig, "get", "pod", "web", "-o", "jsonpath={.status.phase}")
        if done.stdout == b"Running":
            return
        if time.monotonic() > deadline:
            raise SystemExit("the pod never ran")
        time.sleep(0.5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--megabytes", type=int, default=50)
    args = parser.parse_args()
    size = args.megabytes * 1_000_000
    with tempfile.TemporaryDirectory(prefix="exec-bench-") as name:
        processes, kubeconfig = _start(Path(name))
        try:
            _wait_running(kubeconfig)
            times, baseline = [], []
            for _ in range(args.runs):
                started = time.monotonic()
                done = _kubectl(kubeconfig, "exec", "web", "--", "true")
                times.append(time.monotonic() - started)
                assert done.returncode == 0, done.stderr
                started = time.monotonic()
                done = _kubectl(kubeconfig, "get", "pod", "web")
                baseline.append(time.monotonic() - started)
                assert done.returncode == 0, done.stderr
            started = time.monotonic()
            down = _kubectl(kubeconfig, "exec", "web", "--", "head", "-c", str(size), "/dev/zero")
            down_seconds = time.monotonic() - started
            assert len(down.stdout) == size, (len(down.stdout), down.stderr)
            payload = os.urandom(1_000_000) * args.megabytes
            started = time.monotonic()
            up = _kubectl(kubeconfig, "exec", "-i", "web", "--", "wc", "-c", stdin=payload)
            up_seconds = time.monotonic() - started
            assert up.stdout.strip() == str(size).encode(), (up.stdout, up.stderr)
        finally:
            for process in reversed(processes):
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=30)
    times.sort()
    p90 = times[min(len(times) - 1, int(len(times) * 0.9))]
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print("| what | figure |\n| --- | --- |")
    print(
        f"| `kubectl exec web -- true`, {args.runs} runs | median "
        f"{statistics.median(times) * 1000:.0f} ms, p90 {p90 * 1000:.0f} ms, "
        f"slowest {times[-1] * 1000:.0f} ms |"
    )
    print(
        f"| `kubectl get pod web` (kubectl's start and one request), {args.runs} runs | median "
        f"{statistics.median(baseline) * 1000:.0f} ms |"
    )
    print(
        f"| output, {args.megabytes} MB (`head -c`) | {down_seconds:.2f} s, "
        f"{args.megabytes / down_seconds:.1f} MB/s |"
    )
    print(
        f"| stdin, {args.megabytes} MB (`-i`, `wc -c`) | {up_seconds:.2f} s, "
        f"{args.megabytes / up_seconds:.1f} MB/s |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
