"""kubectl against ``serve apiserver`` plus ``serve kubelet --nodes 3`` (simulated runtime):
nodes register Ready with their Leases, a readiness probe gates Ready, a failing container goes
into CrashLoopBackOff, admission refuses what does not fit, deletion completes through the
kubelet. Expected values come from the Pod lifecycle and Nodes docs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.apiserver.kubectl import Served, kubectl, require_kubectl, serve
from tests.kubelet.served import eventually, kubelets, ok, pod

pytestmark = [pytest.mark.kubectl]
NODES = ("kubeoracle-node-0", "kubeoracle-node-1", "kubeoracle-node-2")


@pytest.fixture(autouse=True)
def _kubectl_installed() -> None:
    require_kubectl()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("kubelet")
    with serve(tmp) as api, kubelets(api, tmp, "--nodes", "3", "--report-every", "5"):
        yield api


def apply_pod(
    served: Served,
    name: str,
    node: str,
    container: dict[str, Any],
    annotations: dict[str, str] | None = None,
) -> None:
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "annotations": annotations or {}},
        "spec": {"nodeName": node, "containers": [container]},
    }
    ok(served, "apply", "-f", "-", stdin=json.dumps(body))


def test_nodes_register_ready_with_leases(served: Served) -> None:
    def all_ready() -> bool:
        nodes = json.loads(ok(served, "get", "nodes", "-o", "json"))["items"]
        ready = {
            n["metadata"]["name"]
            for n in nodes
            if any(
                c["type"] == "Ready" and c["status"] == "True" for c in n["status"]["conditions"]
            )
        }
        return ready == set(NODES)

    eventually(all_ready, "three Ready nodes")
    table = ok(served, "get", "nodes")
    assert "v1.35.0" in table
    leases = json.loads(ok(served, "get", "leases", "-n", "kube-node-lease", "-o", "json"))["items"]
    assert sorted(lease["spec"]["holderIdentity"] for lease in leases) == sorted(NODES)
    assert {lease["spec"]["leaseDurationSeconds"] for lease in leases} == {40}


def test_readiness_probe_gates_ready(served: Served) -> None:
    container = {
        "name": "app",
        "image": "nginx",
        "readinessProbe": {"httpGet": {"path": "/", "port": 80}, "periodSeconds": 1},
    }
    apply_pod(
        served, "gated", NODES[1], container, {"sim.kubeoracle.io/app.readiness-fail-until": "4"}
    )
    eventually(lambda: pod(served, "gated").get("status", {}).get("phase") == "Running", "Running")
    conditions = {c["type"]: c["status"] for c in pod(served, "gated")["status"]["conditions"]}
    assert conditions["Ready"] == "False"
    ok(served, "wait", "--for=condition=Ready", "pod/gated", "--timeout=60s")
    status = pod(served, "gated")["status"]
    assert status["containerStatuses"][0]["ready"] is True
    assert status["podIP"]


def test_failing_container_goes_into_crash_loop_backoff(served: Served) -> None:
    apply_pod(
        served,
        "crash",
        NODES[0],
        {"name": "app", "image": "busybox"},
        {"sim.kubeoracle.io/app.exit-code": "1"},
    )

    def backing_off() -> bool:
        statuses = pod(served, "crash").get("status", {}).get("containerStatuses") or []
        waiting = statuses[0]["state"].get("waiting", {}) if statuses else {}
        return waiting.get("reason") == "CrashLoopBackOff"

    eventually(backing_off, "CrashLoopBackOff")
    table = ok(served, "get", "pod", "crash")
    assert "CrashLoopBackOff" in table
    status = pod(served, "crash")["status"]["containerStatuses"][0]
    assert status["lastState"]["terminated"]["exitCode"] == 1
    assert status["state"]["waiting"]["message"].startswith(
        "back-off 10s restarting failed container=app"
    )


def test_admission_refuses_a_pod_that_does_not_fit(served: Served) -> None:
    container = {"name": "app", "image": "x", "resources": {"requests": {"cpu": "100"}}}
    apply_pod(served, "huge", NODES[2], container)
    eventually(lambda: pod(served, "huge").get("status", {}).get("phase") == "Failed", "Failed")
    status = pod(served, "huge")["status"]
    assert status["reason"] == "OutOfcpu"
    assert status["message"] == (
        "Pod was rejected: Node didn't have enough resource: cpu, requested: 100000, used: 0, "
        "capacity: 4000"
    )


def test_delete_completes_through_the_kubelet(served: Served) -> None:
    apply_pod(served, "doomed", NODES[2], {"name": "app", "image": "x"})
    eventually(lambda: pod(served, "doomed").get("status", {}).get("phase") == "Running", "Running")
    ok(served, "delete", "pod", "doomed", "--timeout=60s")
    done = kubectl(served, "get", "pod", "doomed")
    assert done.returncode == 1
    assert "NotFound" in done.stderr
