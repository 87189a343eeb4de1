"""TaintNodesByCondition end to end with the real kubectl: ``serve apiserver
--enable-admission-plugins TaintNodesByCondition``, ``serve kubelet --nodes 2`` (the simulated
runtime), ``serve controller-manager`` and ``serve scheduler``. The kubelets' new Nodes carry
``node.kubernetes.io/not-ready:NoSchedule`` from admission until the node lifecycle controller
sees them Ready; a container scripted to leak 1 GiB a second puts its node under MemoryPressure
(docs/kubelet.md) and the node gets ``node.kubernetes.io/memory-pressure:NoSchedule`` with a
``timeAdded``, so the scheduler's TaintToleration filter places a new Deployment's pods on the
other node only; ``kubectl cordon`` gives ``node.kubernetes.io/unschedulable:NoSchedule`` and
``kubectl uncordon`` takes it away ("Taints and Tolerations": taint nodes by condition)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.apiserver.kubectl import Served, require_kubectl, serve
from tests.controllers.manager_process import controller_manager, served_component
from tests.kubelet.served import eventually, free_ports, kubelets, ok

pytestmark = [pytest.mark.kubectl, pytest.mark.slow]
NODES = ("kubeoracle-node-0", "kubeoracle-node-1")
NOT_READY = ("node.kubernetes.io/not-ready", "NoSchedule")


@pytest.fixture(autouse=True)
def _kubectl_installed() -> None:
    require_kubectl()


def taints(served: Served, node: str) -> list[dict[str, Any]]:
    found = json.loads(ok(served, "get", "node", node, "-o", "json"))
    return list((found.get("spec") or {}).get("taints") or [])


def keys(served: Served, node: str) -> list[tuple[str, str]]:
    return [(t["key"], t["effect"]) for t in taints(served, node)]


def names(served: Served) -> list[str]:
    return sorted(ok(served, "get", "nodes", "-o", "name").split())


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("noschedule")
    with (
        serve(tmp, "--enable-admission-plugins", "TaintNodesByCondition") as api,
        kubelets(api, tmp, "--nodes", "2", "--port", str(free_ports(2))),
    ):
        eventually(lambda: names(api) == [f"node/{n}" for n in NODES], "two nodes registered")
        # No controller yet: admission's taint is on both new nodes.
        for node in NODES:
            assert keys(api, node) == [NOT_READY]
        with (
            controller_manager(api.kubeconfig, tmp, "--controllers", "*") as manager,
            served_component("scheduler", api.kubeconfig, tmp, "--leader-elect=false"),
        ):
            manager.wait_for_line("leading as")
            yield api


def test_ready_nodes_lose_the_admission_taint(served: Served) -> None:
    eventually(lambda: all(keys(served, node) == [] for node in NODES), "both nodes untainted")


def test_memory_pressure_taints_the_node_noschedule(served: Served) -> None:
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "leak",
            "annotations": {"sim.kubeoracle.io/app.memory-bytes-per-second": str(1024**3)},
        },
        "spec": {"nodeName": NODES[1], "containers": [{"name": "app", "image": "busybox"}]},
    }
    ok(served, "apply", "-f", "-", stdin=json.dumps(body))

    def pressure() -> str:
        node = json.loads(ok(served, "get", "node", NODES[1], "-o", "json"))
        found = [c for c in node["status"]["conditions"] if c["type"] == "MemoryPressure"]
        return str(found[0]["status"]) if found else ""

    eventually(lambda: pressure() == "True", "MemoryPressure True")
    memory = ("node.kubernetes.io/memory-pressure", "NoSchedule")
    eventually(lambda: memory in keys(served, NODES[1]), "the memory-pressure taint")
    assert keys(served, NODES[1]) == [memory]
    (taint,) = taints(served, NODES[1])
    assert taint["timeAdded"].endswith("Z")
    assert keys(served, NODES[0]) == []
    shown = ok(served, "describe", "node", NODES[1])
    assert "node.kubernetes.io/memory-pressure:NoSchedule" in shown
    time.sleep(1)  # the scheduler's node informer delivers the taint
    ok(served, "create", "deployment", "web", "--image=nginx", "--replicas=4")

    def placed() -> list[str]:
        listed = json.loads(ok(served, "get", "pods", "-l", "app=web", "-o", "json"))["items"]
        return [str(p["spec"].get("nodeName") or "") for p in listed]

    eventually(lambda: len(placed()) == 4 and all(placed()), "four pods scheduled")
    assert placed() == [NODES[0]] * 4


def test_cordon_and_uncordon(served: Served) -> None:
    assert "cordoned" in ok(served, "cordon", NODES[0])
    cordon = ("node.kubernetes.io/unschedulable", "NoSchedule")
    eventually(lambda: keys(served, NODES[0]) == [cordon], "the unschedulable taint")
    assert "uncordoned" in ok(served, "uncordon", NODES[0])
    eventually(lambda: keys(served, NODES[0]) == [], "the unschedulable taint removed")
