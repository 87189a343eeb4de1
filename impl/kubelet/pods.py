"""The pod worker: bring one pod's containers to what its spec and phase ask for.

Theory of operation. ``sync`` is idempotent and runs after every event:

- a pod that is being deleted stops its main containers (SIGTERM, SIGKILL at the deadline),
  then its sidecars, removes the sandbox and finally deletes the pod (grace 0, UID
  precondition);
- a terminal pod (Succeeded, Failed, refused, evicted) stops whatever still runs and removes
  its sandbox; nothing restarts;
- otherwise: the sandbox first; then init containers strictly in order (a regular one must
  exit 0, a sidecar must have started, before the next begins; a failed one restarts unless
  the policy is Never); then the main containers start, and restart per the policy, each
  restart timed by the backoff;
- probes that are due are sent (``RunProbe``), and every SIGTERM whose grace is over becomes a
  SIGKILL.
"""

from __future__ import annotations

import msgspec

from impl.kubelet import containers as ct
from impl.kubelet import probes
from impl.kubelet.status import TERMINAL, compute_phase, initialized, restart_policy
from models.k8s.core.pod import ContainerStatus, Pod
from models.kubelet.config import KubeletConfig
from models.kubelet.events import Command, CreateSandbox, DeletePod, RemoveSandbox, RunProbe
from models.kubelet.state import BackoffEntry, ContainerRecord, PodRecord, Terminated


class Synced(msgspec.Struct, frozen=True, kw_only=True):
    record: PodRecord
    backoff: tuple[BackoffEntry, ...]
    commands: tuple[Command, ...] = ()


def new_record(
    pod: Pod,
    now_ms: int,
    *,
    admitted: bool,
    requests: tuple[tuple[str, int], ...] = (),
    reason: str = "",
    message: str = "",
) -> PodRecord:
    """The record of a pod first seen now; containers the API already reported (a kubelet
    restart) continue their restart counts, their instances lost (ContainerStatusUnknown)."""
    spec = pod.pod_spec
    inits = spec.init_containers or ()
    default_reason = "PodInitializing" if inits else "ContainerCreating"
    reported = {
        s.name: s
        for s in (
            *(pod.pod_status.init_container_statuses or ()),
            *(pod.pod_status.container_statuses or ()),
        )
    }
    records: list[ContainerRecord] = []
    for container, role in (
        *((c, "sidecar" if c.restart_policy == "Always" else "init") for c in inits),
        *((c, "regular") for c in spec.containers or ()),
    ):
        name = container.name or ""
        record = ContainerRecord(name=name, role=role, waiting_reason=default_reason)  # type: ignore[arg-type]
        old = reported.get(name)
        if old is not None and _ran(old):
            count = old.restart_count or 0
            lost = Terminated(
                exit_code=ct.KILLED_EXIT_CODE,
                reason="ContainerStatusUnknown",
                started_at_ms=now_ms,
                finished_at_ms=now_ms,
                attempt=count + 1,
            )
            if old.state is not None and old.state.terminated is not None and role != "regular":
                code = old.state.terminated.exit_code or 0
                lost = msgspec.structs.replace(
                    lost, exit_code=code, reason=old.state.terminated.reason or ""
                )
            record = msgspec.structs.replace(
                record, attempt=count + 1, restart_count=count, phase="terminated", terminated=lost
            )
        records.append(record)
    phase = pod.pod_status.phase or "Pending"
    return PodRecord(
        uid=pod.meta.uid or "",
        pod=pod,
        admitted=admitted,
        requests=requests,
        containers=tuple(records),
        start_time_ms=now_ms,
        phase="Failed" if not admitted else ("Running" if phase == "Running" else "Pending"),
        reason=reason,
        message=message,
    )


def _ran(status: ContainerStatus) -> bool:
    """Did the API see an instance of this container (running, terminated, or restarted)?"""
    state, last = status.state, status.last_state
    return bool(
        (state is not None and (state.running or state.terminated))
        or (last is not None and last.terminated)
    )


def _replace(record: PodRecord, index: int, container: ContainerRecord) -> PodRecord:
    items = list(record.containers)
    items[index] = container
    return msgspec.structs.replace(record, containers=tuple(items))


class _Work:
    """The accumulating result of one sync (local to the call)."""

    def __init__(self, record: PodRecord, entries: tuple[BackoffEntry, ...]) -> None:
        self.record = record
        self.backoff = entries
        self.commands: list[Command] = []

    def set(self, index: int, container: ContainerRecord, commands: tuple[Command, ...]) -> None:
        self.record = _replace(self.record, index, container)
        self.commands.extend(commands)

    def start(self, config: KubeletConfig, now_ms: int, index: int) -> None:
        started = ct.try_start(
            config, now_ms, self.record, self.record.containers[index], self.backoff
        )
        self.backoff = started.backoff
        self.set(index, started.container, started.commands)

    def done(self) -> Synced:
        return Synced(record=self.record, backoff=self.backoff, commands=tuple(self.commands))


def _start_init(config: KubeletConfig, now_ms: int, work: _Work) -> bool:
    """Walk init containers in order; True when the main containers may run."""
    if initialized(work.record):
        for index, container in enumerate(work.record.containers):
            if container.role == "sidecar" and not ct.active(container):
                work.start(config, now_ms, index)
        return True
    policy = restart_policy(work.record.pod)
    for index, container in enumerate(work.record.containers):
        if container.role == "regular":
            continue
        if container.starting:
            return False
        if container.role == "sidecar":
            if container.phase == "running":
                if not container.started:
                    return False
                continue
            work.start(config, now_ms, index)
            return False
        if (
            container.phase == "terminated"
            and container.terminated is not None
            and container.terminated.exit_code == 0
        ):
            continue
        if container.phase == "running":
            return False
        if container.attempt == 0 or policy != "Never":
            work.start(config, now_ms, index)
        return False
    return initialized(work.record)


def _run(config: KubeletConfig, now_ms: int, work: _Work) -> None:
    if work.record.sandbox == "none":
        work.record = msgspec.structs.replace(work.record, sandbox="creating")
        work.commands.append(CreateSandbox(uid=work.record.uid, pod=work.record.pod))
        return
    if work.record.sandbox != "ready" or not _start_init(config, now_ms, work):
        return
    policy = restart_policy(work.record.pod)
    for index, container in enumerate(work.record.containers):
        if container.role != "regular" or ct.active(container):
            continue
        if container.attempt == 0 or ct.should_restart(policy, container):
            work.start(config, now_ms, index)


def _stop_all(now_ms: int, work: _Work, grace: int, reason: str) -> bool:
    """Stop main containers, then sidecars; True when nothing runs any more."""
    mains_active = any(c.role == "regular" and ct.active(c) for c in work.record.containers)
    for index, container in enumerate(work.record.containers):
        if container.role != "regular" and mains_active:
            continue
        stopped, commands = ct.stop_with_hook(work.record, container, now_ms, grace, reason)
        work.set(index, stopped, commands)
    if any(ct.active(c) for c in work.record.containers):
        return False
    if work.record.sandbox in ("ready", "creating"):
        work.record = msgspec.structs.replace(work.record, sandbox="removed", pod_ip="")
        work.commands.append(RemoveSandbox(uid=work.record.uid))
    return True


def _pod_grace_ms(config: KubeletConfig, pod: Pod) -> int:
    return ct.grace_ms(config, pod.pod_spec.termination_grace_period_seconds)


def _terminate(now_ms: int, work: _Work) -> None:
    deadline = work.record.deletion_deadline_ms
    assert deadline is not None
    quiet = _stop_all(now_ms, work, max(0, deadline - now_ms), "Killing")
    if quiet and work.record.admitted and work.record.phase not in TERMINAL:
        work.record = msgspec.structs.replace(work.record, phase=compute_phase(work.record, True))
    if quiet and not work.record.delete_sent:
        work.record = msgspec.structs.replace(work.record, delete_sent=True)
        meta = work.record.pod.meta
        work.commands.append(
            DeletePod(namespace=meta.namespace or "", name=meta.name or "", uid=work.record.uid)
        )


def _probe(now_ms: int, work: _Work) -> None:
    for index, container in enumerate(work.record.containers):
        if container.phase != "running" or container.stop_signal is not None:
            continue
        spec = ct.spec_of(work.record.pod, container.name)
        updated = container
        commands: list[Command] = []
        for worker in container.probes:
            probe = probes.spec_of(spec, worker.kind)
            assert probe is not None
            if probes.due(updated, worker, now_ms):
                updated = probes.replace(updated, probes.sent(worker, probe, now_ms))
                commands.append(
                    RunProbe(
                        uid=work.record.uid,
                        pod=work.record.pod,
                        container=container.name,
                        attempt=container.attempt,
                        probe=worker.kind,
                        spec=probe,
                    )
                )
            elif not worker.in_flight and now_ms >= worker.next_at_ms:
                updated = probes.replace(updated, probes.skipped(worker, probe, now_ms))
        if updated != container:
            work.set(index, updated, tuple(commands))


def _deadlines(now_ms: int, work: _Work) -> None:
    for index, container in enumerate(work.record.containers):
        killed, commands = ct.enforce_deadline(work.record.uid, container, now_ms)
        if killed != container:
            work.set(index, killed, commands)


def sync(
    config: KubeletConfig, now_ms: int, record: PodRecord, entries: tuple[BackoffEntry, ...]
) -> Synced:
    """One pass of the pod worker over ``record``."""
    work = _Work(record, entries)
    if record.deletion_deadline_ms is not None:
        _terminate(now_ms, work)
    elif record.phase in TERMINAL:
        grace = (
            config.minimum_grace_period_ms
            if record.reason == "Evicted"
            else _pod_grace_ms(config, record.pod)
        )
        _stop_all(now_ms, work, grace, record.reason or "Completed")
    else:
        _run(config, now_ms, work)
        phase = compute_phase(work.record, False)
        work.record = msgspec.structs.replace(work.record, phase=phase)
        if phase in TERMINAL:
            _stop_all(now_ms, work, _pod_grace_ms(config, record.pod), "Completed")
    _probe(now_ms, work)
    _deadlines(now_ms, work)
    return work.done()
