"""Facts taken from kube-scheduler's own v1.35 tests, restated on our inputs.

The expected values come from the upstream tests named in each comment (kubernetes v1.35,
``pkg/scheduler/framework/plugins/...`` and ``staging/src/k8s.io/api``), not from our output:

- ``noderesources/fit_test.go`` TestEnoughRequests: a node with allocatable cpu 10m,
  memory 20, pods 32, example.com/aaa 5, ephemeral-storage 20, hugepages-2Mi 5. A request
  larger than the node's allocatable can never fit: UnschedulableAndUnresolvable (v1.34+); a
  request that does not fit beside the pods already there: Unschedulable. Requests of 0 are not
  checked. Pod-level resources (PodLevelResources, beta, on) replace the containers' sum.
- ``core/v1/toleration_test.go`` (k8s.io/api v0.35.0): ``Gt``/``Lt`` compare the taint value
  with the toleration value as int64 decimal integers, only under
  TaintTolerationComparisonOperators (alpha, off).
- ``tainttoleration/taint_toleration_test.go``: the Filter reason is
  ``node(s) had untolerated taint(s)`` (kubernetes#134740, v1.35).
- ``component-base/featuregate`` tests: unknown and locked gates are refused with these words.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from returns.result import Failure, Success

from impl.scheduler.arithmetic import INTEGERS, broken_linear
from models.feature_gates import parse_feature_gates
from models.k8s.core.node import Node
from models.k8s.core.pod import Pod
from runner.cli.main import main
from tests.scheduler.helpers import node, pod, profile_with, report, scores, verdict

UU = "UnschedulableAndUnresolvable"
U = "Unschedulable"
FIT = "NodeResourcesFit"


def _fit_node() -> Node:
    """fit_test.go's ``makeAllocatableResources(10, 20, 32, 5, 20, 5)``."""
    return node(
        "n",
        cpu="10m",
        memory="20",
        pods="32",
        extra={"example.com/aaa": "5", "ephemeral-storage": "20", "hugepages-2Mi": "5"},
    )


def _requests(name: str, node_name: str = "", **amounts: str) -> Pod:
    container = {"name": "c", "image": "x", "resources": {"requests": dict(amounts)}}
    return pod(name, containers=[container], node_name=node_name)


def _used(**amounts: str) -> list[Pod]:
    return [_requests("used", node_name="n", **amounts)]


def _fit(incoming: Pod, existing: list[Pod]) -> tuple[str, str, list[str]] | None:
    result = report([_fit_node()], incoming, existing)
    if result["feasible"] == ["n"]:
        return None
    return verdict(result, "n")


@pytest.mark.parametrize(
    ("name", "incoming", "existing", "expected"),
    [
        # "no resources requested always fits"
        ("empty", {}, {"cpu": "10m", "memory": "20"}, None),
        # "too many resources fails": 1m and 1 on a full node, both reasons, in this order
        (
            "full",
            {"cpu": "1m", "memory": "1"},
            {"cpu": "10m", "memory": "20"},
            (U, FIT, ["Insufficient cpu", "Insufficient memory"]),
        ),
        # "too many resources fails due to highest init container cpu" is the same rule; a
        # request above the node's allocatable can never fit (v1.34+):
        ("above allocatable", {"cpu": "11m"}, {}, (UU, FIT, ["Insufficient cpu"])),
        # "extended resource capacity enforced": 10 of 5
        (
            "extended capacity",
            {"example.com/aaa": "10"},
            {},
            (UU, FIT, ["Insufficient example.com/aaa"]),
        ),
        # "extended resource allocatable enforced": 1 more beside 5 used
        (
            "extended allocatable",
            {"example.com/aaa": "1"},
            {"example.com/aaa": "5"},
            (U, FIT, ["Insufficient example.com/aaa"]),
        ),
        # "hugepages resource allocatable enforced"
        ("hugepages", {"hugepages-2Mi": "10"}, {}, (UU, FIT, ["Insufficient hugepages-2Mi"])),
        # "skip checking resource request with quantity zero"
        ("zero", {"cpu": "0", "memory": "1"}, {"cpu": "10m"}, None),
    ],
)
def test_enough_requests(
    name: str,
    incoming: dict[str, str],
    existing: dict[str, str],
    expected: tuple[str, str, list[str]] | None,
) -> None:
    assert _fit(_requests(name, **incoming), _used(**existing) if existing else []) == expected


def test_ephemeral_storage_is_checked() -> None:
    """Issue 10: the check must fail if ephemeral-storage were dropped from NodeResourcesFit
    (fit_test.go "ephemeral local storage request exceeds allocatable" / "... fits")."""
    assert _fit(_requests("p", **{"ephemeral-storage": "25"}), []) == (
        UU,
        FIT,
        ["Insufficient ephemeral-storage"],
    )
    used = _used(**{"ephemeral-storage": "15"})
    assert _fit(_requests("p", **{"ephemeral-storage": "10"}), used) == (
        U,
        FIT,
        ["Insufficient ephemeral-storage"],
    )
    assert _fit(_requests("p", **{"ephemeral-storage": "5"}), used) is None


def test_too_many_pods() -> None:
    """fit_test.go TestNotEnoughRequests: 32 pods allowed, a 33rd is refused."""
    existing = [_requests(f"used-{i}", node_name="n") for i in range(32)]
    assert _fit(_requests("p"), existing) == (U, FIT, ["Too many pods"])


def _pod_level(name: str, cpu: str, container_cpu: str = "1m") -> Pod:
    container = {"name": "c", "image": "x", "resources": {"requests": {"cpu": container_cpu}}}
    return pod(name, containers=[container], spec={"resources": {"requests": {"cpu": cpu}}})


def test_pod_level_resources_replace_the_containers_sum() -> None:
    """fit_test.go "pod-level cpu resource not fit": 7m at pod level beside 5m used (the
    containers ask for 1m only)."""
    used = _used(cpu="5m")
    assert _fit(_pod_level("p", "7m"), used) == (U, FIT, ["Insufficient cpu"])
    assert _fit(_pod_level("p", "5m"), used) is None


def test_pod_level_resources_behind_their_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cluster = tmp_path / "cluster.yaml"
    cluster.write_text(
        "apiVersion: v1\nkind: Node\nmetadata: {name: node-1}\n"
        "status: {allocatable: {cpu: 10m, memory: 1Gi, pods: '10'}}\n",
        encoding="utf-8",
    )
    incoming = tmp_path / "pod.yaml"
    incoming.write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
        "spec:\n  resources: {requests: {cpu: 20m}}\n"
        "  containers: [{name: c, image: x, resources: {requests: {cpu: 1m}}}]\n",
        encoding="utf-8",
    )
    args = ["schedule", "--cluster", str(cluster), "--pod", str(incoming), "-o", "json"]
    assert main(args) == 1
    assert json.loads(capsys.readouterr().out)["feasible"] == []
    assert main([*args, "--feature-gates", "PodLevelResources=false"]) == 0
    assert json.loads(capsys.readouterr().out)["feasible"] == ["node-1"]


def test_best_effort_pods_skip_balanced_allocation() -> None:
    """balanced_allocation_test.go (#129138): PreScore returns Skip for a pod without
    requests."""
    result = report([node("a"), node("b")], pod("p"))
    assert "NodeResourcesBalancedAllocation" in result["skipped"]["score"]
    assert "NodeResourcesBalancedAllocation" not in scores_of(result)


def scores_of(result: dict[str, Any]) -> set[str]:
    return {plugin for entry in result["nodes"].values() for plugin in entry["scores"]}


def test_integer_division_truncates_toward_zero() -> None:
    """Go's ``/`` truncates toward zero; Python's ``//`` floors."""
    assert INTEGERS.quotient(-7, 2) == -3
    assert INTEGERS.quotient(7, -2) == -3
    assert INTEGERS.quotient(-1000, 30) == -33


def test_score_interpolation_truncates_toward_zero() -> None:
    """requested_to_capacity_ratio.go: on a falling segment (100 at 0%, 0 at 30%) the
    interpolation at 10% is ``100 + (-100 * 10) / 30`` = 100 - 33 = 67 in Go; flooring would
    give 66."""
    shape = ((0, 100), (30, 0))
    assert broken_linear(INTEGERS, shape, 10) == 67
    strategy = {
        "type": "RequestedToCapacityRatio",
        "resources": [{"name": "cpu", "weight": 1}],
        "requestedToCapacityRatio": {
            "shape": [{"utilization": 0, "score": 10}, {"utilization": 30, "score": 0}]
        },
    }
    profile = profile_with([{"name": FIT, "args": {"scoringStrategy": strategy}}])
    result = report([node("a", cpu="10"), node("b", cpu="20")], pod("p", cpu="1"), [], profile)
    # utilization: a 10%, b 5% (100 - 500/30 = 100 - 16 = 84)
    assert scores(result, FIT) == {"a": (67, 67, 67), "b": (84, 84, 84)}


def _toleration_case(tmp_path: Path, taint: str, operator: str, value: str) -> Path:
    cluster = tmp_path / "cluster.yaml"
    cluster.write_text(
        "apiVersion: v1\nkind: Node\nmetadata: {name: node-1}\n"
        f"spec: {{taints: [{{key: cores, value: '{taint}', effect: NoSchedule}}]}}\n"
        "status: {allocatable: {cpu: '1', memory: 1Gi, pods: '10'}}\n",
        encoding="utf-8",
    )
    incoming = tmp_path / "pod.yaml"
    incoming.write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n"
        f"  tolerations: [{{key: cores, operator: {operator}, value: '{value}', "
        "effect: NoSchedule}]\n  containers: [{name: c, image: x}]\n",
        encoding="utf-8",
    )
    return cluster


@pytest.mark.parametrize(
    ("taint", "operator", "value", "tolerated"),
    [
        ("950", "Gt", "750", True),  # taint value greater than the toleration's
        ("750", "Gt", "750", False),  # equal is not greater
        ("100", "Lt", "200", True),
        ("200", "Lt", "200", False),
        ("-5", "Lt", "0", True),  # negative integers
        ("9223372036854775807", "Gt", "9223372036854775806", True),  # int64 range
        ("abc", "Gt", "1", False),  # not an integer
        ("010", "Gt", "1", False),  # leading zero: not a canonical decimal integer
    ],
)
def test_comparison_operators_under_their_gate(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    taint: str,
    operator: str,
    value: str,
    tolerated: bool,
) -> None:
    cluster = _toleration_case(tmp_path, taint, operator, value)
    args = ["schedule", "--cluster", str(cluster), "--pod", str(tmp_path / "pod.yaml")]
    gate = ["--feature-gates", "TaintTolerationComparisonOperators=true"]
    assert main([*args, *gate, "-o", "json"]) == (0 if tolerated else 1)
    result = json.loads(capsys.readouterr().out)
    if not tolerated:
        assert verdict(result, "node-1") == (
            UU,
            "TaintToleration",
            ["node(s) had untolerated taint(s)"],
        )
    # with the gate off (the v1.35 default) Gt and Lt tolerate nothing
    assert main([*args, "-o", "json"]) == 1
    capsys.readouterr()


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("NoSuchGate=true", "unrecognized feature gate: NoSuchGate"),
        (
            "SchedulerQueueingHints=false",
            "cannot set feature gate SchedulerQueueingHints to false, feature is locked to true",
        ),
    ],
)
def test_feature_gate_errors(text: str, error: str) -> None:
    parsed = parse_feature_gates(text)
    assert isinstance(parsed, Failure)
    assert parsed.failure() == error


def test_feature_gates_as_kube_scheduler_takes_them() -> None:
    parsed = parse_feature_gates("TaintTolerationComparisonOperators=true, PodLevelResources=false")
    assert isinstance(parsed, Success)
    gates = parsed.unwrap()
    assert gates.enabled("TaintTolerationComparisonOperators")
    assert not gates.enabled("PodLevelResources")
    assert gates.enabled("SchedulerPopFromBackoffQ")  # beta, on by default
