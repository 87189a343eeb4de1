"""Framework mechanics: nodes to score, node-tree order, round-robin start, the queue and its
backoff, the memo, preemption end to end in a queue run."""

from __future__ import annotations

import msgspec
import pytest

from impl.scheduler.arithmetic import num_feasible_nodes_to_find
from impl.scheduler.cycle import run_cycle
from impl.scheduler.memo import Memo
from impl.scheduler.nodeinfo import build_snapshot, node_tree_order, pod_info
from impl.scheduler.profile import build_profile
from impl.scheduler.queue import backoff_ms, run_queue
from impl.scheduler.schedule import schedule_one
from tests.scheduler.helpers import node, pod


@pytest.mark.parametrize(
    ("nodes", "expected"),
    [
        (50, 50),  # fewer than 100 nodes: all
        (200, 100),  # 48% of 200 = 96, raised to the minimum of 100
        (1000, 420),  # 50 - 1000/125 = 42%
        (5000, 500),  # 10%
        (6000, 300),  # 50 - 48 = 2%, floored at 5%
    ],
)
def test_adaptive_number_of_nodes_to_score(nodes: int, expected: int) -> None:
    assert num_feasible_nodes_to_find(0, nodes) == expected


def test_configured_percentage_of_nodes_to_score() -> None:
    assert num_feasible_nodes_to_find(30, 1000) == 300
    assert num_feasible_nodes_to_find(5, 1000) == 100
    assert num_feasible_nodes_to_find(100, 1000) == 1000


def test_node_tree_interleaves_zones() -> None:
    zone = "topology.kubernetes.io/zone"
    nodes = [
        node("a1", labels={zone: "a"}),
        node("a2", labels={zone: "a"}),
        node("a3", labels={zone: "a"}),
        node("b1", labels={zone: "b"}),
        node("c1", labels={zone: "c"}),
        node("b2", labels={zone: "b"}),
    ]
    assert node_tree_order(nodes) == ("a1", "b1", "c1", "a2", "b2", "a3")


def test_round_robin_start_and_early_stop() -> None:
    nodes = [node(f"n{i:03d}") for i in range(250)]
    snapshot = build_snapshot(nodes, [])
    # 250 nodes: 50 - 2 = 48% -> 120 feasible nodes wanted, starting at index 10
    result, _ = run_cycle(build_profile(), snapshot, pod_info(pod("p")), start_index=10)
    assert len(result.feasible) == 120
    assert result.feasible[0] == "n010"
    assert result.next_start_index == 130
    wrapped, _ = run_cycle(build_profile(), snapshot, pod_info(pod("p")), start_index=200)
    assert wrapped.feasible[50] == "n000"
    assert wrapped.next_start_index == (200 + 120) % 250


def test_backoff_doubles_from_one_second_to_ten() -> None:
    assert [backoff_ms(n) for n in range(1, 7)] == [1000, 2000, 4000, 8000, 10000, 10000]


def test_queue_orders_by_priority_then_arrival() -> None:
    profile = build_profile()
    snapshot = build_snapshot([node("a", cpu="1")], [])
    pods = [
        pod("low", cpu="600m", priority=1, index=0),
        pod("high", cpu="600m", priority=100, index=1),
        pod("mid", cpu="300m", priority=50, index=2),
    ]
    bindings, _ = run_queue({profile.scheduler_name: profile}, snapshot, pods)
    bound = [(b.pod, b.node) for b in bindings if b.node]
    # high first (600m), then mid (300m); low (600m) no longer fits
    assert bound[:2] == [("default/high", "a"), ("default/mid", "a")]
    assert all(b.node == "" for b in bindings if b.pod == "default/low")


def test_queue_preempts_and_retries_after_backoff() -> None:
    profile = build_profile()
    victim = pod("victim", cpu="1", priority=0, node_name="a", index=0)
    snapshot = build_snapshot([node("a", cpu="1")], [victim])
    bindings, final = run_queue(
        {profile.scheduler_name: profile}, snapshot, [pod("vip", cpu="1", priority=10, index=1)]
    )
    first, second = bindings
    assert (first.node, first.nominated_node, first.victims) == ("", "a", ("default/victim",))
    # the victim's deletion moves the preemptor to backoffQ: retried after 1 s
    assert (second.node, second.attempt, second.time_ms) == ("a", 2, 1000)
    assert [p.pod.name for p in final.node("a").pods] == ["vip"]


def test_pods_for_other_schedulers_are_left_alone() -> None:
    profile = build_profile()
    snapshot = build_snapshot([node("a")], [])
    other = pod("x", spec={"schedulerName": "custom"})
    bindings, _ = run_queue({profile.scheduler_name: profile}, snapshot, [other])
    assert bindings == []


def test_the_memo_changes_nothing() -> None:
    profile = build_profile()
    nodes = [node(f"n{i}", cpu=str(1 + i % 3), labels={"zone": f"z{i % 2}"}) for i in range(8)]
    pods = [pod(f"p{i}", cpu="300m", memory="100Mi", labels={"app": "a"}) for i in range(12)]
    plain = build_snapshot(nodes, [])
    cached = build_snapshot(nodes, [])
    memo = Memo(limit=50)
    for incoming in pods:
        info = pod_info(incoming)
        without = schedule_one(profile, plain, info)
        with_memo = schedule_one(profile, cached, info, memo=memo, detailed=False)
        assert without.cycle.totals == with_memo.cycle.totals
        assert without.cycle.statuses == with_memo.cycle.statuses
        chosen = without.cycle.top[0]
        bound = pod_info(msgspec.structs.replace(incoming, node_name=chosen))
        plain = plain.with_node(plain.node(chosen).with_pod(bound))
        cached = cached.with_node(cached.node(chosen).with_pod(bound))


def test_sub_millicore_requests_round_up() -> None:
    info = pod_info(pod("p", cpu="0.5m", memory="1.5"))
    assert info.requests["cpu"] == 1
    assert info.requests["memory"] == 2


def test_sidecars_add_to_regular_containers() -> None:
    spec = {
        "initContainers": [
            {
                "name": "proxy",
                "image": "x",
                "restartPolicy": "Always",
                "resources": {"requests": {"cpu": "200m"}},
            },
            {"name": "setup", "image": "x", "resources": {"requests": {"cpu": "500m"}}},
        ]
    }
    # running: 300m + sidecar 200m = 500m; setup runs beside the sidecar: 500m + 200m = 700m
    info = pod_info(pod("p", cpu="300m", spec=spec))
    assert info.requests["cpu"] == 700


def test_nominated_pods_hold_their_room_against_lower_priority_pods() -> None:
    profile = build_profile()
    nominee = pod("nominee", cpu="2", priority=10, status={"nominatedNodeName": "a"})
    snapshot = build_snapshot([node("a", cpu="2"), node("b", cpu="1")], [], nominated=[nominee])
    low = schedule_one(profile, snapshot, pod_info(pod("low", cpu="1", priority=5)))
    assert low.cycle.feasible == ("b",)
    assert dict(low.cycle.statuses)["a"].reasons == ("Insufficient cpu",)
    high = schedule_one(profile, snapshot, pod_info(pod("high", cpu="1", priority=20)))
    assert sorted(high.cycle.feasible) == ["a", "b"]


def test_a_preemptor_keeps_the_room_it_freed() -> None:
    profile = build_profile()
    victim = pod("victim", cpu="1", priority=0, node_name="a", index=0)
    snapshot = build_snapshot([node("a", cpu="1")], [victim])
    pods = [pod("vip", cpu="1", priority=10, index=1), pod("filler", cpu="1", priority=5, index=2)]
    bindings, _ = run_queue({profile.scheduler_name: profile}, snapshot, pods)
    bound = {b.pod: (b.node, b.time_ms) for b in bindings if b.node}
    assert bound == {"default/vip": ("a", 1000)}


def test_an_unschedulable_pod_is_retried_after_a_relevant_event() -> None:
    profile = build_profile()
    nodes = [node("a", labels={"zone": "z1"}), node("b", labels={"zone": "z2"})]
    term = {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "zone"}
    spec = {"affinity": {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}}
    web = pod("web", labels={"app": "web"}, spec=spec, index=0)
    database = pod("db", labels={"app": "db"}, spec={"nodeSelector": {"zone": "z2"}}, index=1)
    bindings, _ = run_queue(
        {profile.scheduler_name: profile}, build_snapshot(nodes, []), [web, database]
    )
    attempts = [(b.pod, b.node, b.attempt, b.time_ms) for b in bindings]
    # web fails first (no db pod anywhere, and web does not match its own term); the db pod's
    # binding concerns InterPodAffinity, so web leaves the unschedulable pool and is retried
    # when its 1 s backoff ends, next to the db pod's zone
    assert attempts == [
        ("default/web", "", 1, 0),
        ("default/db", "b", 1, 0),
        ("default/web", "b", 2, 1000),
    ]
