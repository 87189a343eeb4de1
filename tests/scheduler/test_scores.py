"""Score plugins: raw, normalized and weighted scores computed by hand from kube-scheduler's
formulas (integer division truncates)."""

from __future__ import annotations

from typing import Any

import pytest

from impl.scheduler.profile import Profile
from tests.scheduler.helpers import node, pod, profile_with, report, scores


def _profile(plugin_config: list[dict[str, Any]]) -> Profile:
    return profile_with(plugin_config)


def _two_nodes() -> tuple[list[Any], list[Any]]:
    nodes = [node("a", cpu="4", memory="8Gi"), node("b", cpu="4", memory="8Gi")]
    existing = [pod("old", cpu="1", memory="2Gi", node_name="a")]
    return nodes, existing


def test_default_profile_totals() -> None:
    nodes, existing = _two_nodes()
    result = report(nodes, pod("p", cpu="1", memory="2Gi"), existing)
    # LeastAllocated: a (4000-2000)*100/4000 = 50 for cpu and memory; b 75
    assert scores(result, "NodeResourcesFit") == {"a": (50, 50, 50), "b": (75, 75, 75)}
    # equal fractions on both nodes: standard deviation 0
    assert scores(result, "NodeResourcesBalancedAllocation") == {
        "a": (100, 100, 100),
        "b": (100, 100, 100),
    }
    # no PreferNoSchedule taints: max 0, reversed -> 100, weight 3
    assert scores(result, "TaintToleration") == {"a": (0, 100, 300), "b": (0, 100, 300)}
    assert "NodeAffinity" not in result["nodes"]["a"]["scores"]  # PreScore Skip
    assert "PodTopologySpread" not in result["nodes"]["a"]["scores"]
    assert result["nodes"]["a"]["total"] == 300 + 50 + 100
    assert result["nodes"]["b"]["total"] == 300 + 75 + 100
    assert result["selected"] == ["b"]


def test_requests_default_to_100m_and_200mi_for_scoring() -> None:
    result = report([node("a", cpu="1", memory="1000Mi"), node("b")], pod("p"))
    # cpu (1000-100)*100/1000 = 90, memory (1000-200)*100/1000 = 80, mean 85
    assert scores(result, "NodeResourcesFit")["a"] == (85, 85, 85)
    # BalancedAllocation skips a pod that requests nothing (balanced_allocation.go PreScore,
    # v1.32+, kubernetes#129138)
    assert "NodeResourcesBalancedAllocation" not in result["nodes"]["a"]["scores"]
    assert "NodeResourcesBalancedAllocation" in result["skipped"]["score"]


def test_balanced_allocation_truncates() -> None:
    result = report([node("a"), node("b")], pod("p", cpu="2", memory="2Gi"))
    # fractions 0.5 and 0.25: std 0.125, (1 - 0.125) * 100 = 87.5 -> 87
    assert scores(result, "NodeResourcesBalancedAllocation")["a"] == (87, 87, 87)


def test_most_allocated() -> None:
    nodes, existing = _two_nodes()
    profile = _profile(
        [{"name": "NodeResourcesFit", "args": {"scoringStrategy": {"type": "MostAllocated"}}}]
    )
    result = report(nodes, pod("p", cpu="1", memory="2Gi"), existing, profile)
    assert scores(result, "NodeResourcesFit") == {"a": (50, 50, 50), "b": (25, 25, 25)}
    assert result["selected"] == ["a"]


@pytest.mark.parametrize(
    ("shape", "expected_a", "expected_b"),
    [
        # scores 10 -> 100 at 0% and 0 at 100%: f(50) = 50, f(25) = 75
        ([{"utilization": 0, "score": 10}, {"utilization": 100, "score": 0}], 50, 75),
        # 0 -> 0, 30% -> 100: f(25) = 100*25/30 = 83 (truncated); f(50) beyond the last point
        ([{"utilization": 0, "score": 0}, {"utilization": 30, "score": 10}], 100, 83),
    ],
)
def test_requested_to_capacity_ratio(
    shape: list[dict[str, int]], expected_a: int, expected_b: int
) -> None:
    nodes, existing = _two_nodes()
    strategy = {"type": "RequestedToCapacityRatio", "requestedToCapacityRatio": {"shape": shape}}
    profile = _profile([{"name": "NodeResourcesFit", "args": {"scoringStrategy": strategy}}])
    result = report(nodes, pod("p", cpu="1", memory="2Gi"), existing, profile)
    assert scores(result, "NodeResourcesFit")["a"][0] == expected_a
    assert scores(result, "NodeResourcesFit")["b"][0] == expected_b


def test_taint_toleration_score_counts_untolerated_prefer_no_schedule() -> None:
    soft = [
        {"key": "t1", "value": "", "effect": "PreferNoSchedule"},
        {"key": "t2", "value": "", "effect": "PreferNoSchedule"},
    ]
    nodes = [node("x", taints=soft), node("y", taints=soft[:1]), node("z")]
    result = report(nodes, pod("p"))
    # raw 2, 1, 0; max 2; reversed: 100 - 100*raw/2; weight 3
    assert scores(result, "TaintToleration") == {
        "x": (2, 0, 0),
        "y": (1, 50, 150),
        "z": (0, 100, 300),
    }
    tolerant = pod("p", spec={"tolerations": [{"key": "t1", "operator": "Exists"}]})
    assert scores(report(nodes, tolerant), "TaintToleration")["x"] == (1, 0, 0)


def test_preferred_node_affinity() -> None:
    nodes = [
        node("a", labels={"disk": "ssd", "zone": "z1"}),
        node("b", labels={"disk": "ssd"}),
        node("c"),
    ]
    terms = [
        {
            "weight": 20,
            "preference": {
                "matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]
            },
        },
        {
            "weight": 5,
            "preference": {
                "matchExpressions": [{"key": "zone", "operator": "In", "values": ["z1"]}]
            },
        },
    ]
    spec = {
        "affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": terms}}
    }
    result = report(nodes, pod("p", spec=spec))
    # raw 25, 20, 0; normalized 100*raw/25; weight 2
    assert scores(result, "NodeAffinity") == {
        "a": (25, 100, 200),
        "b": (20, 80, 160),
        "c": (0, 0, 0),
    }


def test_image_locality_scales_by_spread() -> None:
    mib = 1024 * 1024
    images = [{"names": ["nginx:latest"], "sizeBytes": 500 * mib}]
    nodes = [node("a", images=images), node("b")]
    containers = [{"name": "c", "image": "nginx"}]  # normalized to nginx:latest
    result = report(nodes, pod("p", containers=containers))
    # 500 MiB on 1 of 2 nodes -> 250 MiB; 100*(250-23)/(1000-23) = 23 (truncated)
    assert scores(result, "ImageLocality") == {"a": (23, 23, 23), "b": (0, 0, 0)}


def _web(name: str, node_name: str, **extra: Any) -> Any:
    return pod(name, labels={"app": "web"}, node_name=node_name, **extra)


def test_topology_spread_score() -> None:
    nodes = [
        node("a", labels={"zone": "z1"}),
        node("b", labels={"zone": "z1"}),
        node("c", labels={"zone": "z2"}),
    ]
    existing = [_web("w1", "a"), _web("w2", "a"), _web("w3", "c")]
    constraint = {
        "maxSkew": 1,
        "topologyKey": "zone",
        "whenUnsatisfiable": "ScheduleAnyway",
        "labelSelector": {"matchLabels": {"app": "web"}},
    }
    incoming = pod("p", labels={"app": "web"}, spec={"topologySpreadConstraints": [constraint]})
    result = report(nodes, incoming, existing)
    # 2 domains: weight ln(4); raw z1: round(2*1.386) = 3, z2: round(1.386) = 1
    # normalized 100*(max+min-raw)/max = 100*1/3 = 33 and 100*3/3 = 100; weight 2
    assert scores(result, "PodTopologySpread") == {
        "a": (3, 33, 66),
        "b": (3, 33, 66),
        "c": (1, 100, 200),
    }


def _zones() -> list[Any]:
    return [
        node("a", labels={"zone": "z1"}),
        node("b", labels={"zone": "z1"}),
        node("c", labels={"zone": "z2"}),
    ]


def _preferred(kind: str, app: str, weight: int = 10) -> dict[str, Any]:
    term = {
        "weight": weight,
        "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": app}}, "topologyKey": "zone"},
    }
    return {"affinity": {kind: {"preferredDuringSchedulingIgnoredDuringExecution": [term]}}}


def test_inter_pod_affinity_preferred_scores() -> None:
    existing = [pod("db", labels={"app": "db"}, node_name="a")]
    result = report(_zones(), pod("p", spec=_preferred("podAffinity", "db")), existing)
    # zone z1 gets +10; min 0, max 10 -> 100, 100, 0; weight 2
    assert scores(result, "InterPodAffinity") == {
        "a": (10, 100, 200),
        "b": (10, 100, 200),
        "c": (0, 0, 0),
    }
    anti = report(_zones(), pod("p", spec=_preferred("podAntiAffinity", "db")), existing)
    assert scores(anti, "InterPodAffinity") == {
        "a": (-10, 0, 0),
        "b": (-10, 0, 0),
        "c": (0, 100, 200),
    }


def test_existing_pods_required_affinity_scores_with_hard_weight() -> None:
    term = {
        "labelSelector": {"matchLabels": {"app": "web"}},
        "topologyKey": "kubernetes.io/hostname",
    }
    spec = {"affinity": {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}}
    existing = [pod("e", labels={"app": "web"}, node_name="a", spec=spec)]
    result = report(_zones(), pod("p", labels={"app": "web"}), existing)
    assert scores(result, "InterPodAffinity") == {
        "a": (1, 100, 200),
        "b": (0, 0, 0),
        "c": (0, 0, 0),
    }
