"""PodTopologySpread and InterPodAffinity filters, and DefaultPreemption."""

from __future__ import annotations

from typing import Any

from tests.scheduler.helpers import node, pod, report, verdict

U = "Unschedulable"
UU = "UnschedulableAndUnresolvable"


def _zones(*extra: Any) -> list[Any]:
    return [
        node("a", labels={"zone": "z1"}),
        node("b", labels={"zone": "z1"}),
        node("c", labels={"zone": "z2"}),
        *extra,
    ]


def _web(name: str, node_name: str) -> Any:
    return pod(name, labels={"app": "web"}, node_name=node_name)


def _spread(**fields: Any) -> dict[str, Any]:
    constraint = {
        "maxSkew": 1,
        "topologyKey": "zone",
        "whenUnsatisfiable": "DoNotSchedule",
        "labelSelector": {"matchLabels": {"app": "web"}},
        **fields,
    }
    return {"topologySpreadConstraints": [constraint]}


def test_spread_skew_and_missing_label() -> None:
    nodes = _zones(node("d"))
    existing = [_web("w1", "a"), _web("w2", "b")]
    result = report(nodes, pod("p", labels={"app": "web"}, spec=_spread()), existing)
    # z1 has 2, z2 has 0: placing in z1 gives skew 2 + 1 - 0 = 3 > 1
    reason = "node(s) didn't match pod topology spread constraints"
    assert verdict(result, "a") == (U, "PodTopologySpread", [reason])
    assert verdict(result, "d") == (UU, "PodTopologySpread", [f"{reason} (missing required label)"])
    assert result["feasible"] == ["c"]


def test_spread_counts_only_same_namespace_and_live_pods() -> None:
    other = pod("o", namespace="other", labels={"app": "web"}, node_name="a")
    dying = pod(
        "d",
        labels={"app": "web"},
        node_name="a",
        metadata={"deletionTimestamp": "2025-01-01T00:00:00Z"},
    )
    result = report(_zones(), pod("p", labels={"app": "web"}, spec=_spread()), [other, dying])
    assert sorted(result["feasible"]) == ["a", "b", "c"]


def test_min_domains_forces_the_global_minimum_to_zero() -> None:
    existing = [_web("w1", "a"), _web("w2", "c")]
    incoming = pod("p", labels={"app": "web"}, spec=_spread())
    # min 1: 1 + 1 - 1 = 1 <= 1 everywhere
    assert sorted(report(_zones(), incoming, existing)["feasible"]) == ["a", "b", "c"]
    # two domains < minDomains 3: min is 0, skew 2 everywhere
    strict = pod("p", labels={"app": "web"}, spec=_spread(minDomains=3))
    assert report(_zones(), strict, existing)["feasible"] == []


def test_node_taints_policy_honor_drops_tainted_domains() -> None:
    tainted = node(
        "t", labels={"zone": "z3"}, taints=[{"key": "k", "value": "", "effect": "NoSchedule"}]
    )
    existing = [_web("w1", "a"), _web("w2", "c")]
    ignore = report(_zones(tainted), pod("p", labels={"app": "web"}, spec=_spread()), existing)
    # z3 counts with 0 pods: z1 and z2 would reach skew 2
    assert ignore["feasible"] == []
    honor = pod("p", labels={"app": "web"}, spec=_spread(nodeTaintsPolicy="Honor"))
    assert sorted(report(_zones(tainted), honor, existing)["feasible"]) == ["a", "b", "c"]


def _required(kind: str, app: str, key: str = "zone") -> dict[str, Any]:
    term = {"labelSelector": {"matchLabels": {"app": app}}, "topologyKey": key}
    return {"affinity": {kind: {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}}


def test_required_affinity_and_the_first_pod_rule() -> None:
    db = [pod("db", labels={"app": "db"}, node_name="a")]
    result = report(_zones(node("d")), pod("p", spec=_required("podAffinity", "db")), db)
    assert sorted(result["feasible"]) == ["a", "b"]
    assert verdict(result, "c") == (
        UU,
        "InterPodAffinity",
        ["node(s) didn't match pod affinity rules"],
    )
    # no pod matches anywhere: a pod matching its own term may go first (nodes with the key)
    first = pod("p", labels={"app": "db"}, spec=_required("podAffinity", "db"))
    assert sorted(report(_zones(node("d")), first)["feasible"]) == ["a", "b", "c"]
    lonely = pod("p", labels={"app": "x"}, spec=_required("podAffinity", "db"))
    assert report(_zones(), lonely)["feasible"] == []


def test_required_anti_affinity_both_ways() -> None:
    web = [_web("w", "a")]
    own = pod("p", spec=_required("podAntiAffinity", "web", "kubernetes.io/hostname"))
    result = report(_zones(), own, web)
    assert verdict(result, "a") == (
        U,
        "InterPodAffinity",
        ["node(s) didn't match pod anti-affinity rules"],
    )
    assert sorted(result["feasible"]) == ["b", "c"]
    guard = [
        pod("g", labels={"app": "guard"}, node_name="a", spec=_required("podAntiAffinity", "web"))
    ]
    symmetric = report(_zones(), pod("p", labels={"app": "web"}), guard)
    assert verdict(symmetric, "b") == (
        U,
        "InterPodAffinity",
        ["node(s) didn't satisfy existing pods anti-affinity rules"],
    )
    assert symmetric["feasible"] == ["c"]


def test_preemption_picks_the_node_with_the_least_important_victims() -> None:
    nodes = [
        node("a", cpu="2"),
        node("b", cpu="2"),
        node("c", taints=[{"key": "k", "value": "v", "effect": "NoSchedule"}]),
    ]
    existing = [
        pod("l1", cpu="1", priority=1, node_name="a"),
        pod("l2", cpu="1", priority=2, node_name="a"),
        pod("m", cpu="2", priority=5, node_name="b"),
    ]
    result = report(nodes, pod("p", cpu="1", priority=10), existing)
    assert result["feasible"] == []
    # on a, l2 (more important) is reprieved and l1 is evicted; b would evict priority 5
    assert result["postFilter"]["nominatedNode"] == "a"
    assert result["postFilter"]["victims"] == ["default/l1"]


def test_preemption_not_helpful_when_every_failure_is_unresolvable() -> None:
    nodes = [node("a", taints=[{"key": "k", "value": "v", "effect": "NoSchedule"}])]
    result = report(nodes, pod("p", priority=10), [pod("low", priority=0, node_name="a")])
    assert result["postFilter"]["nominatedNode"] is None
    # the real event text of a v1.34.3 cluster (FitError.Error appends the PostFilter message
    # as it is, DynamicResources first):
    # "... had untolerated taint(s). no new claims to deallocate, preemption: 0/6 nodes are
    # available: 6 Preemption is not helpful for scheduling."
    assert result["message"] == (
        "0/1 nodes are available: 1 node(s) had untolerated taint(s). no new claims to "
        "deallocate, preemption: 0/1 nodes are available: 1 Preemption is not helpful for "
        "scheduling."
    )


def test_preemption_needs_lower_priority_pods() -> None:
    nodes = [node("a", cpu="1")]
    result = report(
        nodes, pod("p", cpu="1", priority=5), [pod("peer", cpu="1", priority=5, node_name="a")]
    )
    assert result["postFilter"]["message"] == (
        "preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."
    )
