"""Print the Endpoints and EndpointSlice controllers' cost on a large Service: CPU seconds of
each pure machine, syncs and API calls to publish N ready pods (default 1000) and then to
follow a scale-down to N/2 and a scale-up back to N.

Run: ``python -m benchmarks.endpoints [--replicas N]``. Uses ``LocalCluster`` (the controllers
on the in-process reference API server, the pod fixture standing in for scheduler and kubelets,
simulated time); the Deployment and ReplicaSet controllers run too, and are not measured.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from benchmarks.controllers import _timed
from impl.controllers import deployment, endpoints, endpointslice, garbagecollector, replicaset
from runner.controllers.local import LocalCluster

MERGE = "application/merge-patch+json"
DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"
SLICES = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"
MEASURED = (endpoints.NAME, endpointslice.NAME)


def _deployment(replicas: int) -> dict[str, Any]:
    labels = {"app": "web"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
    }


def _service() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
    }


def _phase(cluster: LocalCluster, spent: dict[str, float], label: str) -> None:
    before_cpu = dict(spent)
    before_calls = len(cluster.calls)
    before_syncs = len(cluster.reconciles)
    started = time.perf_counter()
    cluster.settle()
    wall = time.perf_counter() - started
    calls = [name for name, _, _ in cluster.calls[before_calls:]]
    syncs = [r.controller for r in cluster.reconciles[before_syncs:]]
    slices = [s for s in cluster.items(SLICES) if s["metadata"]["generateName"] == "web-"]
    sizes = sorted(len(s.get("endpoints") or ()) for s in slices)
    print(f"{label}: {wall:.2f} s wall for everything; slices {sizes}")
    for name in MEASURED:
        cpu = spent.get(name, 0.0) - before_cpu.get(name, 0.0)
        print(
            f"  {name}: {cpu:.3f} s CPU, {syncs.count(name)} syncs, {calls.count(name)} API calls"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--replicas", type=int, default=1000)
    args = parser.parse_args()
    cluster = LocalCluster(
        [
            deployment.DEFINITION,
            replicaset.DEFINITION,
            garbagecollector.DEFINITION,
            endpoints.DEFINITION,
            endpointslice.DEFINITION,
        ]
    )
    spent: dict[str, float] = {}
    for host in cluster.hosts.values():
        if host.definition.name in MEASURED:
            host.feed = _timed(host, spent)  # type: ignore[method-assign,assignment]
    n = args.replicas
    answer = cluster.api.call("POST", "/api/v1/namespaces/default/services", _service())
    assert answer.status == 201, answer.body
    answer = cluster.api.call("POST", DEPLOYMENTS, _deployment(n))
    assert answer.status == 201, answer.body
    _phase(cluster, spent, f"publish {n} ready pods")
    for replicas in (n // 2, n):
        patch = {"spec": {"replicas": replicas}}
        answer = cluster.api.call("PATCH", f"{DEPLOYMENTS}/web", patch, content_type=MERGE)
        assert answer.status == 200, answer.body
        _phase(cluster, spent, f"scale to {replicas}")


if __name__ == "__main__":
    main()
