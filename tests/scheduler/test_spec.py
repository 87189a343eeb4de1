"""The implementation against the spec: every binding satisfies the always-properties, each
sometimes-companion is observed, and schedulers with a filter switched off are caught."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from impl.scheduler.features import DEFAULT_FEATURES
from impl.scheduler.podinfo import bound_to, pod_info
from impl.scheduler.profile import Profile, default_profile
from impl.scheduler.schedule import binding_step, schedule_one
from models.k8s.core.node import Node
from models.k8s.core.pod import Pod
from models.scheduling.step import SchedulingStep
from spec.scheduler.properties import PROPERTIES
from tests.scheduler.helpers import node, pod, profiles, snapshot

ALWAYS = tuple(p for p in PROPERTIES if p.kind == "always")
SOMETIMES = tuple(p for p in PROPERTIES if p.kind == "sometimes")


def _bind_all(
    profile: Profile, nodes: list[Node], pods: list[Pod], choices: list[int] | None = None
) -> list[SchedulingStep]:
    state = snapshot(nodes)
    steps = []
    for index, incoming in enumerate(pods):
        info = pod_info(incoming, DEFAULT_FEATURES)
        outcome, _ = schedule_one(profile, state, info)
        if not outcome.cycle.top:
            continue
        pick = (choices[index] if choices else 0) % len(outcome.cycle.top)
        chosen = outcome.cycle.top[pick]
        steps.append(binding_step(state, info, outcome, chosen))
        bound = bound_to(info, chosen)
        state = state.with_node(state.node(chosen).with_pod(bound, index + 1))
    return steps


@st.composite
def _cluster(draw: st.DrawFn) -> tuple[list[Node], list[Pod], list[int]]:
    nodes = []
    for index in range(draw(st.integers(2, 5))):
        taints = (
            [{"key": "dedicated", "value": "x", "effect": "NoSchedule"}]
            if draw(st.booleans()) and index > 0
            else []
        )
        nodes.append(
            node(
                f"n{index}",
                cpu=draw(st.sampled_from(["1", "2", "4"])),
                memory=draw(st.sampled_from(["1Gi", "2Gi"])),
                pods=draw(st.sampled_from(["2", "3", "110"])),
                labels={"zone": draw(st.sampled_from(["z1", "z2", "z3"]))},
                taints=taints,
            )
        )
    pods = []
    for index in range(draw(st.integers(1, 8))):
        app = draw(st.sampled_from(["web", "db"]))
        spec: dict[str, Any] = {}
        if draw(st.booleans()):
            spec["topologySpreadConstraints"] = [
                {
                    "maxSkew": draw(st.integers(1, 2)),
                    "topologyKey": "zone",
                    "whenUnsatisfiable": "DoNotSchedule",
                    "labelSelector": {"matchLabels": {"app": app}},
                }
            ]
        if draw(st.booleans()):
            term = {"labelSelector": {"matchLabels": {"app": app}}, "topologyKey": "zone"}
            spec["affinity"] = {
                "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}
            }
        if draw(st.booleans()):
            spec["tolerations"] = [{"key": "dedicated", "operator": "Exists"}]
        pods.append(
            pod(
                f"p{index}",
                cpu=draw(st.sampled_from([None, "250m", "500m", "1"])),
                memory=draw(st.sampled_from([None, "256Mi", "1Gi"])),
                labels={"app": app},
                spec=spec,
            )
        )
    choices = draw(st.lists(st.integers(0, 3), min_size=len(pods), max_size=len(pods)))
    return nodes, pods, choices


@settings(max_examples=60)
@given(_cluster())
def test_every_binding_satisfies_the_always_properties(
    case: tuple[list[Node], list[Pod], list[int]],
) -> None:
    nodes, pods, choices = case
    for step in _bind_all(default_profile(), nodes, pods, choices):
        broken = [p.name for p in ALWAYS if not p.holds(step)]
        assert broken == [], (step.pod.metadata, step.pod.pod_spec.node_name)


def _scenarios() -> list[SchedulingStep]:
    spread = {
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "zone",
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": {"matchLabels": {"app": "web"}},
            }
        ]
    }
    anti = {
        "affinity": {
            "podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "zone"}
                ]
            }
        }
    }
    nodes = [
        node("a", cpu="1", labels={"zone": "z1"}),
        node("b", cpu="1", memory="16Gi", labels={"zone": "z2"}),
    ]
    pods = [
        pod("full", cpu="1", labels={"app": "web"}, spec=spread),
        pod("second", cpu="500m", labels={"app": "web"}, spec=anti),
    ]
    return _bind_all(default_profile(), nodes, pods)


def test_the_sometimes_companions_are_observed() -> None:
    steps = _scenarios()
    assert len(steps) == 2
    for step in steps:
        assert all(p.holds(step) for p in ALWAYS)
    unseen = [p.name for p in SOMETIMES if not any(p.holds(step) for step in steps)]
    assert unseen == []


def _without(point: str, plugin: str) -> Profile:
    return profiles({"plugins": {point: {"disabled": [{"name": plugin}]}}})[0]


def _violated(profile: Profile, nodes: list[Node], pods: list[Pod]) -> set[str]:
    return {p.name for step in _bind_all(profile, nodes, pods) for p in ALWAYS if not p.holds(step)}


def test_a_scheduler_skipping_the_fit_filter_overcommits() -> None:
    nodes = [node("a", cpu="1")]
    pods = [pod("x", cpu="1"), pod("y", cpu="1")]
    assert _violated(default_profile(), nodes, pods) == set()
    assert "scheduler.no_overcommit" in _violated(
        _without("filter", "NodeResourcesFit"), nodes, pods
    )


def test_a_scheduler_skipping_inter_pod_affinity_breaks_anti_affinity() -> None:
    term = {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "zone"}
    spec = {
        "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}
    }
    nodes = [node("a", labels={"zone": "z1"})]
    pods = [pod(f"w{i}", labels={"app": "web"}, spec=spec) for i in range(2)]
    assert _violated(default_profile(), nodes, pods) == set()
    broken = _violated(_without("filter", "InterPodAffinity"), nodes, pods)
    assert "scheduler.anti_affinity_respected" in broken


def test_a_scheduler_skipping_topology_spread_breaks_max_skew() -> None:
    spec = {
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "zone",
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": {"matchLabels": {"app": "web"}},
            }
        ]
    }
    nodes = [node("a", labels={"zone": "z1"}), node("b", cpu="1", labels={"zone": "z2"})]
    pods = [pod(f"w{i}", labels={"app": "web"}, spec=spec) for i in range(3)]
    assert _violated(default_profile(), nodes, pods) == set()
    broken = _violated(_without("filter", "PodTopologySpread"), nodes, pods)
    assert "scheduler.spread_within_max_skew" in broken
