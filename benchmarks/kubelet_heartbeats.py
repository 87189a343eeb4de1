"""Print how many simulated kubelets' Lease heartbeats ``serve kubelet`` keeps on time against
``serve apiserver`` (reference etcd) on this machine, and where they start to be late.

Run: ``python -m benchmarks.kubelet_heartbeats [--nodes 100,300,1000] [--seconds 60]``. For
each node count a fresh API server and ``serve kubelet --nodes N`` run side by side; after the
boot spread and registration (15 s + 25 ms a node) the benchmark lists ``kube-node-lease``
every 2 s and takes each node's lease age (now - renewTime; a node with no lease counts as
infinitely old). A heartbeat is *late* when a lease is older than twice the renew interval
(20 s: a renewal was missed) and *expired* when older than nodeLeaseDurationSeconds (40 s).
Also printed: lease renewals per second seen, the p99 and largest age, and the CPU seconds
each process used per wall second.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Final

BOOT_SECONDS: Final = 15.0
BOOT_SECONDS_PER_NODE: Final = 0.025
"""Registration costs about five writes a node: the boot wait grows with the node count."""
POLL_SECONDS: Final = 2.0
LATE_SECONDS: Final = 20.0
EXPIRED_SECONDS: Final = 40.0
PREFIX: Final = "bench-node-"


def _start_apiserver(folder: Path) -> tuple[subprocess.Popen[str], str]:
    """``serve apiserver`` logging to a file (a pipe nobody reads would fill and stall it)."""
    kubeconfig, log = folder / "kubeconfig", folder / "apiserver.log"
    command = [sys.executable, "-m", "runner", "serve", "apiserver", "--insecure-port", "0"]
    with log.open("w") as sink:
        process = subprocess.Popen(
            [*command, "--write-kubeconfig", str(kubeconfig)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for line in log.read_text().splitlines():
            if "listening on " in line:
                return process, line.strip().rsplit(" ", 1)[-1]
        time.sleep(0.2)
    raise SystemExit(f"serve apiserver did not start: {log.read_text()}")


def _leases(url: str) -> dict[str, float]:
    with urllib.request.urlopen(
        f"{url}/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", timeout=30
    ) as answer:
        items = json.loads(answer.read())["items"]
    renewed: dict[str, float] = {}
    for item in items:
        text = (item.get("spec") or {}).get("renewTime")
        if text:
            renewed[item["metadata"]["name"]] = datetime.fromisoformat(
                text.replace("Z", "+00:00")
            ).timestamp()
    return renewed


def _cpu(process: subprocess.Popen[str] | subprocess.Popen[bytes]) -> float:
    """User plus system CPU seconds of a running process (Linux ``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(nodes: int, seconds: float, writers: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="kubelet-bench-") as folder:
        api, url = _start_apiserver(Path(folder))
        kubelets = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "runner",
                "serve",
                "kubelet",
                "--kubeconfig",
                str(Path(folder) / "kubeconfig"),
                "--nodes",
                str(nodes),
                "--writers",
                str(writers),
                "--node-name-prefix",
                PREFIX,
                "--report-every",
                "3600",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(BOOT_SECONDS + BOOT_SECONDS_PER_NODE * nodes)
            started = time.monotonic()
            cpu_api, cpu_kubelet = _cpu(api), _cpu(kubelets)
            ages: list[float] = []
            renewals = 0
            previous: dict[str, float] = {}
            late = expired = polls = 0
            while time.monotonic() - started < seconds:
                time.sleep(POLL_SECONDS)
                now = time.time()
                renewed = _leases(url)
                polls += 1
                renewals += sum(1 for name, at in renewed.items() if previous.get(name, at) != at)
                previous = renewed
                poll_ages = [
                    now - renewed[f"{PREFIX}{i}"] if f"{PREFIX}{i}" in renewed else float("inf")
                    for i in range(nodes)
                ]
                ages.extend(poll_ages)
                late += sum(1 for age in poll_ages if age > LATE_SECONDS)
                expired += sum(1 for age in poll_ages if age > EXPIRED_SECONDS)
            wall = time.monotonic() - started
            cpu_api = (_cpu(api) - cpu_api) / wall
            cpu_kubelet = (_cpu(kubelets) - cpu_kubelet) / wall
        finally:
            kubelets.send_signal(signal.SIGTERM)
            kubelets.wait(timeout=60)
            api.send_signal(signal.SIGTERM)
            api.wait(timeout=60)
    ages.sort()
    finite = [a for a in ages if a != float("inf")]
    return {
        "nodes": nodes,
        "renewals_per_second": renewals / wall,
        "p99_age_s": ages[int(0.99 * (len(ages) - 1))] if ages else float("inf"),
        "max_age_s": max(finite, default=float("inf")),
        "late": late / max(1, polls),
        "expired": expired / max(1, polls),
        "cpu_apiserver": cpu_api,
        "cpu_kubelets": cpu_kubelet,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", default="100,300,1000", help="comma-separated node counts")
    parser.add_argument("--seconds", type=float, default=60.0, help="measured seconds per count")
    parser.add_argument("--writers", type=int, default=4)
    args = parser.parse_args()
    print("nodes  renewals/s  p99 age s  max age s  late/poll  expired/poll  cpu api  cpu kubelets")
    for nodes in (int(n) for n in args.nodes.split(",")):
        r = run(nodes, args.seconds, args.writers)
        print(
            f"{int(r['nodes']):5d}  {r['renewals_per_second']:10.1f}  {r['p99_age_s']:9.1f}"
            f"  {r['max_age_s']:9.1f}  {r['late']:9.1f}  {r['expired']:12.1f}"
            f"  {r['cpu_apiserver']:7.2f}  {r['cpu_kubelets']:12.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
