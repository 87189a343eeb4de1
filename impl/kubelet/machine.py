"""The kubelet as one state machine: ``init`` and ``on_event`` -> ``Step[KubeletState, Command]``.

Theory of operation. Each event first updates what the kubelet knows (the clock, the Node and
pods the API holds, the outcome of a write, what the runtime did, the usage), then one settle
pass runs: node registration, lease and status (``impl.kubelet.node``), eviction
(``impl.kubelet.eviction``), every pod's worker (``impl.kubelet.pods``), and a status PATCH for
each pod whose status differs from the last one sent. Nothing survives a restart: a rebooted
node is ``init`` again, relisting pods and finding no containers.
"""

from __future__ import annotations

from typing import assert_never

import msgspec

from impl.kubelet import admission, backoff, eviction, node, pods, probes
from impl.kubelet import containers as ct
from impl.kubelet.status import TERMINAL, api_status, desired_conditions, fold_conditions
from models.k8s.core.pod import Pod, PodStatus
from models.kubelet.config import KubeletConfig
from models.kubelet.events import (
    ApiAnswered,
    Command,
    ContainerExited,
    ContainerStarted,
    DeletePod,
    Event,
    NodeObserved,
    PatchPodStatus,
    PodObserved,
    PodRemoved,
    PreStopDone,
    ProbeAnswered,
    RemoveSandbox,
    SandboxReady,
    StopContainer,
    Tick,
    UsageObserved,
)
from models.kubelet.state import ContainerRecord, KubeletState, PodRecord
from models.step import Step

KubeletStep = Step[KubeletState, Command]


def init(config: KubeletConfig, now_ms: int) -> KubeletStep:
    """A kubelet that just started (or a node that just booted)."""
    return _settle(config, KubeletState(now_ms=now_ms), ())


def _replace_pod(state: KubeletState, record: PodRecord) -> KubeletState:
    return msgspec.structs.replace(
        state, pods=tuple(record if r.uid == record.uid else r for r in state.pods)
    )


def _admit(config: KubeletConfig, state: KubeletState, pod: Pod) -> KubeletState:
    uid = pod.meta.uid or ""
    if (pod.pod_spec.node_name or "") != config.node_name or not uid:
        return state
    if (pod.pod_status.phase or "") in TERMINAL:
        record = pods.new_record(pod, state.now_ms, admitted=True)
        record = msgspec.structs.replace(
            record,
            phase=pod.pod_status.phase or "",
            sandbox="removed",
            status_sent=pod.pod_status,
            containers=(),
        )
        return msgspec.structs.replace(state, pods=(*state.pods, record))
    in_use = admission.used(
        r.requests for r in state.pods if r.admitted and r.phase not in TERMINAL
    )
    refusal = admission.admit(
        config, state.node, pod, in_use, eviction.pressure_conditions(config, state)
    )
    if refusal is None:
        record = pods.new_record(
            pod, state.now_ms, admitted=True, requests=admission.requests_of(pod)
        )
    else:
        record = pods.new_record(
            pod, state.now_ms, admitted=False, reason=refusal.reason, message=refusal.message
        )
    return msgspec.structs.replace(state, pods=(*state.pods, record))


def _observed(config: KubeletConfig, state: KubeletState, pod: Pod) -> KubeletState:
    record = state.pod(pod.meta.uid or "")
    if record is None:
        state = _admit(config, state, pod)
        record = state.pod(pod.meta.uid or "")
        if record is None:
            return state
        # Falls through: a pod first seen while being deleted (a relist after a broken watch
        # or a restart) gets its deletion deadline now, so it is never started, only finished.
    record = msgspec.structs.replace(record, pod=pod)
    if record.status_sent is not None and _gist(pod.pod_status) != _gist(record.status_sent):
        # The status manager's reconcile: the API holds another status than the one last
        # sent (a write was lost): send it again.
        record = msgspec.structs.replace(record, status_sent=None)
    deleting = pod.meta.deletion_timestamp is not None
    if deleting and record.delete_sent:
        # The status manager deletes until the pod is gone: the API still shows it, so the
        # last delete was lost (or not yet applied); send it again on the next sync.
        record = msgspec.structs.replace(record, delete_sent=False)
    if deleting and record.deletion_deadline_ms is None:
        seconds = pod.meta.deletion_grace_period_seconds
        if seconds is None:
            seconds = pod.pod_spec.termination_grace_period_seconds
        grace = ct.grace_ms(config, seconds)
        record = msgspec.structs.replace(
            record, deletion_started_ms=state.now_ms, deletion_deadline_ms=state.now_ms + grace
        )
    return _replace_pod(state, record)


def _gist(status: PodStatus) -> tuple[str, tuple[tuple[str, str], ...]]:
    """What reconciling compares: the phase and each condition's status."""
    conditions = tuple(sorted((c.type or "", c.status or "") for c in status.conditions or ()))
    return status.phase or "", conditions


def _removed(state: KubeletState, uid: str) -> tuple[KubeletState, tuple[Command, ...]]:
    record = state.pod(uid)
    if record is None:
        return state, ()
    commands: list[Command] = [
        StopContainer(uid=uid, container=c.name, attempt=c.attempt, signal="SIGKILL")
        for c in record.containers
        if ct.active(c) and c.stop_signal != "SIGKILL"
    ]
    if record.sandbox in ("ready", "creating"):
        commands.append(RemoveSandbox(uid=uid))
    state = msgspec.structs.replace(
        state,
        pods=tuple(r for r in state.pods if r.uid != uid),
        backoff=backoff.forget(state.backoff, uid),
    )
    return state, tuple(commands)


def _container_event(
    config: KubeletConfig,
    state: KubeletState,
    event: ContainerStarted | ContainerExited | ProbeAnswered | PreStopDone,
) -> tuple[KubeletState, tuple[Command, ...]]:
    record = state.pod(event.uid)
    if record is None:
        return state, ()
    index = next((i for i, c in enumerate(record.containers) if c.name == event.container), None)
    if index is None or record.containers[index].attempt != event.attempt:
        return state, ()
    container = record.containers[index]
    commands: tuple[Command, ...] = ()
    match event:
        case ContainerStarted():
            if not container.starting:
                return state, ()
            container = ct.on_started(
                container, ct.spec_of(record.pod, container.name), state.now_ms
            )
        case ContainerExited():
            if not ct.active(container):
                return state, ()
            container = ct.on_exited(
                container, event.exit_code, event.reason, event.signal, state.now_ms
            )
        case ProbeAnswered():
            container, commands = _probe_answered(config, state.now_ms, record, container, event)
        case PreStopDone():
            container, commands = ct.prestop_done(record.uid, container, state.now_ms)
        case _:
            assert_never(event)
    items = list(record.containers)
    items[index] = container
    return _replace_pod(state, msgspec.structs.replace(record, containers=tuple(items))), commands


def _probe_answered(
    config: KubeletConfig,
    now_ms: int,
    record: PodRecord,
    container: ContainerRecord,
    event: ProbeAnswered,
) -> tuple[ContainerRecord, tuple[Command, ...]]:
    """Fold a probe answer: startup sets ``started``, readiness sets ``ready``, a liveness or
    startup failure (at the threshold) stops the container for a restart."""
    worker = probes.find(container, event.probe)
    spec = probes.spec_of(ct.spec_of(record.pod, container.name), event.probe)
    if container.phase != "running" or worker is None or spec is None or not worker.in_flight:
        return container, ()
    worker, reached = probes.answered(config, worker, spec, event.success)
    container = probes.replace(container, worker)
    if event.probe == "startup" and reached and event.success:
        container = msgspec.structs.replace(container, started=True)
    readiness = probes.find(container, "readiness")
    ready = container.started and (readiness is None or readiness.result)
    container = msgspec.structs.replace(container, ready=ready)
    fatal = event.probe == "liveness" or (event.probe == "startup" and not container.started)
    if not fatal or not reached or event.success:
        return container, ()
    seconds = spec.termination_grace_period_seconds
    if seconds is None:
        seconds = record.pod.pod_spec.termination_grace_period_seconds
    grace = ct.grace_ms(config, seconds)
    return ct.stop_with_hook(record, container, now_ms, grace, f"{event.probe} probe failed")


def _usage(config: KubeletConfig, state: KubeletState, event: UsageObserved) -> KubeletState:
    return eviction.evict(config, eviction.observe(config, state, event))


def _sandbox(state: KubeletState, event: SandboxReady) -> KubeletState:
    record = state.pod(event.uid)
    if record is None or record.sandbox != "creating":
        return state
    return _replace_pod(
        state, msgspec.structs.replace(record, sandbox="ready", pod_ip=event.pod_ip)
    )


def on_event(config: KubeletConfig, state: KubeletState, event: Event) -> KubeletStep:
    """Fold one event, then settle."""
    commands: tuple[Command, ...] = ()
    match event:
        case Tick():
            state = msgspec.structs.replace(state, now_ms=event.now_ms)
        case NodeObserved():
            state = msgspec.structs.replace(state, node=event.node)
        case PodObserved():
            state = _observed(config, state, event.pod)
        case PodRemoved():
            state, commands = _removed(state, event.uid)
        case ApiAnswered():
            state = node.answered(config, state, event.request, event.code)
        case SandboxReady():
            state = _sandbox(state, event)
        case ContainerStarted() | ContainerExited() | ProbeAnswered() | PreStopDone():
            state, commands = _container_event(config, state, event)
        case UsageObserved():
            state = _usage(config, state, event)
        case _:
            assert_never(event)
    return _settle(config, state, commands)


def _settle(config: KubeletConfig, state: KubeletState, first: tuple[Command, ...]) -> KubeletStep:
    state, node_commands = node.sync(config, state)
    commands: list[Command] = [*first, *node_commands]
    entries = state.backoff
    records: list[PodRecord] = []
    for record in state.pods:
        synced = pods.sync(config, state.now_ms, record, entries)
        entries = synced.backoff
        record, pod_commands = _publish(config, state.now_ms, synced.record, synced.commands)
        commands.extend(pod_commands)
        records.append(record)
    state = msgspec.structs.replace(state, pods=tuple(records), backoff=entries)
    return Step(state=state, commands=tuple(commands))


def _publish(
    config: KubeletConfig, now_ms: int, record: PodRecord, synced: tuple[Command, ...]
) -> tuple[PodRecord, tuple[Command, ...]]:
    """Fold the conditions and PATCH a changed status, before any final DELETE. A pod that was
    already terminal when this kubelet first saw it (after a restart) keeps its API status."""
    if record.phase in TERMINAL and not record.containers:
        return record, synced
    if record.admitted:
        wanted = desired_conditions(record)
        record = msgspec.structs.replace(
            record, conditions=fold_conditions(record.conditions, wanted, now_ms)
        )
    current = api_status(record, config.node_ip)
    commands: list[Command] = [c for c in synced if not isinstance(c, DeletePod)]
    if current != record.status_sent:
        meta = record.pod.meta
        commands.append(
            PatchPodStatus(
                namespace=meta.namespace or "", name=meta.name or "", uid=record.uid, status=current
            )
        )
        record = msgspec.structs.replace(record, status_sent=current)
    commands.extend(c for c in synced if isinstance(c, DeletePod))
    return record, tuple(commands)
