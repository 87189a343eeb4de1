"""Disk and PID pressure (v1.35 "Node-pressure Eviction"): thresholds as the kubelet computes
them, the DiskPressure and PIDPressure conditions with the kubelet's reasons and messages,
ranking per signal, the eviction message, and admission under pressure."""

from __future__ import annotations

from impl.kubelet import eviction
from models.kubelet.config import DISK_EVICTION_RANKS_BY_MEMORY, GIB, KubeletConfig
from models.kubelet.events import PodUsage, SignalObserved, UsageObserved
from tests.kubelet.harness import Harness, make_pod

APP = "sim.kubeoracle.io/app."
ONE = {"containers": [{"name": "app", "image": "x"}]}
CONFIG = KubeletConfig(node_name="node-0")


def test_default_thresholds_and_the_float32_percentage() -> None:
    # float32(0.1) is 13421773 / 2**27; 100 GiB / 2**27 = 800, so the threshold is
    # 800 * 13421773 = 10737418400 bytes, 160 above 10 GiB.
    assert eviction.threshold(CONFIG, "nodefs.available", 100 * GIB) == 10_737_418_400
    assert eviction.threshold(CONFIG, "nodefs.inodesFree", 1_000_000) == 50_000
    assert eviction.threshold(CONFIG, "imagefs.available", 1000) == 150
    assert eviction.threshold(CONFIG, "memory.available", 0) == 100 * 1024 * 1024
    assert eviction.threshold(CONFIG, "imagefs.inodesFree", 1000) is None
    assert eviction.threshold(CONFIG, "pid.available", 1000) is None


def usage(pods: tuple[PodUsage, ...], *signals: SignalObserved) -> UsageObserved:
    return UsageObserved(memory_available_bytes=4 * GIB, pods=pods, signals=signals)


def conditions(harness: Harness) -> dict[str, tuple[str, str, str]]:
    """The node conditions the kubelet last computed for its NodeStatus."""
    return {c.type: (c.status, c.reason, c.message) for c in harness.state.node_conditions}


def test_disk_pressure_sets_the_condition_and_evicts_the_largest_user_of_disk() -> None:
    harness = Harness()
    harness.add(make_pod("quiet", ONE, {APP + "memory-bytes": str(GIB)}))
    harness.add(make_pod("writer", ONE))
    harness.run(2)
    harness.feed(
        usage(
            (
                PodUsage(uid="uid-quiet", cpu_millis=0, memory_bytes=GIB, disk_bytes=10),
                PodUsage(uid="uid-writer", cpu_millis=0, memory_bytes=0, disk_bytes=3 * GIB),
            ),
            SignalObserved(signal="nodefs.available", available=5 * GIB, capacity=100 * GIB),
        )
    )
    writer = harness.status("uid-writer")
    assert (writer.phase, writer.reason) == ("Failed", "Evicted")
    assert writer.message == (
        "The node was low on resource: ephemeral-storage. "
        "Threshold quantity: 10737418400, available: 5Gi. "
    )
    disruption = [c for c in writer.conditions or () if c.type == "DisruptionTarget"]
    assert [(c.status, c.reason, c.message) for c in disruption] == [
        ("True", "TerminationByKubelet", writer.message)
    ]
    assert harness.status("uid-quiet").phase == "Running"
    harness.run(11)
    assert conditions(harness)["DiskPressure"] == (
        "True",
        "KubeletHasDiskPressure",
        "kubelet has disk pressure",
    )
    assert conditions(harness)["PIDPressure"][0] == "False"
    assert conditions(harness)["MemoryPressure"][0] == "False"
    # Under disk pressure every new pod is refused, whatever its QoS class.
    harness.add(make_pod("late", ONE))
    late = harness.status("uid-late")
    assert (late.phase, late.reason) == ("Failed", "Evicted")
    # Refused at admission, not evicted: no DisruptionTarget.
    assert [c.type for c in late.conditions or () if c.type == "DisruptionTarget"] == []
    assert late.message == "Pod was rejected: The node had condition: [DiskPressure]. "
    # A critical pod is still admitted.
    critical = make_pod("critical", {**ONE, "priority": 2_000_000_000})
    harness.add(critical)
    assert harness.status("uid-critical").phase != "Failed"


def test_pid_pressure_is_opt_in_and_ranks_by_priority_then_processes() -> None:
    signal = SignalObserved(signal="pid.available", available=100, capacity=4_194_304)
    plain = Harness()
    plain.add(make_pod("a", ONE))
    plain.run(2)
    plain.feed(usage((PodUsage(uid="uid-a", cpu_millis=0, memory_bytes=0, processes=5),), signal))
    assert plain.status("uid-a").phase == "Running"
    harness = Harness(KubeletConfig(node_name="node-0", eviction_hard_pid_available=1000))
    harness.add(make_pod("few", {**ONE, "priority": 0}))
    harness.add(make_pod("many", {**ONE, "priority": 100}))
    harness.run(2)
    harness.feed(
        usage(
            (
                PodUsage(uid="uid-few", cpu_millis=0, memory_bytes=0, processes=2),
                PodUsage(uid="uid-many", cpu_millis=0, memory_bytes=0, processes=900),
            ),
            signal,
        )
    )
    # Lower priority goes first, however few processes it runs.
    few = harness.status("uid-few")
    assert (few.phase, few.reason) == ("Failed", "Evicted")
    assert few.message == (
        "The node was low on resource: pids. Threshold quantity: 1k, available: 100. "
    )
    harness.run(11)
    assert conditions(harness)["PIDPressure"] == (
        "True",
        "KubeletHasInsufficientPID",
        "kubelet has insufficient PID available",
    )


def test_inodes_rank_by_inodes_and_memory_pressure_admits_a_tolerating_best_effort_pod() -> None:
    harness = Harness()
    harness.add(make_pod("files", ONE))
    harness.add(make_pod("bytes", ONE))
    harness.run(2)
    harness.feed(
        usage(
            (
                PodUsage(uid="uid-files", cpu_millis=0, memory_bytes=0, inodes=40_000),
                PodUsage(uid="uid-bytes", cpu_millis=0, memory_bytes=0, disk_bytes=GIB, inodes=3),
            ),
            SignalObserved(signal="nodefs.inodesFree", available=1000, capacity=1_000_000),
        )
    )
    files = harness.status("uid-files")
    assert (files.phase, files.message) == (
        "Failed",
        "The node was low on resource: inodes. Threshold quantity: 50000, available: 1k. ",
    )
    memory = Harness()
    memory.run(1)
    memory.feed(UsageObserved(memory_available_bytes=1024))
    tolerating = {
        **ONE,
        "tolerations": [
            {
                "key": "node.kubernetes.io/memory-pressure",
                "operator": "Exists",
                "effect": "NoSchedule",
            }
        ],
    }
    memory.add(make_pod("tolerant", tolerating))
    memory.add(make_pod("plain", ONE))
    assert memory.status("uid-tolerant").phase != "Failed"
    plain = memory.status("uid-plain")
    assert (plain.reason, plain.message) == (
        "Evicted",
        "Pod was rejected: The node had condition: [MemoryPressure]. ",
    )


def test_the_mutant_ranks_disk_pressure_by_memory() -> None:
    def victim(config: KubeletConfig) -> str:
        harness = Harness(config, strict=False)
        harness.add(make_pod("quiet", ONE))
        harness.add(make_pod("writer", ONE))
        harness.run(2)
        harness.feed(
            usage(
                (
                    PodUsage(uid="uid-quiet", cpu_millis=0, memory_bytes=GIB, disk_bytes=10),
                    PodUsage(uid="uid-writer", cpu_millis=0, memory_bytes=0, disk_bytes=GIB),
                ),
                SignalObserved(signal="imagefs.available", available=GIB, capacity=100 * GIB),
            )
        )
        (evicted,) = [u for u in ("uid-quiet", "uid-writer") if harness.status(u).reason]
        return evicted

    assert victim(CONFIG) == "uid-writer"
    mutant = KubeletConfig(node_name="node-0", mutant=DISK_EVICTION_RANKS_BY_MEMORY)
    assert victim(mutant) == "uid-quiet"
