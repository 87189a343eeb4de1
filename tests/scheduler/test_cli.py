"""``kubeoracle schedule`` on files shaped like ``kubectl get nodes,pods -A -o yaml``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner.cli.main import main

CLUSTER = """\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Node
  metadata:
    name: worker-1
    labels: {kubernetes.io/hostname: worker-1, topology.kubernetes.io/zone: us-east-1a}
  spec: {}
  status:
    capacity: {cpu: "4", memory: 16Gi, pods: "110"}
    allocatable: {cpu: 3800m, memory: 15Gi, pods: "110", ephemeral-storage: 100Gi}
- apiVersion: v1
  kind: Node
  metadata:
    name: control-plane
    labels: {kubernetes.io/hostname: control-plane, node-role.kubernetes.io/control-plane: ""}
  spec:
    taints:
    - {effect: NoSchedule, key: node-role.kubernetes.io/control-plane}
  status:
    allocatable: {cpu: "2", memory: 8Gi, pods: "110"}
- apiVersion: v1
  kind: Pod
  metadata: {name: coredns-1, namespace: kube-system, labels: {k8s-app: kube-dns}}
  spec:
    nodeName: worker-1
    containers:
    - name: coredns
      image: registry.k8s.io/coredns/coredns:v1.11.1
      resources:
        limits: {memory: 170Mi}
        requests: {cpu: 100m, memory: 70Mi}
  status: {phase: Running}
- apiVersion: v1
  kind: Pod
  metadata: {name: done, namespace: default}
  spec:
    nodeName: worker-1
    containers:
    - {name: job, image: busybox, resources: {requests: {cpu: "3"}}}
  status: {phase: Succeeded}
"""

POD = """\
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: default}
spec:
  containers:
  - name: nginx
    image: nginx:1.25
    resources: {requests: {cpu: "1", memory: 1Gi}}
"""


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_schedule_json_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cluster = _write(tmp_path, "cluster.yaml", CLUSTER)
    pod = _write(tmp_path, "pod.yaml", POD)
    assert main(["schedule", "--cluster", cluster, "--pod", pod, "-o", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["nodes"]["control-plane"]["filter"] == {
        "code": "UnschedulableAndUnresolvable",
        "plugin": "TaintToleration",
        "reasons": ["node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"],
    }
    # the Succeeded pod does not hold its 3 cpu: worker-1 fits
    assert report["feasible"] == ["worker-1"]
    assert report["selected"] == ["worker-1"]
    assert report["nodes"]["worker-1"]["filter"]["code"] == "Success"


def test_schedule_table_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cluster = _write(tmp_path, "cluster.yaml", CLUSTER)
    pod = _write(tmp_path, "pod.yaml", POD.replace('cpu: "1"', 'cpu: "8"'))
    assert main(["schedule", "--cluster", cluster, "--pod", pod, "-o", "table"]) == 1
    text = capsys.readouterr().out
    assert "Insufficient cpu" in text
    assert "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint" in text


def test_schedule_a_queue_of_pods(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cluster = _write(tmp_path, "cluster.yaml", CLUSTER)
    pods = "---\n".join(POD.replace("name: web", f"name: web-{i}") for i in range(4))
    path = _write(tmp_path, "pods.yaml", pods)
    # 3800m allocatable, 100m used: three 1-cpu pods fit, the fourth does not
    assert main(["schedule", "--cluster", cluster, "--pods", path, "-o", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["bindings"] == {
        "default/web-0": "worker-1",
        "default/web-1": "worker-1",
        "default/web-2": "worker-1",
    }
    assert report["unscheduled"] == ["default/web-3"]


def test_invalid_config_exits_2_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cluster = _write(tmp_path, "cluster.yaml", CLUSTER)
    pod = _write(tmp_path, "pod.yaml", POD)
    config = _write(
        tmp_path,
        "config.yaml",
        "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n"
        "profiles:\n- pluginConfig:\n  - name: NodeResourcesFit\n    args:\n"
        "      scoringStrategy: {type: Fastest}\n",
    )
    assert main(["schedule", "--cluster", cluster, "--pod", pod, "--config", config]) == 2
    error = capsys.readouterr().err
    assert "field profiles[0].pluginConfig[0].args.scoringStrategy.type" in error
    assert "Unsupported value" in error


def test_bad_quantity_and_bad_yaml_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cluster = _write(tmp_path, "cluster.yaml", CLUSTER.replace("cpu: 3800m", "cpu: lots"))
    pod = _write(tmp_path, "pod.yaml", POD)
    assert main(["schedule", "--cluster", cluster, "--pod", pod]) == 2
    assert "items[0].status.allocatable.cpu" in capsys.readouterr().err
    broken = _write(tmp_path, "broken.yaml", "kind: Pod\nmetadata: {name: [\n")
    assert main(["schedule", "--cluster", broken, "--pod", pod]) == 2
    assert "broken.yaml:" in capsys.readouterr().err


def test_services_and_owners_are_read_from_the_cluster_file() -> None:
    from returns.result import Success

    from models.scheduling_decode import decode_cluster

    documents = [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {"name": "web-1", "namespace": "shop"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}},
        },
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "web-1-x",
                "namespace": "shop",
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "ReplicaSet",
                        "name": "web-1",
                        "controller": True,
                        "uid": "u",
                    }
                ],
            },
            "spec": {"containers": [{"name": "c", "image": "x"}]},
        },
    ]
    result = decode_cluster(documents)
    assert isinstance(result, Success)
    cluster = result.unwrap()
    assert [(s.kind, s.name, dict(s.labels)) for s in cluster.selecting] == [
        ("Service", "web", {"app": "web"}),
        ("ReplicaSet", "web-1", {}),
    ]
    assert cluster.pending_pods[0].controller == ("ReplicaSet", "web-1")


def test_seeded_tie_break_is_reproducible(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nodes = "---\n".join(
        f"apiVersion: v1\nkind: Node\nmetadata: {{name: n{i}}}\n"
        "status: {allocatable: {cpu: '64', memory: 64Gi, pods: '110'}}\n"
        for i in range(4)
    )
    cluster = _write(tmp_path, "nodes.yaml", nodes)
    pods = _write(
        tmp_path,
        "pods.yaml",
        "---\n".join(POD.replace("name: web", f"name: web-{i}") for i in range(6)),
    )
    runs = []
    for _ in range(2):
        assert (
            main(["schedule", "--cluster", cluster, "--pods", pods, "--seed", "7", "-o", "json"])
            == 0
        )
        runs.append(json.loads(capsys.readouterr().out)["bindings"])
    assert runs[0] == runs[1]
    assert len(runs[0]) == 6
