"""Graceful deletion, admission refusals, node-pressure eviction and a node reboot."""

from __future__ import annotations

from typing import Any

import msgspec

from models.k8s.core.node import Node, NodeSpec, Taint
from models.k8s.core.pod import Pod
from models.kubelet.config import EVICTION_IGNORES_PRIORITY, MIB, KubeletConfig, NodeResources
from models.kubelet.events import (
    CreateSandbox,
    DeletePod,
    NodeObserved,
    PodObserved,
    PodUsage,
    StartContainer,
    StopContainer,
    UsageObserved,
)
from tests.kubelet.harness import Harness, make_pod

APP = "sim.kubeoracle.io/app."
ONE = {"containers": [{"name": "app", "image": "x"}]}


def _deleting(pod: Pod, grace: int) -> Pod:
    meta = msgspec.structs.replace(
        pod.meta, deletion_timestamp="2027-01-15T08:00:10Z", deletion_grace_period_seconds=grace
    )
    return msgspec.structs.replace(pod, metadata=meta)


def _delete_after(stop_seconds: int, grace: int) -> tuple[list[tuple[int, str]], int, int]:
    harness = Harness()
    start = harness.now_ms
    pod = make_pod("p", ONE, {APP + "stop-seconds": str(stop_seconds)})
    harness.add(pod)
    harness.run(10)
    harness.feed(PodObserved(pod=_deleting(pod, grace)))
    signals: list[tuple[int, str]] = []
    deleted = -1
    for _ in range(60):
        for stop in harness.of_type(StopContainer)[len(signals) :]:
            signals.append(((harness.now_ms - start) // 1000, stop.signal))
        if deleted < 0 and harness.of_type(DeletePod):
            deleted = (harness.now_ms - start) // 1000
        harness.run(1)
    terminated = harness.container("uid-p", "app").state
    assert terminated is not None
    assert terminated.terminated is not None
    return signals, deleted, terminated.terminated.exit_code or 0


def test_grace_period_is_honoured_before_sigkill() -> None:
    # the container ignores SIGTERM for 100 s: SIGKILL exactly when the 30 s grace is over
    signals, deleted, code = _delete_after(100, 30)
    assert signals == [(10, "SIGTERM"), (40, "SIGKILL")]
    assert deleted == 40
    assert code == 137


def test_a_container_that_stops_in_time_is_not_killed() -> None:
    signals, deleted, code = _delete_after(5, 30)
    assert signals == [(10, "SIGTERM")]
    assert deleted == 15
    assert code == 143


def test_grace_below_the_minimum_is_raised_to_two_seconds() -> None:
    signals, _, _ = _delete_after(100, 1)
    assert signals == [(10, "SIGTERM"), (12, "SIGKILL")]


def test_deleted_pod_ends_failed_when_killed() -> None:
    harness = Harness()
    pod = make_pod("p", ONE)
    harness.add(pod)
    harness.feed(PodObserved(pod=_deleting(pod, 30)))
    harness.run(1)
    assert harness.status("uid-p").phase == "Failed"
    delete = harness.of_type(DeletePod)
    assert [(d.namespace, d.name, d.uid) for d in delete] == [("default", "p", "uid-p")]


def test_a_pod_first_seen_while_deleted_is_never_started() -> None:
    # A kubelet that relists (a broken watch, a restart) and first hears of a pod that is
    # already being deleted runs its termination, not its containers: no sandbox, no start,
    # and the API pod is deleted.
    harness = Harness()
    harness.feed(PodObserved(pod=_deleting(make_pod("p", ONE), 30)))
    harness.run(40)
    assert harness.of_type(CreateSandbox) == []
    assert harness.of_type(StartContainer) == []
    delete = harness.of_type(DeletePod)
    assert [(d.namespace, d.name, d.uid) for d in delete] == [("default", "p", "uid-p")]


def test_a_delete_is_sent_again_while_the_api_still_shows_the_pod() -> None:
    # kube's status manager deletes a finished pod until it is gone: a delete that was lost
    # (the API answered nothing) is sent again once the informer shows the pod still there.
    harness = Harness()
    deleting = _deleting(make_pod("p", ONE), 30)
    harness.feed(PodObserved(pod=deleting))
    harness.run(2)
    assert len(harness.of_type(DeletePod)) == 1
    harness.run(5)
    assert len(harness.of_type(DeletePod)) == 1  # not repeated while nothing is heard
    harness.feed(PodObserved(pod=deleting))
    harness.run(1)
    assert len(harness.of_type(DeletePod)) == 2


def test_the_same_pod_not_being_deleted_is_started() -> None:  # the companion
    harness = Harness()
    harness.feed(PodObserved(pod=make_pod("p", ONE)))
    harness.run(5)
    assert [start.container.name for start in harness.of_type(StartContainer)] == ["app"]
    assert harness.of_type(DeletePod) == []


def _requests(cpu: str, memory: str = "1Mi") -> dict[str, Any]:
    return {
        "containers": [
            {"name": "app", "image": "x", "resources": {"requests": {"cpu": cpu, "memory": memory}}}
        ]
    }


def test_admission_refuses_what_does_not_fit() -> None:
    config = KubeletConfig(node_name="node-0", capacity=NodeResources(cpu_millis=1000, pods=2))
    harness = Harness(config)
    harness.add(make_pod("a", _requests("600m")))
    harness.add(make_pod("b", _requests("500m")))
    refused = harness.status("uid-b")
    assert refused.phase == "Failed"
    assert refused.reason == "OutOfcpu"
    assert refused.message == (
        "Pod was rejected: Node didn't have enough resource: cpu, requested: 500, used: 600, "
        "capacity: 1000"
    )
    assert [s.container.name for s in harness.of_type(StartContainer)] == ["app"]
    harness.add(make_pod("c", _requests("100m")))
    assert harness.status("uid-c").phase == "Running"
    harness.add(make_pod("d", _requests("100m")))
    assert harness.status("uid-d").reason == "OutOfpods"


def test_admission_checks_node_affinity_then_no_execute_taints() -> None:
    harness = Harness()
    harness.add(make_pod("sel", {**ONE, "nodeSelector": {"disk": "ssd"}}))
    assert harness.status("uid-sel").reason == "NodeAffinity"
    assert harness.status("uid-sel").message == "Pod was rejected: Predicate NodeAffinity failed"
    node = harness.node()
    assert node is not None
    tainted = msgspec.structs.replace(
        node,
        spec=NodeSpec(
            taints=(
                Taint(key="k", value="v", effect="NoExecute"),
                Taint(key="s", effect="NoSchedule"),
            )
        ),
    )
    harness.feed(NodeObserved(node=tainted))
    harness.add(make_pod("t", ONE))
    assert harness.status("uid-t").reason == "TaintToleration"
    tolerating = {**ONE, "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoExecute"}]}
    harness.add(make_pod("ok", tolerating))
    assert harness.status("uid-ok").phase == "Running"


def _usage(harness: Harness, available: int, pods: dict[str, int]) -> None:
    usage = tuple(
        PodUsage(uid=f"uid-{name}", cpu_millis=0, memory_bytes=m)
        for name, m in sorted(pods.items())
    )
    harness.feed(UsageObserved(memory_available_bytes=available, pods=usage))


def _eviction_order(config: KubeletConfig) -> list[str]:
    harness = Harness(config, strict=not config.mutant)
    spec_low = {**_requests("10m", "100Mi"), "priority": 0}
    spec_high = {**_requests("10m", "100Mi"), "priority": 1000}
    harness.add(make_pod("low", spec_low))
    harness.add(make_pod("high", spec_high))
    harness.add(make_pod("small", {**_requests("10m", "100Mi"), "priority": 0}))
    # both high and low use more than they request; high uses more, but low has lower priority
    _usage(harness, 50 * MIB, {"low": 200 * MIB, "high": 400 * MIB, "small": 50 * MIB})
    return [
        uid
        for uid in ("uid-low", "uid-high", "uid-small")
        if harness.status(uid).reason == "Evicted"
    ]


def test_eviction_ranks_usage_above_requests_then_priority() -> None:
    assert _eviction_order(KubeletConfig(node_name="node-0")) == ["uid-low"]


def test_eviction_ignoring_priority_mutant_picks_the_bigger_user() -> None:
    mutant = KubeletConfig(node_name="node-0", mutant=EVICTION_IGNORES_PRIORITY)
    assert _eviction_order(mutant) == ["uid-high"]
    caught = Harness(mutant, strict=False)
    for name, priority in (("low", 0), ("high", 1000)):
        caught.add(make_pod(name, {**_requests("10m", "100Mi"), "priority": priority}))
    _usage(caught, 50 * MIB, {"low": 200 * MIB, "high": 400 * MIB})
    assert {v.property_name for v in caught.violations} == {"kubelet.eviction_order"}


def test_memory_pressure_condition_and_best_effort_refusal() -> None:
    harness = Harness()
    harness.add(make_pod("a", _requests("10m", "10Mi")))
    _usage(harness, 50 * MIB, {"a": 10 * MIB})
    evicted = harness.status("uid-a")
    assert evicted.phase == "Failed"
    assert evicted.reason == "Evicted"
    assert (evicted.message or "").startswith("The node was low on resource: memory.")
    harness.add(make_pod("be", ONE))
    assert harness.status("uid-be").reason == "Evicted"
    harness.run(10)
    node_status = (
        [c for c in (harness.state.status_sent.conditions or ()) if c.type == "MemoryPressure"]
        if harness.state.status_sent
        else []
    )
    assert [c.status for c in node_status] == ["True"]


def test_reboot_keeps_restart_counts_and_restarts_containers() -> None:
    harness = Harness()
    harness.add(make_pod("p", ONE, {APP + "exit-code": "1"}))
    harness.run(12)
    before = harness.container("uid-p", "app").restart_count
    assert before == 2
    reported = harness.status("uid-p")
    pod = make_pod("p", ONE, {APP + "exit-code": "1"})
    pod = msgspec.structs.replace(pod, status=reported)
    rebooted = Harness()
    rebooted.add(pod)
    after = rebooted.container("uid-p", "app")
    assert after.restart_count == before + 1
    assert rebooted.status("uid-p").phase == "Running"
    assert isinstance(rebooted.node(), Node)


def _prestop_run(prestop_seconds: int, stop_seconds: int, grace: int) -> list[tuple[int, str]]:
    container = {
        "name": "app",
        "image": "x",
        "lifecycle": {"preStop": {"exec": {"command": ["sleep", "1"]}}},
    }
    harness = Harness()
    start = harness.now_ms
    script = {
        APP + "prestop-seconds": str(prestop_seconds),
        APP + "stop-seconds": str(stop_seconds),
    }
    pod = make_pod("p", {"containers": [container]}, script)
    harness.add(pod)
    harness.run(10)
    harness.feed(PodObserved(pod=_deleting(pod, grace)))
    seen: list[tuple[int, str]] = []
    for _ in range(60):
        for command in harness.commands[len(seen) :]:
            seen.append(((harness.now_ms - start) // 1000, type(command).__name__))
        harness.run(1)
    return [(t, name) for t, name in seen if name in ("RunPreStop", "StopContainer", "DeletePod")]


def test_prestop_runs_before_sigterm_within_the_grace_period() -> None:
    # hook 5 s, then SIGTERM; the container exits 2 s later; all within the 30 s grace
    events = _prestop_run(5, 2, 30)
    assert events == [(10, "RunPreStop"), (15, "StopContainer"), (17, "DeletePod")]


def test_a_prestop_outlasting_the_grace_gets_two_more_seconds_then_sigkill() -> None:
    # grace 10 s, hook 100 s: deadline at 20 s, one 2 s extension, SIGKILL at 22 s
    events = _prestop_run(100, 0, 10)
    assert events == [(10, "RunPreStop"), (22, "StopContainer"), (22, "DeletePod")]
