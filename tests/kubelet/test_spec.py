"""The kubelet's properties: each catches a planted violation, none is broken by the reference
on the scenarios, and every ``sometimes`` companion is shown by them."""

from __future__ import annotations

import msgspec

from models.kubelet.config import GIB, MIB, KubeletConfig, NodeResources
from models.kubelet.events import PodObserved, PodUsage, SignalObserved, UsageObserved
from models.kubelet.state import ConditionRecord, KubeletState, PodRecord
from spec.kubelet import properties
from tests.kubelet.harness import Harness, make_pod

APP = "sim.kubeoracle.io/app."
ONE = {"containers": [{"name": "app", "image": "x"}]}


def _scenarios() -> list[Harness]:
    crash = Harness()
    crash.add(make_pod("crash", ONE, {APP + "exit-code": "1"}))
    crash.add(
        make_pod(
            "done",
            {**ONE, "restartPolicy": "Never"},
            {APP + "exit-code": "0", APP + "run-seconds": "2"},
        )
    )
    crash.run(40)
    small = Harness(KubeletConfig(node_name="node-0", capacity=NodeResources(cpu_millis=100)))
    big = {"containers": [{"name": "app", "image": "x", "resources": {"requests": {"cpu": "1"}}}]}
    small.add(make_pod("big", big))
    stubborn = Harness()
    pod = make_pod("slow", ONE, {APP + "stop-seconds": "100"})
    stubborn.add(pod)
    meta = msgspec.structs.replace(
        pod.meta, deletion_timestamp="2027-01-15T08:00:00Z", deletion_grace_period_seconds=5
    )
    stubborn.feed(PodObserved(pod=msgspec.structs.replace(pod, metadata=meta)))
    stubborn.run(10)
    probed = Harness()
    container = {"name": "app", "image": "x", "readinessProbe": {"periodSeconds": 1}}
    probed.add(make_pod("r", {"containers": [container]}, {APP + "readiness-fail-until": "2"}))
    probed.run(4)
    pressed = Harness()
    pressed.add(make_pod("a", ONE))
    pressed.feed(UsageObserved(memory_available_bytes=MIB))
    full = Harness()
    full.add(make_pod("d", ONE, {APP + "disk-bytes": "1000"}))
    full.feed(
        UsageObserved(
            memory_available_bytes=GIB,
            pods=(PodUsage(uid="uid-d", cpu_millis=0, memory_bytes=0, disk_bytes=1000),),
            signals=(SignalObserved(signal="nodefs.available", available=GIB, capacity=100 * GIB),),
        )
    )
    return [crash, small, stubborn, probed, pressed, full]


def test_reference_keeps_every_property_and_shows_every_companion() -> None:
    shown: set[str] = set()
    for harness in _scenarios():
        assert harness.violations == []
        shown |= harness.shown
    assert shown == set(properties.SOMETIMES)


def _with_pod(state: KubeletState, **changes: object) -> KubeletState:
    record = msgspec.structs.replace(state.pods[0], **changes)
    return msgspec.structs.replace(state, pods=(record,))


def _running() -> tuple[KubeletConfig, KubeletState]:
    harness = Harness()
    harness.add(make_pod("p", ONE))
    return harness.config, harness.state


def test_phase_transitions_catches_a_return_to_pending() -> None:
    config, state = _running()
    back = _with_pod(state, phase="Pending")
    assert [v.property_name for v in properties.judge_step(config, state, back)] == [
        "kubelet.phase_transitions",
        "kubelet.ready_only_when_running",
    ]
    done = _with_pod(state, phase="Succeeded")
    assert (
        properties.phase_transitions(done, state)[0].reason
        == "pod uid-p moved from Succeeded to Running"
    )


def test_restart_count_monotone_catches_a_decrease() -> None:
    _, state = _running()
    record: PodRecord = state.pods[0]
    more = msgspec.structs.replace(record.containers[0], restart_count=3)
    before = _with_pod(state, containers=(more,))
    assert [v.property_name for v in properties.restart_count_monotone(before, state)] == [
        "kubelet.restart_count_monotone"
    ]


def test_admission_within_allocatable_catches_overcommit() -> None:
    config, state = _running()
    greedy = _with_pod(state, requests=(("cpu", 5000),))
    found = properties.admission_within_allocatable(config, greedy)
    assert [v.reason for v in found] == ["admitted pods request 5000 of cpu, allocatable is 4000"]


def test_grace_period_honoured_catches_an_early_kill_and_a_short_grace() -> None:
    config, state = _running()
    container = state.pods[0].containers[0]
    term = msgspec.structs.replace(
        container, stop_signal="SIGTERM", stop_deadline_ms=state.now_ms + 30_000
    )
    kill = msgspec.structs.replace(term, stop_signal="SIGKILL")
    before, after = _with_pod(state, containers=(term,)), _with_pod(state, containers=(kill,))
    assert [v.property_name for v in properties.grace_period_honoured(config, before, after)] == [
        "kubelet.grace_period_honoured"
    ]
    short = _with_pod(
        state, deletion_started_ms=state.now_ms, deletion_deadline_ms=state.now_ms + 1000
    )
    assert len(properties.grace_period_honoured(config, short, short)) == 1


def test_ready_only_when_running_catches_a_ready_pending_pod() -> None:
    _, state = _running()
    ready = (ConditionRecord(type="Ready", status="True", since_ms=0),)
    bad = _with_pod(state, phase="Pending", conditions=ready)
    assert [v.property_name for v in properties.ready_only_when_running(bad)] == [
        "kubelet.ready_only_when_running"
    ]


def test_single_instance_catches_a_pod_running_on_two_nodes() -> None:
    _, state = _running()
    assert properties.single_instance({"node-0": state}) == []
    assert [v.reason for v in properties.single_instance({"a": state, "b": state})] == [
        "pod uid-p runs on a and b"
    ]


def test_eviction_properties_catch_a_wrong_victim_and_an_eviction_without_pressure() -> None:
    harness = Harness()
    harness.add(make_pod("small", ONE))
    harness.add(make_pod("large", ONE))
    config, before = harness.config, harness.state
    usage = (
        PodUsage(uid="uid-small", cpu_millis=0, memory_bytes=0, disk_bytes=10),
        PodUsage(uid="uid-large", cpu_millis=0, memory_bytes=0, disk_bytes=5000),
    )
    signal = SignalObserved(signal="nodefs.available", available=GIB, capacity=100 * GIB)
    small = next(r for r in before.pods if r.uid == "uid-small")
    evicted = msgspec.structs.replace(
        small, phase="Failed", reason="Evicted", eviction_signal="nodefs.available"
    )
    after = msgspec.structs.replace(
        before,
        usage=usage,
        signals=(signal,),
        pods=tuple(evicted if r.uid == "uid-small" else r for r in before.pods),
    )
    assert [v.reason for v in properties.eviction_order(before, after)] == [
        "pod uid-small evicted for nodefs.available while uid-large ranks before it"
    ]
    assert properties.eviction_under_pressure(config, before, after) == []
    # 11 % available is above the 10 % threshold: no eviction is allowed.
    calm = msgspec.structs.replace(
        after,
        signals=(SignalObserved(signal="nodefs.available", available=11, capacity=100),),
    )
    assert [v.property_name for v in properties.eviction_under_pressure(config, before, calm)] == [
        "kubelet.eviction_under_pressure"
    ]
