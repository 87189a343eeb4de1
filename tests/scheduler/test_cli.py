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
        "reasons": ["node(s) had untolerated taint(s)"],
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
    assert (
        "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint(s). "
        "no new claims to deallocate, preemption: 0/2 nodes are available: 2 Preemption is not "
        "helpful for scheduling." in text
    )
    # the score table is absent when no node fits; with a fitting pod it shows the arithmetic
    fits = _write(tmp_path, "fits.yaml", POD)
    assert main(["schedule", "--cluster", cluster, "--pod", fits, "-o", "table"]) == 0
    table = capsys.readouterr().out
    assert "WEIGHT" not in table  # one feasible node: scoring is skipped


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


def test_non_utf8_input_exits_2_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 10: bytes that are not UTF-8, in any of the inputs, are refused by name."""
    cluster = _write(tmp_path, "cluster.yaml", CLUSTER)
    pod = _write(tmp_path, "pod.yaml", POD)
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes(POD.replace("name: web", "name: caf\xe9").encode("latin-1"))
    for args in (
        ["--cluster", str(latin1), "--pod", pod],
        ["--cluster", cluster, "--pod", str(latin1)],
        ["--cluster", cluster, "--pods", str(latin1)],
        ["--cluster", cluster, "--pod", pod, "--config", str(latin1)],
    ):
        assert main(["schedule", *args]) == 2
        error = capsys.readouterr().err
        assert str(latin1) in error
        assert "UTF-8" in error
    bindings = ["check", "schedule", "--cluster", cluster, "--bindings", str(latin1)]
    assert main(bindings) == 2
    assert str(latin1) in capsys.readouterr().err


def test_misspelled_field_is_refused_with_its_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 10: ``tolerationz:`` is not silently ignored (the pod would lose its
    tolerations)."""
    cluster = _write(tmp_path, "cluster.yaml", CLUSTER)
    typo = POD.replace("spec:\n", "spec:\n  tolerationz: [{operator: Exists}]\n")
    pod = _write(tmp_path, "pod.yaml", typo)
    assert main(["schedule", "--cluster", cluster, "--pod", pod]) == 2
    error = capsys.readouterr().err
    assert "pod.yaml" in error
    assert "spec.tolerationz" in error
    in_cluster = CLUSTER.replace(
        "    nodeName: worker-1\n", "    nodeName: worker-1\n    tolerationz: []\n", 1
    )
    cluster = _write(tmp_path, "cluster.yaml", in_cluster)
    assert main(["schedule", "--cluster", cluster, "--pod", _write(tmp_path, "ok.yaml", POD)]) == 2
    assert "items[2].spec.tolerationz" in capsys.readouterr().err


def test_services_and_owners_are_read_from_the_cluster_file(tmp_path: Path) -> None:
    from runner.scheduler.inputs import load_cluster

    text = """\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {name: web, namespace: shop}
  spec:
    selector: {app: web}
    ports: [{port: 80}]
- apiVersion: apps/v1
  kind: ReplicaSet
  metadata: {name: web-1, namespace: shop}
  spec:
    selector: {matchLabels: {app: web}}
- apiVersion: apps/v1
  kind: DaemonSet
  metadata: {name: agent, namespace: kube-system}
  spec: {anything: [1, 2]}
- apiVersion: v1
  kind: Pod
  metadata:
    name: web-1-x
    namespace: shop
    ownerReferences:
    - {apiVersion: apps/v1, kind: ReplicaSet, name: web-1, controller: true, uid: u}
  spec:
    containers: [{name: c, image: x}]
"""
    cluster = load_cluster(_write(tmp_path, "cluster.yaml", text))
    assert [(s.metadata.name if s.metadata else None) for s in cluster.services] == ["web"]
    assert [(r.metadata.name if r.metadata else None) for r in cluster.replica_sets] == ["web-1"]
    reference = cluster.pending_pods()[0].meta.controller_reference()
    assert reference is not None
    assert (reference.kind, reference.name) == ("ReplicaSet", "web-1")


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
