"""Plugin args and less common fields: ignoredResources, addedAffinity, hardPodAffinityWeight,
namespaceSelector, matchLabelKeys, several profiles side by side, default spread selectors."""

from __future__ import annotations

from typing import Any

from impl.scheduler.features import DEFAULT_FEATURES
from impl.scheduler.machine import SchedulerConfig
from impl.scheduler.podinfo import pod_info
from impl.scheduler.profile import Profile, default_profile
from impl.scheduler.run import run_pods
from impl.scheduler.schedule import outcome_report, schedule_one
from impl.scheduler.snapshot import build_snapshot
from models.k8s.core.pod import Pod
from tests.scheduler.helpers import (
    cluster,
    decode,
    node,
    pod,
    profiles,
    report,
    scores,
    verdict,
)


def _with_args(name: str, args: dict[str, Any]) -> Profile:
    return profiles({"pluginConfig": [{"name": name, "args": args}]})[0]


def _report(objects: list[object], incoming: Pod) -> dict[str, Any]:
    snapshot = build_snapshot(cluster(objects), DEFAULT_FEATURES)
    outcome, _ = schedule_one(default_profile(), snapshot, pod_info(incoming, DEFAULT_FEATURES))
    return outcome_report(outcome)


def test_ignored_extended_resources_are_not_checked() -> None:
    containers = [{"name": "c", "image": "x", "resources": {"requests": {"example.com/fpga": "1"}}}]
    incoming = pod("p", containers=containers)
    assert report([node("a")], incoming)["feasible"] == []
    by_name = _with_args("NodeResourcesFit", {"ignoredResources": ["example.com/fpga"]})
    assert report([node("a")], incoming, profile=by_name)["feasible"] == ["a"]
    by_group = _with_args("NodeResourcesFit", {"ignoredResourceGroups": ["example.com"]})
    assert report([node("a")], incoming, profile=by_group)["feasible"] == ["a"]


def test_added_affinity_is_enforced_first() -> None:
    added = {
        "addedAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["batch"]}]}
                ]
            }
        }
    }
    profile = _with_args("NodeAffinity", added)
    nodes = [node("a", labels={"pool": "batch"}), node("b", labels={"pool": "web"})]
    result = report(nodes, pod("p"), profile=profile)
    assert result["feasible"] == ["a"]
    assert verdict(result, "b") == (
        "UnschedulableAndUnresolvable",
        "NodeAffinity",
        ["node(s) didn't match scheduler-enforced node affinity"],
    )


def test_hard_pod_affinity_weight_scales_existing_required_affinity() -> None:
    term = {
        "labelSelector": {"matchLabels": {"app": "web"}},
        "topologyKey": "kubernetes.io/hostname",
    }
    spec = {"affinity": {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}}
    existing = [pod("e", labels={"app": "web"}, node_name="a", spec=spec)]
    profile = _with_args("InterPodAffinity", {"hardPodAffinityWeight": 7})
    result = report([node("a"), node("b")], pod("p", labels={"app": "web"}), existing, profile)
    assert scores(result, "InterPodAffinity") == {"a": (7, 100, 200), "b": (0, 0, 0)}


def test_namespace_selector_reaches_other_namespaces() -> None:
    term = {
        "labelSelector": {"matchLabels": {"app": "db"}},
        "namespaceSelector": {"matchLabels": {"team": "data"}},
        "topologyKey": "kubernetes.io/hostname",
    }
    spec = {"affinity": {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}}
    existing = [
        pod("db", namespace="data", labels={"app": "db"}, node_name="b"),
        pod("db", namespace="other", labels={"app": "db"}, node_name="c"),
    ]
    namespace = decode(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "data", "labels": {"team": "data"}},
        }
    )
    objects = [node("a"), node("b"), node("c"), *existing, namespace]
    assert _report(objects, pod("p", spec=spec))["feasible"] == ["b"]


def test_match_label_keys_narrow_the_spread_selector() -> None:
    constraint = {
        "maxSkew": 1,
        "topologyKey": "zone",
        "whenUnsatisfiable": "DoNotSchedule",
        "labelSelector": {"matchLabels": {"app": "web"}},
        "matchLabelKeys": ["version"],
    }
    nodes = [node("a", labels={"zone": "z1"}), node("b", labels={"zone": "z2"})]
    # two v1 pods in z1; the incoming v2 pod only counts v2 pods, so z1 is fine
    existing = [
        pod(f"old{i}", labels={"app": "web", "version": "v1"}, node_name="a") for i in range(2)
    ]
    incoming = pod(
        "p",
        labels={"app": "web", "version": "v2"},
        spec={"topologySpreadConstraints": [constraint]},
    )
    assert sorted(report(nodes, incoming, existing)["feasible"]) == ["a", "b"]
    same = pod(
        "p",
        labels={"app": "web", "version": "v1"},
        spec={"topologySpreadConstraints": [constraint]},
    )
    assert report(nodes, same, existing)["feasible"] == ["b"]


def test_two_profiles_schedule_their_own_pods() -> None:
    spread, packer = profiles(
        {"schedulerName": "default-scheduler"},
        {
            "schedulerName": "packer",
            "pluginConfig": [
                {"name": "NodeResourcesFit", "args": {"scoringStrategy": {"type": "MostAllocated"}}}
            ],
        },
    )
    state = cluster([node("a"), node("b"), pod("seed", cpu="2", memory="4Gi", node_name="a")])
    pods = [
        pod("spread", cpu="1", memory="2Gi"),
        pod("packed", cpu="1", memory="2Gi", spec={"schedulerName": "packer"}),
    ]
    config = SchedulerConfig({"default-scheduler": spread, "packer": packer})
    attempts, _ = run_pods(config, state, pods)
    placed = {a.pod: a.node for a in attempts}
    # cpu and memory fractions stay equal, so BalancedAllocation ties; LeastAllocated prefers
    # the empty node b (75 against 25), MostAllocated the busier node a (75 against 50)
    assert placed == {"default/spread": "b", "default/packed": "a"}


def _default_spread_case(selecting: list[object], incoming: Pod) -> dict[str, Any]:
    zone = "topology.kubernetes.io/zone"
    nodes = [
        node("a", labels={zone: "z1"}),
        node("b", labels={zone: "z1"}),
        node("c", labels={zone: "z2"}),
    ]
    existing = [
        pod("w1", labels={"app": "web"}, node_name="a"),
        pod("w2", labels={"app": "web"}, node_name="a"),
        pod("w3", labels={"app": "web"}, node_name="c"),
    ]
    return _report([*nodes, *existing, *selecting], incoming)


def test_system_default_spread_applies_to_pods_a_service_selects() -> None:
    service = decode(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"selector": {"app": "web"}},
        }
    )
    result = _default_spread_case([service], pod("p", labels={"app": "web"}))
    # hostname: maxSkew 3, weight ln(3 + 2); zone: maxSkew 5, weight ln(2 + 2)
    # a: 2*ln5 + 2 + 2*ln4 + 4 = 11.99 -> 12; b: 0 + 2 + 2*ln4 + 4 = 8.77 -> 9;
    # c: ln5 + 2 + ln4 + 4 = 9.00 -> 9; normalized 100*(12+9-s)/12; weight 2
    assert scores(result, "PodTopologySpread") == {
        "a": (12, 75, 150),
        "b": (9, 100, 200),
        "c": (9, 100, 200),
    }
    alone = _default_spread_case([], pod("p", labels={"app": "web"}))
    assert "PodTopologySpread" not in alone["nodes"]["a"]["scores"]


def test_system_default_spread_uses_the_owning_replica_set() -> None:
    replica_set = decode(
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {"name": "web-5d8f", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}},
        }
    )
    owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d8f", "uid": "1"}
    owned = pod(
        "p",
        labels={"app": "web"},
        metadata={"ownerReferences": [{**owner, "controller": True}]},
    )
    result = _default_spread_case([replica_set], owned)
    assert scores(result, "PodTopologySpread")["a"] == (12, 75, 150)
