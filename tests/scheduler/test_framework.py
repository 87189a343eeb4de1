"""Framework mechanics: nodes to score, node-tree order, round-robin start, the queue and its
backoff (SchedulerPopFromBackoffQ), the results cache, preemption end to end in a queue run."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
import pytest

from impl.scheduler.arithmetic import num_feasible_nodes_to_find
from impl.scheduler.cycle import run_cycle
from impl.scheduler.features import DEFAULT_FEATURES, SchedulerFeatures
from impl.scheduler.machine import SchedulerConfig, SchedulerState, init, on_event
from impl.scheduler.nodeinfo import node_tree_order, node_view
from impl.scheduler.podinfo import bound_to, pod_info
from impl.scheduler.profile import default_profile
from impl.scheduler.queue import Backoff
from impl.scheduler.results_cache import ResultsCache
from impl.scheduler.run import Attempt, drive, run_pods
from impl.scheduler.schedule import schedule_one
from models.k8s.core.pod import Pod
from models.scheduling.events import PodAdded, PodDeleted, PodUpdated, ScheduleNext
from tests.scheduler.helpers import cluster, node, pod, snapshot

NO_POP = msgspec.structs.replace(DEFAULT_FEATURES, pop_from_backoff=False)


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
    assert node_tree_order(node_view(n) for n in nodes) == ("a1", "b1", "c1", "a2", "b2", "a3")


def test_round_robin_start_and_early_stop() -> None:
    state = snapshot([node(f"n{i:03d}") for i in range(250)])
    info = pod_info(pod("p"), DEFAULT_FEATURES)
    # 250 nodes: 50 - 2 = 48% -> 120 feasible nodes wanted, starting at index 10
    result, _, _ = run_cycle(default_profile(), state, info, start_index=10)
    assert len(result.feasible) == 120
    assert result.feasible[0] == "n010"
    assert result.next_start_index == 130
    wrapped, _, _ = run_cycle(default_profile(), state, info, start_index=200)
    assert wrapped.feasible[50] == "n000"
    assert wrapped.next_start_index == (200 + 120) % 250


def test_backoff_doubles_from_one_second_to_ten() -> None:
    assert [Backoff().duration_ms(n) for n in range(1, 7)] == [
        1000,
        2000,
        4000,
        8000,
        10000,
        10000,
    ]


def _run(
    objects: Sequence[object], pods: list[Pod], features: SchedulerFeatures = DEFAULT_FEATURES
) -> tuple[list[Attempt], SchedulerState]:
    profile = default_profile(features)
    config = SchedulerConfig({profile.scheduler_name: profile}, features)
    return run_pods(config, cluster(objects), pods)


def test_queue_orders_by_priority_then_arrival() -> None:
    pods = [
        pod("low", cpu="600m", priority=1),
        pod("high", cpu="600m", priority=100),
        pod("mid", cpu="300m", priority=50),
    ]
    attempts, _ = _run([node("a", cpu="1")], pods)
    bound = [(a.pod, a.node) for a in attempts if a.node]
    # high first (600m), then mid (300m); low (600m) no longer fits
    assert bound[:2] == [("default/high", "a"), ("default/mid", "a")]
    assert all(a.node == "" for a in attempts if a.pod == "default/low")


@pytest.mark.parametrize(("features", "retry_ms"), [(DEFAULT_FEATURES, 0), (NO_POP, 1000)])
def test_queue_preempts_and_retries(features: SchedulerFeatures, retry_ms: int) -> None:
    victim = pod("victim", cpu="1", priority=0, node_name="a")
    attempts, final = _run(
        [node("a", cpu="1"), victim], [pod("vip", cpu="1", priority=10)], features
    )
    first, second = attempts
    assert (first.node, first.nominated_node, first.victims) == ("", "a", ("default/victim",))
    # the victim's deletion moves the preemptor to backoffQ; with SchedulerPopFromBackoffQ
    # (v1.33+, on) an idle scheduler takes it at once, without it after its 1 s backoff
    assert (second.node, second.attempt, second.time_ms) == ("a", 2, retry_ms)
    assert [p.name for p in final.snapshot.node("a").pods] == ["vip"]


def test_pods_for_other_schedulers_are_left_alone() -> None:
    attempts, _ = _run([node("a")], [pod("x", spec={"schedulerName": "custom"})])
    assert attempts == []


def test_gated_pods_wait_out_of_the_queue() -> None:
    gated = pod("g", spec={"schedulingGates": [{"name": "example.com/gate"}]})
    attempts, final = _run([node("a")], [gated])
    assert attempts == []
    assert [item.info.name for item in final.queue.gated] == ["g"]


def test_lifting_the_gates_queues_the_pod() -> None:
    gated = pod("g", cpu="1", spec={"schedulingGates": [{"name": "example.com/gate"}]})
    config = SchedulerConfig({"default-scheduler": default_profile()})
    state = init(config, cluster([node("a")])).state
    _, state = drive(config, state, [gated])
    assert [item.info.name for item in state.queue.gated] == ["g"]
    state = on_event(config, state, PodUpdated(pod=pod("g", cpu="1"))).state
    assert state.queue.gated == ()
    assert [item.info.name for item in state.queue.active] == ["g"]
    attempts, state = drive(config, state, [])
    assert [(a.pod, a.node) for a in attempts] == [("default/g", "a")]
    # the bound pod's own update (labels added) replaces it in the cache, nothing doubles
    relabelled = pod("g", cpu="1", node_name="a", labels={"app": "x"})
    state = on_event(config, state, PodUpdated(pod=relabelled)).state
    (bound,) = state.snapshot.node("a").pods
    assert dict(bound.labels) == {"app": "x"}


def test_the_results_cache_changes_nothing() -> None:
    profile = default_profile()
    nodes = [node(f"n{i}", cpu=str(1 + i % 3), labels={"zone": f"z{i % 2}"}) for i in range(8)]
    pods = [pod(f"p{i}", cpu="300m", memory="100Mi", labels={"app": "a"}) for i in range(12)]
    plain = snapshot(nodes)
    cached = snapshot(nodes)
    cache = ResultsCache(limit=50)
    for generation, incoming in enumerate(pods, start=1):
        info = pod_info(incoming, DEFAULT_FEATURES)
        without, _ = schedule_one(profile, plain, info)
        with_cache, cache = schedule_one(profile, cached, info, cache=cache, detailed=False)
        assert without.cycle.totals == with_cache.cycle.totals
        assert without.cycle.statuses == with_cache.cycle.statuses
        chosen = without.cycle.top[0]
        bound = bound_to(info, chosen)
        plain = plain.with_node(plain.node(chosen).with_pod(bound, generation))
        cached = cached.with_node(cached.node(chosen).with_pod(bound, generation))


def test_sub_millicore_requests_round_up() -> None:
    info = pod_info(pod("p", cpu="0.5m", memory="1.5"), DEFAULT_FEATURES)
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
    info = pod_info(pod("p", cpu="300m", spec=spec), DEFAULT_FEATURES)
    assert info.requests["cpu"] == 700


def test_nominated_pods_hold_their_room_against_lower_priority_pods() -> None:
    profile = default_profile()
    nominee = pod("nominee", cpu="2", priority=10, status={"nominatedNodeName": "a"})
    state = snapshot([node("a", cpu="2"), node("b", cpu="1"), nominee])
    low, _ = schedule_one(
        profile, state, pod_info(pod("low", cpu="1", priority=5), DEFAULT_FEATURES)
    )
    assert low.cycle.feasible == ("b",)
    assert dict(low.cycle.statuses)["a"].reasons == ("Insufficient cpu",)
    high, _ = schedule_one(
        profile, state, pod_info(pod("high", cpu="1", priority=20), DEFAULT_FEATURES)
    )
    assert sorted(high.cycle.feasible) == ["a", "b"]


def test_a_preemptor_keeps_the_room_it_freed() -> None:
    victim = pod("victim", cpu="1", priority=0, node_name="a")
    pods = [pod("vip", cpu="1", priority=10), pod("filler", cpu="1", priority=5)]
    attempts, _ = _run([node("a", cpu="1"), victim], pods, NO_POP)
    bound = {a.pod: (a.node, a.time_ms) for a in attempts if a.node}
    assert bound == {"default/vip": ("a", 1000)}


def test_an_unschedulable_pod_is_retried_after_a_relevant_event() -> None:
    nodes = [node("a", labels={"zone": "z1"}), node("b", labels={"zone": "z2"})]
    term = {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "zone"}
    spec = {"affinity": {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}}
    web = pod("web", labels={"app": "web"}, spec=spec)
    database = pod("db", labels={"app": "db"}, spec={"nodeSelector": {"zone": "z2"}})
    attempts, _ = _run(nodes, [web, database], NO_POP)
    trace = [(a.pod, a.node, a.attempt, a.time_ms) for a in attempts]
    # web fails first (no db pod anywhere, and web does not match its own term); the db pod's
    # binding matches web's affinity term (InterPodAffinity's QueueingHint answers Queue), so
    # web leaves the unschedulable pool and is retried when its 1 s backoff ends
    assert trace == [
        ("default/web", "", 1, 0),
        ("default/db", "b", 1, 0),
        ("default/web", "b", 2, 1000),
    ]


def test_an_event_the_hint_skips_leaves_the_pod_waiting() -> None:
    nodes = [node("a", labels={"zone": "z1"})]
    term = {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "zone"}
    spec = {"affinity": {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}}
    web = pod("web", labels={"app": "web"}, spec=spec)
    other = pod("cache", labels={"app": "cache"})
    attempts, final = _run(nodes, [web, other], NO_POP)
    # the bound pod does not match web's term: QueueSkip, web stays unschedulable
    assert [(a.pod, a.node) for a in attempts] == [("default/web", ""), ("default/cache", "a")]
    assert [item.info.name for item in final.queue.unschedulable] == ["web"]


def test_a_status_only_update_of_an_assigned_pod_wakes_nobody() -> None:
    """kube-scheduler's AssignedPodUpdate: NodeResourcesFit's hint queues a waiting pod only
    when an assigned pod's requests shrink; a condition or a deletion timestamp changes
    nothing, so the waiting pod stays unschedulable until the assigned pod is deleted."""
    profile = default_profile()
    config = SchedulerConfig({profile.scheduler_name: profile})
    state = init(config, cluster([node("n", cpu="1")])).state
    running = pod("running", cpu="900m", node_name="n")
    state = on_event(config, state, PodAdded(pod=running)).state
    state = on_event(config, state, PodAdded(pod=pod("waiting", cpu="900m"))).state
    step = on_event(config, state, ScheduleNext())
    assert [type(c).__name__ for c in step.commands][-1] == "ReportFailure"
    state = step.state
    assert [i.info.key for i in state.queue.unschedulable] == ["default/waiting"]
    terminating = pod(
        "running",
        cpu="900m",
        node_name="n",
        metadata={"deletionTimestamp": "2026-01-01T00:00:00Z"},
        status={"conditions": [{"type": "DisruptionTarget", "status": "True"}]},
    )
    state = on_event(config, state, PodUpdated(pod=terminating)).state
    assert [i.info.key for i in state.queue.unschedulable] == ["default/waiting"]
    (cached,) = state.snapshot.node("n").pods
    assert cached.terminating
    state = on_event(config, state, PodDeleted(key="default/running")).state
    # Woken: it waits out its backoff (1 s after the failed attempt), no longer unschedulable.
    assert state.queue.unschedulable == ()
    assert [i.info.key for i in state.queue.backoff] == ["default/waiting"]
