"""Pods per second from creation to bound through the API server: ``serve apiserver`` and
``serve scheduler`` as two processes, as they run for users.

The benchmark starts both (the scheduler with ``--leader-elect=false``), creates ``--nodes``
nodes of scheduler_perf's ``node-default.yaml`` shape (4 cpu, 32Gi, 110 pods), then creates
``--pods`` pods of its ``pod-default.yaml`` shape (100m cpu, 500Mi) through the API from one
client, as fast as the API server takes them, while a watch on pods notes when each one is
bound. Throughput is the pods bound over the time from the first create to the last binding
seen; the latency of a pod runs from its create's answer to the watch event of its binding. The
scheduler's own figures, and both processes' CPU time during the run, come from their
``/metrics`` (CPU time is what a loaded machine does not distort).

    python -m benchmarks.scheduler_live [--nodes 100] [--pods 1000]
"""

from __future__ import annotations

import argparse
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from runner.apiserver.client import ApiClient, Endpoint, WatchReader

PODS = "/api/v1/namespaces/default/pods"
START_SECONDS = 60


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _node(index: int) -> dict[str, Any]:
    resources = {"cpu": "4", "memory": "32Gi", "pods": "110"}
    name = f"node-{index}"
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "status": {"allocatable": resources, "capacity": resources},
    }


def _pod(index: int) -> dict[str, Any]:
    container = {
        "name": "pause",
        "image": "registry.k8s.io/pause:3.10",
        "resources": {"requests": {"cpu": "100m", "memory": "500Mi"}},
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"pod-{index}", "namespace": "default"},
        "spec": {"containers": [container]},
    }


def _start(command: list[str], expect: str, log: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log.open("w"), text=True)
    assert process.stdout is not None
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if expect in line:
            return process, line.strip()
        if not line and process.poll() is not None:
            break
    process.kill()
    raise SystemExit(f"{command[3:5]} did not start: {log.read_text()[-2000:]}")


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class BindingWatch:
    """Notes the time each pod is first seen bound."""

    def __init__(self, endpoint: Endpoint, revision: str) -> None:
        query = {"watch": "true", "resourceVersion": revision, "timeoutSeconds": "3600"}
        self.reader = WatchReader(endpoint, PODS, query)
        self.bound: dict[str, float] = {}
        self.all_bound = threading.Event()
        self.expected = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        for event in self.reader.events():
            obj = event.get("object") or {}
            name = (obj.get("metadata") or {}).get("name", "")
            if (obj.get("spec") or {}).get("nodeName") and name not in self.bound:
                self.bound[name] = time.monotonic()
                if self.expected and len(self.bound) >= self.expected:
                    self.all_bound.set()


def _metric(text: str, prefix: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(prefix) and not line.startswith("#")
    )


def _cpu(url: str) -> float:
    """A served process's ``process_cpu_seconds_total``."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as answer:
        return _metric(answer.read().decode(), "process_cpu_seconds_total")


def run(nodes: int, pods: int, folder: Path) -> dict[str, float]:
    kubeconfig = folder / "kubeconfig"
    api, line = _start(
        [sys.executable, "-m", "runner", "serve", "apiserver", "--insecure-port", "0",
         "--write-kubeconfig", str(kubeconfig)],
        "listening on",
        folder / "apiserver.log",
    )  # fmt: skip
    url = line.rsplit(" ", 1)[-1]
    endpoint = Endpoint(url=url)
    client = ApiClient(endpoint)
    port = _free_port()
    scheduler = None
    try:
        for index in range(nodes):
            status, body = client.request("POST", "/api/v1/nodes", _node(index))
            assert status == 201, body
        scheduler, _ = _start(
            [sys.executable, "-m", "runner", "serve", "scheduler", "--kubeconfig",
             str(kubeconfig), "--leader-elect=false", "--secure-port", "0", "--port", str(port),
             "--bind-address", "127.0.0.1"],
            "serving",
            folder / "scheduler.log",
        )  # fmt: skip
        status, listed = client.request("GET", PODS)
        assert status == 200, listed
        watch = BindingWatch(endpoint, str(listed["metadata"]["resourceVersion"]))
        watch.expected = pods
        watch.thread.start()
        time.sleep(1.0)  # the scheduler's informers list and the watch starts
        cpu_before = (_cpu(url), _cpu(f"http://127.0.0.1:{port}"))
        created: dict[str, float] = {}
        started = time.monotonic()
        for index in range(pods):
            status, body = client.request("POST", PODS, _pod(index))
            assert status == 201, body
            created[f"pod-{index}"] = time.monotonic()
        created_seconds = time.monotonic() - started
        if not watch.all_bound.wait(timeout=max(120.0, pods * 0.5)):
            print(f"only {len(watch.bound)}/{pods} pods bound", file=sys.stderr)
        watch.reader.close()
        last = max(watch.bound.values(), default=started)
        latencies = sorted(watch.bound[n] - created[n] for n in watch.bound if n in created)
        time.sleep(0.5)  # the scheduler counts an attempt after its binding call returns
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
            text = answer.read().decode()
        attempts = _metric(text, 'scheduler_schedule_attempts_total{profile="default-scheduler"')
        api_cpu = _cpu(url) - cpu_before[0]
        scheduler_cpu = _metric(text, "process_cpu_seconds_total") - cpu_before[1]
        cycle_sum = _metric(text, "scheduler_scheduling_attempt_duration_seconds_sum")
        return {
            "bound": float(len(watch.bound)),
            "seconds": last - started,
            "create_seconds": created_seconds,
            "pods_per_second": len(watch.bound) / max(last - started, 1e-9),
            "p50_ms": 1000 * statistics.median(latencies) if latencies else 0.0,
            "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))] if latencies else 0.0,
            "attempts": attempts,
            "attempt_ms_mean": 1000 * cycle_sum / attempts if attempts else 0.0,
            "apiserver_cpu": api_cpu,
            "scheduler_cpu": scheduler_cpu,
        }
    finally:
        client.close()
        if scheduler is not None:
            _stop(scheduler)
        _stop(api)


def main(argv: list[str] | None = None) -> int:
    """Run the workload and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--pods", type=int, default=1000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kubeoracle-scheduler-live-") as folder:
        figures = run(args.nodes, args.pods, Path(folder))
    print(f"serve apiserver + serve scheduler: {args.nodes} nodes, {args.pods} pods")
    print(f"pods bound: {figures['bound']:.0f}/{args.pods} in {figures['seconds']:.2f} s")
    print(f"throughput, first create to last binding: {figures['pods_per_second']:.1f} pods/s")
    print(f"creates alone took {figures['create_seconds']:.2f} s (one client)")
    print(
        f"create-to-bound latency: p50 {figures['p50_ms']:.0f} ms, p99 {figures['p99_ms']:.0f} ms"
    )
    print(
        f"scheduler: {figures['attempts']:.0f} attempts, mean attempt (cycle + binding) "
        f"{figures['attempt_ms_mean']:.2f} ms"
    )
    print(
        f"CPU during the run: apiserver {figures['apiserver_cpu']:.2f} s, scheduler "
        f"{figures['scheduler_cpu']:.2f} s ({args.pods / max(figures['scheduler_cpu'], 1e-9):.0f}"
        " pods per scheduler CPU second)"
    )
    return 0 if figures["bound"] == args.pods else 1


if __name__ == "__main__":
    sys.exit(main())
