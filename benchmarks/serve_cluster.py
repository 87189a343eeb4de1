"""Print how fast ``kubeoracle serve cluster`` gets ready and runs issue 18's kubectl session.

Run: ``python -m benchmarks.serve_cluster [--nodes 1,3,10] [--replicas-per-node 3]``. For each
node count it starts ``serve cluster --nodes N`` (simulated runtime, userspace proxy) and
measures, with the real kubectl (``/usr/bin/kubectl``) and the wall clock:

- ready: from the command's start until the supervisor says ``ready`` (every node Ready, both
  Leases held, kubeconfig written);
- rollout: ``kubectl create deployment web --replicas=R`` (R = N x replicas-per-node) then
  ``kubectl rollout status`` until it returns;
- endpoints: ``kubectl expose`` until endpoints/web lists R addresses;
- drain (with more than one node): ``kubectl drain kubeoracle-node-0 --ignore-daemonsets`` (no
  PodDisruptionBudget) until it returns, then until R pods run again elsewhere;
- stop: SIGTERM until the supervisor exits.

Every figure includes kubectl's own start-up (about 0.05 s a call). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KUBECTL = "/usr/bin/kubectl"


def _kubectl(kubeconfig: Path, *args: str) -> str:
    command = [KUBECTL, "--kubeconfig", str(kubeconfig), *args]
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(kubeconfig.parent)}
    result = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=300, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args)}: {result.stderr}")
    return result.stdout


def _until(check: object, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(check) and check():
            return
        time.sleep(0.1)
    raise RuntimeError("timed out")


def _running(kubeconfig: Path) -> int:
    phases = _kubectl(kubeconfig, "get", "pods", "-o", "jsonpath={.items[*].status.phase}")
    return phases.split().count("Running")


def _endpoints(kubeconfig: Path) -> int:
    ips = "jsonpath={range .subsets[*]}{range .addresses[*]}{.ip}{' '}{end}{end}"
    try:
        return len(_kubectl(kubeconfig, "get", "endpoints", "web", "-o", ips).split())
    except RuntimeError:
        return 0


def measure(nodes: int, replicas: int) -> dict[str, float]:
    """One cluster's figures (seconds)."""
    folder = Path(tempfile.mkdtemp(prefix="kubeoracle-bench-cluster-"))
    kubeconfig = folder / "kc"
    command = [sys.executable, "-m", "runner", "serve", "cluster", "--nodes", str(nodes),
               "--write-kubeconfig", str(kubeconfig), "--dir", str(folder / "cluster")]  # fmt: skip
    figures: dict[str, float] = {}
    started = time.monotonic()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if "ready in" in line:
                break
        figures["ready"] = time.monotonic() - started
        mark = time.monotonic()
        _kubectl(
            kubeconfig, "create", "deployment", "web", "--image=nginx", f"--replicas={replicas}"
        )
        _kubectl(kubeconfig, "rollout", "status", "deployment/web", "--timeout=300s")
        figures["rollout"] = time.monotonic() - mark
        mark = time.monotonic()
        _kubectl(kubeconfig, "expose", "deployment", "web", "--port", "80")
        _until(lambda: _endpoints(kubeconfig) == replicas)
        figures["endpoints"] = time.monotonic() - mark
        if nodes > 1:  # a single node drained leaves nowhere to run
            mark = time.monotonic()
            _kubectl(kubeconfig, "drain", "kubeoracle-node-0", "--ignore-daemonsets",
                     "--timeout=300s")  # fmt: skip
            figures["drain"] = time.monotonic() - mark
            _until(lambda: _running(kubeconfig) == replicas)
            figures["drain+replaced"] = time.monotonic() - mark
    finally:
        mark = time.monotonic()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        figures["stop"] = time.monotonic() - mark
        shutil.rmtree(folder, ignore_errors=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", default="1,3,10", help="node counts, comma-separated")
    parser.add_argument("--replicas-per-node", type=int, default=3)
    options = parser.parse_args()
    columns = ("ready", "rollout", "endpoints", "drain", "drain+replaced", "stop")
    print(f"{'nodes':>5} {'pods':>5} " + " ".join(f"{c:>15}" for c in columns) + "   (seconds)")
    for nodes in (int(n) for n in options.nodes.split(",")):
        replicas = nodes * options.replicas_per_node
        figures = measure(nodes, replicas)
        cells = " ".join(f"{figures.get(c, float('nan')):>15.2f}" for c in columns)
        print(f"{nodes:>5} {replicas:>5} {cells}", flush=True)


if __name__ == "__main__":
    main()
