"""``kubeoracle check schedule``: replaying another scheduler's bindings, and the shipped
examples of docs/examples/scheduler."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from runner.cli.main import main

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples" / "scheduler"

CLUSTER = """\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Node
  metadata: {name: big, labels: {kubernetes.io/hostname: big}}
  status: {allocatable: {cpu: "8", memory: 16Gi, pods: "110"}}
- apiVersion: v1
  kind: Node
  metadata: {name: small, labels: {kubernetes.io/hostname: small}}
  status: {allocatable: {cpu: "1", memory: 2Gi, pods: "110"}}
"""


def _pod(name: str, node: str, cpu: str, extra: str = "", status: str = "") -> str:
    return f"""\
- apiVersion: v1
  kind: Pod
  metadata: {{name: {name}, namespace: default}}
  spec:
    nodeName: {node}
{extra}    containers:
    - {{name: c, image: busybox, resources: {{requests: {{cpu: "{cpu}"}}}}}}
{status}"""


def _bindings(*pods: str) -> str:
    return "apiVersion: v1\nkind: List\nitems:\n" + "".join(pods)


def _check(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    bindings: str,
    *extra: str,
    cluster: str = CLUSTER,
) -> tuple[int, dict[str, Any]]:
    (tmp_path / "cluster.yaml").write_text(cluster, encoding="utf-8")
    (tmp_path / "bindings.yaml").write_text(bindings, encoding="utf-8")
    code = main(
        [
            "check",
            "schedule",
            "--cluster",
            str(tmp_path / "cluster.yaml"),
            "--bindings",
            str(tmp_path / "bindings.yaml"),
            "-o",
            "json",
            *extra,
        ]
    )
    return code, json.loads(capsys.readouterr().out)


def _verdicts(report: dict[str, Any]) -> dict[str, str]:
    return {entry["pod"]: entry["verdict"] for entry in report["bindings"]}


def test_the_shipped_example(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "check",
            "schedule",
            "--cluster",
            str(EXAMPLES / "cluster.yaml"),
            "--bindings",
            str(EXAMPLES / "bindings.yaml"),
            "--config",
            str(EXAMPLES / "config.yaml"),
            "-o",
            "json",
        ]
    )
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    assert _verdicts(report) == {
        "default/api-0": "ok",
        "default/api-1": "not-top-scoring",
        "default/api-2": "infeasible",
        "default/urgent-0": "infeasible",
        "default/pack-0": "ok",
    }
    entries = {entry["pod"]: entry for entry in report["bindings"]}
    assert entries["default/api-1"]["gap"]["bestNodes"] == ["node-a"]
    assert entries["default/api-1"]["gap"]["decidingPlugin"] == "NodeResourcesFit"
    assert entries["default/api-2"]["filter"] == {
        "code": "UnschedulableAndUnresolvable",
        "plugin": "TaintToleration",
        "reasons": ["node(s) had untolerated taint(s)"],
    }
    assert entries["default/api-2"]["preemption"] == {"needed": False, "victims": []}
    assert entries["default/urgent-0"]["filter"]["reasons"] == ["Insufficient cpu"]
    assert entries["default/urgent-0"]["preemption"] == {
        "needed": True,
        "victims": ["default/batch-0"],
    }
    assert entries["default/pack-0"]["schedulerName"] == "packing-scheduler"
    assert report["skipped"] == ["default/pending-0"]


def test_the_shipped_schedule_examples(capsys: pytest.CaptureFixture[str]) -> None:
    cluster = str(EXAMPLES / "cluster.yaml")
    assert main(["schedule", "--cluster", cluster, "--pod", str(EXAMPLES / "pod.yaml")]) == 0
    assert "WEIGHTED" in capsys.readouterr().out
    assert main(["schedule", "--cluster", cluster, "--pods", str(EXAMPLES / "pods.yaml")]) == 0


def test_not_top_scoring_is_a_warning_unless_strict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bindings = _bindings(_pod("a", "small", "100m"))
    code, report = _check(tmp_path, capsys, bindings)
    assert code == 0
    assert _verdicts(report) == {"default/a": "not-top-scoring"}
    assert report["verdict"] == "pass"
    code, report = _check(tmp_path, capsys, bindings, "--strict")
    assert code == 1
    assert report["verdict"] == "fail"


def test_bindings_are_replayed_in_order(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the second pod no longer fits on "small" once the first is there
    bindings = _bindings(_pod("first", "small", "800m"), _pod("second", "small", "800m"))
    code, report = _check(tmp_path, capsys, bindings)
    assert code == 1
    assert _verdicts(report) == {"default/first": "not-top-scoring", "default/second": "infeasible"}
    second = report["bindings"][1]
    assert second["filter"]["reasons"] == ["Insufficient cpu"]
    assert second["preemption"] == {"needed": False, "victims": []}


def test_order_by_pod_scheduled_condition(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def scheduled(at: str) -> str:
        return (
            "  status:\n    conditions:\n"
            f"    - {{type: PodScheduled, status: 'True', lastTransitionTime: '{at}'}}\n"
        )

    bindings = _bindings(
        _pod("late", "small", "800m", status=scheduled("2025-01-01T10:00:05Z")),
        _pod("early", "small", "800m", status=scheduled("2025-01-01T10:00:01Z")),
    )
    _, by_file = _check(tmp_path, capsys, bindings)
    assert [e["pod"] for e in by_file["bindings"]] == ["default/late", "default/early"]
    _, by_time = _check(tmp_path, capsys, bindings, "--order", "scheduled")
    assert [e["pod"] for e in by_time["bindings"]] == ["default/early", "default/late"]
    assert _verdicts(by_time)["default/late"] == "infeasible"


def test_each_binding_is_judged_under_its_own_profile(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "config.yaml").write_text(
        """\
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
- schedulerName: default-scheduler
- schedulerName: packer
  pluginConfig:
  - name: NodeResourcesFit
    args: {scoringStrategy: {type: MostAllocated}}
""",
        encoding="utf-8",
    )
    packed = _pod("packed", "small", "100m", extra="    schedulerName: packer\n")
    other = _pod("other", "big", "100m", extra="    schedulerName: someone-else\n")
    code, report = _check(
        tmp_path,
        capsys,
        _bindings(packed, other),
        "--config",
        str(tmp_path / "config.yaml"),
        "--strict",
    )
    assert code == 0
    assert _verdicts(report) == {"default/packed": "ok", "default/other": "unjudged"}
    assert report["bindings"][1]["note"] == "no profile has schedulerName 'someone-else'"


def test_a_binding_to_an_unknown_node_is_infeasible(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = _check(tmp_path, capsys, _bindings(_pod("lost", "nowhere", "1")))
    assert code == 1
    assert report["bindings"][0]["filter"]["reasons"] == ["the node is not in the cluster"]


def test_bound_pods_in_both_files_are_judged_not_counted_twice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pod = _pod("only", "small", "800m")
    code, report = _check(tmp_path, capsys, _bindings(pod), cluster=CLUSTER + pod)
    assert code == 0
    assert report["bindings"][0]["feasible"] is True


def test_bad_bindings_files_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "cluster.yaml").write_text(CLUSTER, encoding="utf-8")
    twice = _bindings(_pod("x", "big", "1"), _pod("x", "small", "1"))
    (tmp_path / "bindings.yaml").write_text(twice, encoding="utf-8")
    args = ["check", "schedule", "--cluster", str(tmp_path / "cluster.yaml")]
    assert main([*args, "--bindings", str(tmp_path / "bindings.yaml")]) == 2
    assert "appears twice" in capsys.readouterr().err
    (tmp_path / "none.yaml").write_text("apiVersion: v1\nkind: List\nitems: []\n", "utf-8")
    assert main([*args, "--bindings", str(tmp_path / "none.yaml")]) == 2
    assert "no Pod object found" in capsys.readouterr().err
