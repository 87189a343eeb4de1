"""Print the controllers' speed: reconciles per second per controller (the pure machine's own
CPU time, and end to end with the in-process API server), and the time to converge a
1000-replica rolling update in simulation.

Run: ``python -m benchmarks.controllers [--replicas N]``. Both use ``LocalCluster`` (the
controllers on the in-process reference API server, the pod fixture standing in for scheduler
and kubelets, simulated time). The reconcile figures come from scaling 20 Deployments of 10
replicas up and down, re-imaging them and deleting them with each propagation policy; the
rollout creates one Deployment of N replicas (default 1000, maxSurge and maxUnavailable 25%),
waits for it, changes its image and measures until every pod runs the new image: CPU seconds,
syncs and API calls.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from impl.controllers import deployment, garbagecollector, replicaset
from models.controllers.messages import Reconciled
from runner.controllers.local import Hosted, LocalCluster

DEPLOYMENTS = 20
ROUNDS = 3
MERGE = "application/merge-patch+json"
PATH = "/apis/apps/v1/namespaces/default/deployments"


def _cluster() -> tuple[LocalCluster, dict[str, float]]:
    spent: dict[str, float] = {}
    cluster = LocalCluster(
        [deployment.DEFINITION, replicaset.DEFINITION, garbagecollector.DEFINITION]
    )
    for host in cluster.hosts.values():
        host.feed = _timed(host, spent)  # type: ignore[method-assign,assignment]
    return cluster, spent


def _timed(host: Hosted, spent: dict[str, float]) -> Callable[[Any], Any]:
    feed = host.feed
    name = host.definition.name

    def timed(event: Any) -> Any:
        started = time.process_time()
        try:
            return feed(event)
        finally:
            spent[name] = spent.get(name, 0.0) + time.process_time() - started

    return timed


def _body(name: str, replicas: int, image: str) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
        },
    }


def _patch(cluster: LocalCluster, name: str, body: dict[str, Any]) -> None:
    answer = cluster.api.call("PATCH", f"{PATH}/{name}", body, content_type=MERGE)
    assert answer.status == 200, answer.body


def reconcile_rates() -> None:
    cluster, spent = _cluster()
    started = time.process_time()
    for index in range(DEPLOYMENTS):
        cluster.api.call("POST", PATH, _body(f"d{index}", 10, "nginx:1"))
    cluster.settle()
    for round_number in range(ROUNDS):
        for index in range(DEPLOYMENTS):
            name = f"d{index}"
            _patch(cluster, name, {"spec": {"replicas": 15 if round_number % 2 == 0 else 5}})
            containers = [{"name": "app", "image": f"nginx:{round_number + 2}"}]
            _patch(cluster, name, {"spec": {"template": {"spec": {"containers": containers}}}})
        cluster.settle()
    for index in range(DEPLOYMENTS):
        policy = ("Background", "Foreground", "Orphan")[index % 3]
        answer = cluster.api.call("DELETE", f"{PATH}/d{index}", {"propagationPolicy": policy})
        assert answer.status in (200, 202), answer.body
    cluster.settle()
    total = time.process_time() - started
    counts: dict[str, int] = {}
    for reconciled in cluster.reconciles:
        counts[reconciled.controller] = counts.get(reconciled.controller, 0) + 1
    print(
        f"reconciles ({DEPLOYMENTS} Deployments, {ROUNDS} rounds of scale + re-image, then "
        "deleted Background/Foreground/Orphan):"
    )
    print(f"  {'controller':<30} {'syncs':>7} {'machine/s':>10} {'end-to-end/s':>13}")
    for name in sorted(counts):
        machine = counts[name] / spent[name] if spent.get(name) else float("inf")
        print(f"  {name:<30} {counts[name]:>7} {machine:>10.0f} {counts[name] / total:>13.0f}")
    print(f"  (whole run {total:.1f} CPU s, {len(cluster.calls)} API calls by controllers)")


def rollout(replicas: int) -> None:
    cluster, _ = _cluster()
    cluster.api.call("POST", PATH, _body("big", replicas, "nginx:1"))
    started = time.process_time()
    cluster.settle()
    created = time.process_time() - started
    syncs, calls = len(cluster.reconciles), len(cluster.calls)
    containers = [{"name": "app", "image": "nginx:2"}]
    started = time.process_time()
    _patch(cluster, "big", {"spec": {"template": {"spec": {"containers": containers}}}})
    rounds = cluster.settle()
    converged = time.process_time() - started
    pods = cluster.items("/api/v1/namespaces/default/pods")
    images = {c["image"] for pod in pods for c in pod["spec"]["containers"]}
    assert len(pods) == replicas, len(pods)
    assert images == {"nginx:2"}, images
    done = [r for r in cluster.reconciles[syncs:] if isinstance(r, Reconciled)]
    print(f"{replicas}-replica Deployment (maxSurge 25%, maxUnavailable 25%):")
    print(f"  create to {replicas} running pods: {created:.1f} CPU s")
    print(
        f"  rolling update to a new image converged in {converged:.1f} CPU s: {rounds} rounds, "
        f"{len(done)} syncs, {len(cluster.calls) - calls} API calls"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--replicas", type=int, default=1000)
    args = parser.parse_args()
    reconcile_rates()
    rollout(args.replicas)


if __name__ == "__main__":
    main()
