"""Filter plugins: verdicts, codes and reason strings as kube-scheduler documents them."""

from __future__ import annotations

from models.k8s.core.pod import Pod
from tests.scheduler.helpers import node, pod, report, verdict

UU = "UnschedulableAndUnresolvable"
U = "Unschedulable"


def test_cordoned_node_is_unresolvable_unless_the_pod_tolerates_it() -> None:
    nodes = [node("a", unschedulable=True), node("b")]
    result = report(nodes, pod("p", cpu="1"))
    assert verdict(result, "a") == (UU, "NodeUnschedulable", ["node(s) were unschedulable"])
    assert result["feasible"] == ["b"]
    tolerant = pod(
        "p",
        spec={"tolerations": [{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]},
    )
    assert sorted(report(nodes, tolerant)["feasible"]) == ["a", "b"]


def test_node_name_must_match() -> None:
    result = report([node("a"), node("b")], pod("p", spec={"nodeName": "b"}))
    assert verdict(result, "a") == (
        UU,
        "NodeName",
        ["node(s) didn't match the requested node name"],
    )
    assert result["feasible"] == ["b"]


def _port_pod(
    name: str, port: int, ip: str = "", protocol: str = "TCP", node_name: str = ""
) -> Pod:
    container = {
        "name": "c",
        "image": "x",
        "ports": [{"containerPort": 80, "hostPort": port, "hostIP": ip, "protocol": protocol}],
    }
    return pod(name, containers=[container], node_name=node_name)


def test_host_port_conflicts_follow_the_wildcard_rule() -> None:
    nodes = [node("a")]
    used = [_port_pod("old", 8080, ip="10.0.0.1", node_name="a")]
    reason = ["node(s) didn't have free ports for the requested pod ports"]
    # 0.0.0.0 (empty hostIP) wants every address, so it collides with 10.0.0.1:8080/TCP
    assert verdict(report(nodes, _port_pod("p", 8080), used), "a") == (U, "NodePorts", reason)
    # another specific address does not collide
    assert report(nodes, _port_pod("p", 8080, ip="10.0.0.2"), used)["feasible"] == ["a"]
    # another protocol does not collide
    assert report(nodes, _port_pod("p", 8080, protocol="UDP"), used)["feasible"] == ["a"]
    # a used wildcard collides with any specific address
    wildcard = [_port_pod("old", 9090, node_name="a")]
    assert verdict(report(nodes, _port_pod("p", 9090, ip="10.0.0.9"), wildcard), "a")[0] == U


def test_fit_collects_every_reason_in_order() -> None:
    nodes = [node("a", cpu="1", memory="1Gi", pods="1")]
    existing = [pod("old", cpu="500m", memory="512Mi", node_name="a")]
    result = report(nodes, pod("p", cpu="600m", memory="600Mi"), existing)
    assert verdict(result, "a") == (
        U,
        "NodeResourcesFit",
        ["Too many pods", "Insufficient cpu", "Insufficient memory"],
    )


def test_pod_without_requests_only_checks_pod_count() -> None:
    nodes = [node("a", cpu="0", memory="0", pods="1")]
    assert report(nodes, pod("p"))["feasible"] == ["a"]
    full = [pod("old", node_name="a")]
    assert verdict(report(nodes, pod("p"), full), "a")[2] == ["Too many pods"]


def test_exact_fit_is_allowed() -> None:
    nodes = [node("a", cpu="2", memory="2Gi")]
    existing = [pod("old", cpu="1500m", memory="1Gi", node_name="a")]
    assert report(nodes, pod("p", cpu="500m", memory="1Gi"), existing)["feasible"] == ["a"]
    assert verdict(report(nodes, pod("p", cpu="501m"), existing), "a")[2] == ["Insufficient cpu"]


def test_init_containers_count_as_a_maximum_and_overhead_adds() -> None:
    # regular containers sum to 600m; the init container alone wants 1500m: request = 1500m
    spec = {
        "initContainers": [
            {"name": "init", "image": "x", "resources": {"requests": {"cpu": "1500m"}}}
        ],
        "overhead": {"cpu": "100m"},
    }
    containers = [
        {"name": "a", "image": "x", "resources": {"requests": {"cpu": "300m"}}},
        {"name": "b", "image": "x", "resources": {"requests": {"cpu": "300m"}}},
    ]
    incoming = pod("p", containers=containers, spec=spec)
    assert report([node("a", cpu="1600m")], incoming)["feasible"] == ["a"]
    assert verdict(report([node("a", cpu="1599m")], incoming), "a")[2] == ["Insufficient cpu"]


def test_limits_stand_in_for_missing_requests() -> None:
    containers = [{"name": "a", "image": "x", "resources": {"limits": {"cpu": "3"}}}]
    assert verdict(report([node("a", cpu="2")], pod("p", containers=containers)), "a")[2] == [
        "Insufficient cpu"
    ]


def test_extended_resources_unknown_to_the_node_are_insufficient() -> None:
    # fit_test.go "extended resource allocatable enforced for unknown resource": a request
    # above the node's whole allocatable (0) is UnschedulableAndUnresolvable (v1.34+)
    containers = [{"name": "a", "image": "x", "resources": {"requests": {"example.com/gpu": "1"}}}]
    nodes = [node("a"), node("b", extra={"example.com/gpu": "2"})]
    result = report(nodes, pod("p", containers=containers))
    assert verdict(result, "a") == (UU, "NodeResourcesFit", ["Insufficient example.com/gpu"])
    assert result["feasible"] == ["b"]


def test_untolerated_taint_no_longer_names_the_taint() -> None:
    # v1.35 (kubernetes#134740): the reason no longer carries the taint's key and value
    nodes = [
        node("a", taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]),
        node("b", taints=[{"key": "soft", "value": "", "effect": "PreferNoSchedule"}]),
    ]
    result = report(nodes, pod("p"))
    assert verdict(result, "a") == (
        UU,
        "TaintToleration",
        ["node(s) had untolerated taint(s)"],
    )
    assert result["feasible"] == ["b"]  # PreferNoSchedule never filters
    equal = {"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}
    assert "a" in report(nodes, pod("p", spec={"tolerations": [equal]}))["feasible"]
    wrong_value = {**equal, "value": "cpu"}
    assert "a" not in report(nodes, pod("p", spec={"tolerations": [wrong_value]}))["feasible"]
    exists_all = {"operator": "Exists"}
    assert "a" in report(nodes, pod("p", spec={"tolerations": [exists_all]}))["feasible"]


def test_node_selector_and_required_affinity() -> None:
    nodes = [
        node("a", labels={"disk": "ssd", "cores": "8"}),
        node("b", labels={"disk": "hdd", "cores": "16"}),
        node("c", labels={"cores": "x"}),
    ]
    reason = ["node(s) didn't match Pod's node affinity/selector"]
    selected = report(nodes, pod("p", spec={"nodeSelector": {"disk": "ssd"}}))
    assert selected["feasible"] == ["a"]
    assert verdict(selected, "b") == (UU, "NodeAffinity", reason)
    gt = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "cores", "operator": "Gt", "values": ["10"]}]}
                ]
            }
        }
    }
    # Gt compares integers; a non-integer label ("x") never matches
    assert report(nodes, pod("p", spec={"affinity": gt}))["feasible"] == ["b"]
    not_in = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "disk", "operator": "NotIn", "values": ["hdd"]}]}
                ]
            }
        }
    }
    # NotIn holds when the key is absent
    assert sorted(report(nodes, pod("p", spec={"affinity": not_in}))["feasible"]) == ["a", "c"]


def test_match_fields_restrict_nodes_at_prefilter() -> None:
    def by_name(*names: str) -> dict[str, object]:
        terms = [
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [name]}]}
            for name in names
        ]
        return {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}
            }
        }

    nodes = [node("a"), node("b"), node("c")]
    result = report(nodes, pod("p", spec={"affinity": by_name("a", "c")}))
    assert sorted(result["feasible"]) == ["a", "c"]
    assert verdict(result, "b") == (
        UU,
        "NodeAffinity",
        ["node is filtered out by the prefilter result"],
    )


def test_prefilter_rejection_applies_to_every_node() -> None:
    conflicting = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchFields": [
                            {"key": "metadata.name", "operator": "In", "values": ["a"]},
                            {"key": "metadata.name", "operator": "In", "values": ["b"]},
                        ]
                    }
                ]
            }
        }
    }
    result = report([node("a"), node("b")], pod("p", spec={"affinity": conflicting}))
    for name in ("a", "b"):
        assert verdict(result, name) == (UU, "NodeAffinity", ["pod affinity terms conflict"])
    assert result["message"].startswith("0/2 nodes are available: pod affinity terms conflict.")


def test_failed_scheduling_message_is_a_sorted_histogram() -> None:
    nodes = [
        node("a", cpu="1"),
        node("b", cpu="1"),
        node("c", taints=[{"key": "k", "value": "v", "effect": "NoExecute"}]),
    ]
    result = report(nodes, pod("p", cpu="2", spec={"preemptionPolicy": "Never"}))
    assert result["message"] == (
        "0/3 nodes are available: 1 node(s) had untolerated taint(s), 2 Insufficient cpu. "
        "no new claims to deallocate, preemption: not eligible due to preemptionPolicy=Never."
    )
