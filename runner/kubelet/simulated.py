"""The simulated container runtime: deterministic, scripted by annotations (``script``).

Given the kubelet's runtime commands at a time, it schedules the events the runtime would
report: a sandbox is ready at once with the next pod IP; a container starts at once and exits
when its script says; SIGTERM ends it after its ``stop-seconds`` (exit 143), SIGKILL at once
(exit 137); a probe answers at once per the script. Usage is the scripted memory and cpu of the
running containers. Stats (``stats``, what the kubelet API serves) integrate the scripted cpu
over each container's run time; the node adds a system share (``SYSTEM_CPU_MILLIS``,
``SYSTEM_MEMORY_BYTES``: the kubelet and runtime daemons) from its boot, and keeps the cpu of
containers that ended, so its counter never goes down. All of it is immutable data, so a
simulation world can hold it in its state.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import msgspec

from impl.kubelet.status import container_id
from models.k8s.core.pod import Pod
from models.kubelet.events import (
    Command,
    ContainerExited,
    ContainerStarted,
    CreateSandbox,
    DeletePod,
    Event,
    PatchPodStatus,
    PodUsage,
    PreStopDone,
    ProbeAnswered,
    RegisterNode,
    RemoveSandbox,
    RenewLease,
    RunPreStop,
    RunProbe,
    SandboxReady,
    StartContainer,
    StopContainer,
    UpdateNodeStatus,
    UsageObserved,
)
from models.kubelet.stats import ContainerStats, NodeStats
from runner.kubelet.script import Script, script

SIGTERM_EXIT: Final = 143
SIGKILL_EXIT: Final = 137
SYSTEM_CPU_MILLIS: Final = 50
SYSTEM_MEMORY_BYTES: Final = 256 * 1024 * 1024


class Scheduled(msgspec.Struct, frozen=True, kw_only=True):
    due_ms: int
    seq: int
    event: Event


class Instance(msgspec.Struct, frozen=True, kw_only=True):
    uid: str
    container: str
    attempt: int
    started_ms: int
    script: Script
    image: str = ""


class Runtime(msgspec.Struct, frozen=True, kw_only=True):
    node_index: int = 0
    next_ip: int = 2
    seq: int = 0
    pending: tuple[Scheduled, ...] = ()
    running: tuple[Instance, ...] = ()
    boot_ms: int = 0
    retired_cpu_ns: int = 0
    """cpu of the containers that ended (core-ns), for the node's counter."""


def _cpu_ns(instance: Instance, until_ms: int) -> int:
    """Core-ns a container used from its start to ``until_ms`` at its scripted rate."""
    return instance.script.cpu_millis * max(0, until_ms - instance.started_ms) * 1000


def _retire(runtime: Runtime, gone: list[tuple[Instance, int]]) -> Runtime:
    """Count the cpu of instances that ended (each with when it ended)."""
    used = sum(_cpu_ns(instance, until) for instance, until in gone)
    return msgspec.structs.replace(runtime, retired_cpu_ns=runtime.retired_cpu_ns + used)


def _at(runtime: Runtime, due_ms: int, event: Event) -> Runtime:
    item = Scheduled(due_ms=due_ms, seq=runtime.seq, event=event)
    return msgspec.structs.replace(runtime, seq=runtime.seq + 1, pending=(*runtime.pending, item))


def _instance(runtime: Runtime, uid: str, container: str, attempt: int) -> Instance | None:
    for instance in runtime.running:
        if (instance.uid, instance.container, instance.attempt) == (uid, container, attempt):
            return instance
    return None


def _exit(runtime: Runtime, instance: Instance, due_ms: int, code: int, signal: int) -> Runtime:
    running = tuple(i for i in runtime.running if i is not instance)
    runtime = _retire(msgspec.structs.replace(runtime, running=running), [(instance, due_ms)])
    event = ContainerExited(
        uid=instance.uid,
        container=instance.container,
        attempt=instance.attempt,
        exit_code=code,
        signal=signal,
    )
    return _at(runtime, due_ms, event)


def pod_ip(node_index: int, number: int) -> str:
    return f"10.{64 + node_index // 256}.{node_index % 256}.{number}"


def on_command(runtime: Runtime, command: Command, now_ms: int) -> Runtime:
    """Schedule what the runtime reports for one kubelet command (API commands are ignored)."""
    match command:
        case CreateSandbox():
            ip = pod_ip(runtime.node_index, runtime.next_ip % 250 + 2)
            runtime = msgspec.structs.replace(runtime, next_ip=runtime.next_ip + 1)
            return _at(runtime, now_ms, SandboxReady(uid=command.uid, pod_ip=ip))
        case StartContainer():
            name = command.container.name or ""
            plan = script(command.pod, name)
            instance = Instance(
                uid=command.uid,
                container=name,
                attempt=command.attempt,
                started_ms=now_ms,
                script=plan,
                image=command.container.image or "",
            )
            runtime = msgspec.structs.replace(runtime, running=(*runtime.running, instance))
            started = ContainerStarted(uid=command.uid, container=name, attempt=command.attempt)
            return _at(runtime, now_ms, started)
        case StopContainer():
            target = _instance(runtime, command.uid, command.container, command.attempt)
            if target is None:
                return runtime
            if command.signal == "SIGKILL":
                return _exit(runtime, target, now_ms, SIGKILL_EXIT, 9)
            return _stop_later(runtime, target, now_ms)
        case RunProbe():
            probed = _instance(runtime, command.uid, command.container, command.attempt)
            success = probed is not None and probed.script.probe_succeeds(
                command.probe, now_ms - probed.started_ms
            )
            answer = ProbeAnswered(
                uid=command.uid,
                container=command.container,
                attempt=command.attempt,
                probe=command.probe,
                success=success,
            )
            return _at(runtime, now_ms, answer)
        case RunPreStop():
            hooked = _instance(runtime, command.uid, command.container, command.attempt)
            seconds = hooked.script.prestop_seconds if hooked is not None else 0
            done = PreStopDone(
                uid=command.uid, container=command.container, attempt=command.attempt
            )
            return _at(runtime, now_ms + seconds * 1000, done)
        case RemoveSandbox():
            running = tuple(i for i in runtime.running if i.uid != command.uid)
            gone = [(i, now_ms) for i in runtime.running if i.uid == command.uid]
            return _retire(msgspec.structs.replace(runtime, running=running), gone)
        case RegisterNode() | UpdateNodeStatus() | RenewLease() | PatchPodStatus() | DeletePod():
            return runtime


def _stop_later(runtime: Runtime, instance: Instance, now_ms: int) -> Runtime:
    """SIGTERM: the instance exits 143 after its stop time (a SIGKILL may come first)."""
    stopping = msgspec.structs.replace(
        instance, script=msgspec.structs.replace(instance.script, exit_code=None, run_seconds=None)
    )
    running = tuple(stopping if i is instance else i for i in runtime.running)
    runtime = msgspec.structs.replace(runtime, running=running)
    event = ContainerExited(
        uid=instance.uid,
        container=instance.container,
        attempt=instance.attempt,
        exit_code=SIGTERM_EXIT,
        signal=15,
    )
    return _at(runtime, now_ms + instance.script.stop_seconds * 1000, event)


def natural_exits(runtime: Runtime, now_ms: int) -> Runtime:
    """Schedule exits that scripts say happen by ``now_ms`` (each instance once)."""
    for instance in sorted(runtime.running, key=lambda i: (i.started_ms, i.uid, i.container)):
        after = instance.script.exits_after_ms()
        if after is not None and instance.started_ms + after <= now_ms:
            runtime = _exit(
                runtime, instance, instance.started_ms + after, instance.script.exit_code or 0, 0
            )
    return runtime


def take_due(runtime: Runtime, now_ms: int) -> tuple[Runtime, tuple[Event, ...]]:
    """The events due by ``now_ms`` in (time, order) order, removed from the runtime."""
    runtime = natural_exits(runtime, now_ms)
    ready = sorted(
        (s for s in runtime.pending if s.due_ms <= now_ms), key=lambda s: (s.due_ms, s.seq)
    )
    if not ready:
        return runtime, ()
    left = tuple(s for s in runtime.pending if s.due_ms > now_ms)
    stopped = {
        (e.uid, e.container, e.attempt): s.due_ms
        for s in ready
        if isinstance(e := s.event, ContainerExited)
    }
    running = tuple(i for i in runtime.running if (i.uid, i.container, i.attempt) not in stopped)
    gone = [
        (i, stopped[(i.uid, i.container, i.attempt)])
        for i in runtime.running
        if (i.uid, i.container, i.attempt) in stopped
    ]
    runtime = _retire(msgspec.structs.replace(runtime, pending=left, running=running), gone)
    return runtime, tuple(s.event for s in ready)


def next_due_ms(runtime: Runtime) -> int | None:
    """When the next scheduled event (or scripted exit) is due."""
    times = [s.due_ms for s in runtime.pending]
    for instance in runtime.running:
        after = instance.script.exits_after_ms()
        if after is not None:
            times.append(instance.started_ms + after)
    return min(times) if times else None


def usage(runtime: Runtime, memory_capacity_bytes: int, now_ms: int) -> UsageObserved:
    """What cAdvisor would report at ``now_ms``: per pod summed usage (memory with its growth,
    cpu, disk, inodes, processes), and the node's available memory."""
    per_pod: dict[str, PodUsage] = {}
    for instance in runtime.running:
        plan = instance.script
        memory = plan.memory_at(now_ms - instance.started_ms)
        before = per_pod.get(instance.uid, PodUsage(uid=instance.uid, cpu_millis=0, memory_bytes=0))
        per_pod[instance.uid] = PodUsage(
            uid=instance.uid,
            cpu_millis=before.cpu_millis + plan.cpu_millis,
            memory_bytes=before.memory_bytes + memory,
            disk_bytes=before.disk_bytes + plan.disk_bytes,
            inodes=before.inodes + plan.inodes,
            processes=before.processes + plan.processes,
        )
    total = sum(u.memory_bytes for u in per_pod.values())
    return UsageObserved(
        memory_available_bytes=max(0, memory_capacity_bytes - total),
        pods=tuple(per_pod[uid] for uid in sorted(per_pod)),
    )


def _ends_ms(runtime: Runtime, instance: Instance) -> int | None:
    """When the instance ends, if already known (its script, or a scheduled exit)."""
    ends = [
        s.due_ms
        for s in runtime.pending
        if isinstance(e := s.event, ContainerExited)
        and (e.uid, e.container, e.attempt) == (instance.uid, instance.container, instance.attempt)
    ]
    after = instance.script.exits_after_ms()
    if after is not None:
        ends.append(instance.started_ms + after)
    return min(ends) if ends else None


def stats(runtime: Runtime, now_ms: int, node: str, pods: Mapping[str, Pod]) -> NodeStats:
    """What cAdvisor would read at ``now_ms``: each running container's cumulative cpu at its
    scripted rate and its scripted memory (``pods``: the node's pods by UID, for names), and
    the node's totals with the system share."""
    containers: list[ContainerStats] = []
    running_cpu = 0
    for instance in sorted(runtime.running, key=lambda i: (i.uid, i.container, i.attempt)):
        ends = _ends_ms(runtime, instance)
        live = ends is None or ends > now_ms
        used = _cpu_ns(instance, now_ms if ends is None else min(now_ms, ends))
        running_cpu += used
        pod = pods.get(instance.uid)
        if pod is None or not live:
            continue
        containers.append(
            ContainerStats(
                namespace=pod.meta.namespace or "",
                pod=pod.meta.name or "",
                pod_uid=instance.uid,
                container=instance.container,
                image=instance.image,
                container_id=container_id(instance.uid, instance.container, instance.attempt),
                start_ms=instance.started_ms,
                cpu_core_ns=used,
                cpu_nanocores=instance.script.cpu_millis * 1_000_000,
                memory_working_set_bytes=instance.script.memory_at(now_ms - instance.started_ms),
                memory_rss_bytes=instance.script.memory_at(now_ms - instance.started_ms),
            )
        )
    system_ns = SYSTEM_CPU_MILLIS * max(0, now_ms - runtime.boot_ms) * 1000
    return NodeStats(
        node=node,
        timestamp_ms=now_ms,
        start_ms=runtime.boot_ms,
        cpu_core_ns=system_ns + runtime.retired_cpu_ns + running_cpu,
        cpu_nanocores=(SYSTEM_CPU_MILLIS + sum(c.cpu_nanocores // 1_000_000 for c in containers))
        * 1_000_000,
        memory_working_set_bytes=SYSTEM_MEMORY_BYTES
        + sum(c.memory_working_set_bytes for c in containers),
        containers=tuple(containers),
    )
