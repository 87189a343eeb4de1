"""``kubectl top`` (the real kubectl) against ``serve apiserver --metric-resolution 2`` and
``serve kubelet --nodes 2 --port P`` on the simulated runtime: the metrics API is discovered,
and pods and nodes show the scripted usage. Expected figures: the scripted 250 millicores and
50 MiB of the container; the node adds the simulated runtime's documented system share (50
millicores, 256 MiB); kubectl's percentages are of allocatable (4000m; 8 GiB - 100 MiB)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.apiserver.kubectl import Served, kubectl, require_kubectl, serve
from tests.kubelet.served import eventually, free_ports, kubelets, ok

pytestmark = [pytest.mark.kubectl]


@pytest.fixture(autouse=True)
def _kubectl_installed() -> None:
    require_kubectl()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("kubelet-top")
    with (
        serve(tmp, "--metric-resolution", "2") as api,
        kubelets(api, tmp, "--nodes", "2", "--port", str(free_ports(2))),
    ):
        yield api


def rows(text: str) -> list[list[str]]:
    return [line.split() for line in text.strip().splitlines()]


def test_the_metrics_api_is_discovered(served: Served) -> None:
    assert "metrics.k8s.io/v1beta1" in ok(served, "api-versions").split()
    resources = ok(served, "api-resources", "--api-group=metrics.k8s.io", "-o", "name")
    assert sorted(resources.split()) == ["nodes.metrics.k8s.io", "pods.metrics.k8s.io"]


def test_top_pod_and_node_show_the_scripted_usage(served: Served) -> None:
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "busy",
            "labels": {"app": "busy"},
            "annotations": {
                "sim.kubeoracle.io/app.cpu-millis": "250",
                "sim.kubeoracle.io/app.memory-bytes": str(50 * 1024 * 1024),
            },
        },
        "spec": {
            "nodeName": "kubeoracle-node-0",
            "containers": [{"name": "app", "image": "busybox"}],
        },
    }
    ok(served, "apply", "-f", "-", stdin=json.dumps(body))
    eventually(lambda: kubectl(served, "top", "pod", "busy").returncode == 0, "pod metrics")
    assert rows(ok(served, "top", "pod", "busy")) == [
        ["NAME", "CPU(cores)", "MEMORY(bytes)"],
        ["busy", "250m", "50Mi"],
    ]
    assert rows(ok(served, "top", "pod", "-l", "app=busy", "--containers")) == [
        ["POD", "NAME", "CPU(cores)", "MEMORY(bytes)"],
        ["busy", "app", "250m", "50Mi"],
    ]
    assert "No resources found" in kubectl(served, "top", "pod", "-l", "app=none").stderr
    raw = json.loads(
        ok(served, "get", "--raw", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/busy")
    )
    assert raw["kind"] == "PodMetrics"
    assert raw["metadata"]["labels"] == {"app": "busy"}
    assert raw["window"].endswith("s")

    def node_rows() -> list[list[str]]:
        return rows(ok(served, "top", "node"))

    eventually(
        lambda: len(node_rows()) == 3 and "<unknown>" not in str(node_rows()), "node metrics"
    )
    assert node_rows() == [
        ["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"],
        ["kubeoracle-node-0", "300m", "7%", "306Mi", "3%"],
        ["kubeoracle-node-1", "50m", "1%", "256Mi", "3%"],
    ]
    missing = kubectl(served, "top", "pod", "absent")
    assert missing.returncode == 1
    assert 'podmetrics.metrics.k8s.io "default/absent" not found' in missing.stderr


def test_a_leaking_container_puts_the_node_under_memory_pressure_and_is_evicted(
    served: Served,
) -> None:
    # 1 GiB more every second: past the node's 8 GiB (less the 100Mi threshold) within the
    # first 10 s usage period, so the next observation evicts it.
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "leak",
            "annotations": {"sim.kubeoracle.io/app.memory-bytes-per-second": str(1024**3)},
        },
        "spec": {
            "nodeName": "kubeoracle-node-1",
            "containers": [{"name": "app", "image": "busybox"}],
        },
    }
    ok(served, "apply", "-f", "-", stdin=json.dumps(body))

    def status() -> dict[str, object]:
        found: dict[str, object] = json.loads(ok(served, "get", "pod", "leak", "-o", "json"))[
            "status"
        ]
        return found

    eventually(lambda: status().get("reason") == "Evicted", "the leaking pod is evicted")
    assert status()["phase"] == "Failed"
    assert str(status()["message"]).startswith(
        "The node was low on resource: memory. Threshold quantity: 100Mi, available: "
    )
    conditions = status()["conditions"]
    assert isinstance(conditions, list)
    disruption = [c for c in conditions if c["type"] == "DisruptionTarget"]
    assert [(c["status"], c["reason"], c["message"]) for c in disruption] == [
        ("True", "TerminationByKubelet", status()["message"])
    ]

    def memory_pressure() -> list[str]:
        node = json.loads(ok(served, "get", "node", "kubeoracle-node-1", "-o", "json"))
        return [
            f"{c['status']} {c['reason']}"
            for c in node["status"]["conditions"]
            if c["type"] == "MemoryPressure"
        ]

    eventually(lambda: memory_pressure() == ["True KubeletHasInsufficientMemory"], "MemoryPressure")
