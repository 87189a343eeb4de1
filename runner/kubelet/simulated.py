"""The simulated container runtime: deterministic, scripted by annotations (``script``).

Given the kubelet's runtime commands at a time, it schedules the events the runtime would
report: a sandbox is ready at once with the next pod IP; a container starts at once and exits
when its script says; SIGTERM ends it after its ``stop-seconds`` (exit 143), SIGKILL at once
(exit 137); a probe answers at once per the script. Usage is the scripted memory and cpu of the
running containers. All of it is immutable data, so a simulation world can hold it in its state.
"""

from __future__ import annotations

from typing import Final

import msgspec

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
from runner.kubelet.script import Script, script

SIGTERM_EXIT: Final = 143
SIGKILL_EXIT: Final = 137


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


class Runtime(msgspec.Struct, frozen=True, kw_only=True):
    node_index: int = 0
    next_ip: int = 2
    seq: int = 0
    pending: tuple[Scheduled, ...] = ()
    running: tuple[Instance, ...] = ()


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
    runtime = msgspec.structs.replace(runtime, running=running)
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
            return msgspec.structs.replace(runtime, running=running)
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
        (e.uid, e.container, e.attempt) for s in ready if isinstance(e := s.event, ContainerExited)
    }
    running = tuple(i for i in runtime.running if (i.uid, i.container, i.attempt) not in stopped)
    return msgspec.structs.replace(runtime, pending=left, running=running), tuple(
        s.event for s in ready
    )


def next_due_ms(runtime: Runtime) -> int | None:
    """When the next scheduled event (or scripted exit) is due."""
    times = [s.due_ms for s in runtime.pending]
    for instance in runtime.running:
        after = instance.script.exits_after_ms()
        if after is not None:
            times.append(instance.started_ms + after)
    return min(times) if times else None


def usage(runtime: Runtime, memory_capacity_bytes: int) -> UsageObserved:
    """What cAdvisor would report: per pod summed usage, and the node's available memory."""
    per_pod: dict[str, tuple[int, int]] = {}
    for instance in runtime.running:
        cpu, memory = per_pod.get(instance.uid, (0, 0))
        per_pod[instance.uid] = (
            cpu + instance.script.cpu_millis,
            memory + instance.script.memory_bytes,
        )
    total = sum(memory for _, memory in per_pod.values())
    return UsageObserved(
        memory_available_bytes=max(0, memory_capacity_bytes - total),
        pods=tuple(
            PodUsage(uid=uid, cpu_millis=cpu, memory_bytes=memory)
            for uid, (cpu, memory) in sorted(per_pod.items())
        ),
    )
