"""One container's transitions: start, started, exited, stop, restart after a backoff.

Theory of operation. A ``ContainerRecord`` moves waiting -> (StartContainer sent: ``starting``)
-> running -> terminated, and back to running on a restart. A restart is allowed by the role and
policy (:func:`should_restart`) and timed by the crash-loop backoff (``impl.kubelet.backoff``):
while held back the container reads ``waiting: CrashLoopBackOff`` with the termination moved to
``lastState``; when a new instance starts, ``restartCount`` becomes the number of earlier
instances. A stop is SIGTERM with a deadline (the grace period, at least 2 s) and SIGKILL when
the deadline passes (:func:`enforce_deadline`); a container with a preStop hook runs it first
(SIGTERM when it is done; a hook that outlasts the grace period gets one 2 s extension, then
SIGKILL).
"""

from __future__ import annotations

from typing import Final

import msgspec

from impl.kubelet import backoff, probes
from models.k8s.base import Opaque
from models.k8s.core.pod import Container, Pod
from models.kubelet.config import KubeletConfig
from models.kubelet.events import Command, RunPreStop, StartContainer, StopContainer
from models.kubelet.state import BackoffEntry, ContainerRecord, PodRecord, Terminated

CRASH_LOOP: Final = "CrashLoopBackOff"
KILLED_EXIT_CODE: Final = 137


class Started(msgspec.Struct, frozen=True, kw_only=True):
    container: ContainerRecord
    backoff: tuple[BackoffEntry, ...]
    commands: tuple[Command, ...] = ()


def spec_of(pod: Pod, name: str) -> Container:
    spec = pod.pod_spec
    for container in (*(spec.init_containers or ()), *(spec.containers or ())):
        if container.name == name:
            return container
    raise AssertionError(f"container {name} is not in the pod")


def should_restart(policy: str, container: ContainerRecord) -> bool:
    """Sidecars always restart; an init container only after a failure and never under
    Never; a main container per the pod's restartPolicy."""
    last = container.terminated if container.phase == "terminated" else container.last_terminated
    exit_code = last.exit_code if last is not None else 0
    match container.role:
        case "sidecar":
            return True
        case "init":
            return policy != "Never" and exit_code != 0
        case "regular":
            return policy == "Always" or (policy == "OnFailure" and exit_code != 0)


def grace_ms(config: KubeletConfig, seconds: int | None) -> int:
    """A grace period in ms, at least the kubelet's minimum of 2 s."""
    chosen = config.default_termination_grace_period_seconds if seconds is None else seconds
    return max(chosen * 1000, config.minimum_grace_period_ms)


def try_start(
    config: KubeletConfig,
    now_ms: int,
    record: PodRecord,
    container: ContainerRecord,
    entries: tuple[BackoffEntry, ...],
) -> Started:
    """Start the container's next instance, unless a restart is still backing off."""
    if container.attempt > 0:
        finished = container.terminated or container.last_terminated
        assert finished is not None
        name = backoff.key(record.uid, container.name)
        held = backoff.in_backoff(config, entries, name, finished.finished_at_ms, now_ms)
        if held is not None:
            meta = record.pod.meta
            message = (
                f"back-off {held // 1000}s restarting failed container={container.name} "
                f"pod={meta.name}_{meta.namespace}({record.uid})"
            )
            waiting = msgspec.structs.replace(
                container,
                phase="waiting",
                waiting_reason=CRASH_LOOP,
                waiting_message=message,
                terminated=None,
                last_terminated=finished,
            )
            return Started(container=waiting, backoff=entries)
        entries = backoff.advance(config, entries, name, now_ms)
    attempt = container.attempt + 1
    command = StartContainer(
        uid=record.uid,
        pod=record.pod,
        container=spec_of(record.pod, container.name),
        attempt=attempt,
    )
    starting = msgspec.structs.replace(container, attempt=attempt, starting=True)
    return Started(container=starting, backoff=entries, commands=(command,))


def on_started(container: ContainerRecord, spec: Container, now_ms: int) -> ContainerRecord:
    """A new instance runs: the old termination becomes ``lastState``."""
    previous = container.terminated or container.last_terminated
    workers = probes.workers(spec, now_ms)
    started = spec.startup_probe is None
    return msgspec.structs.replace(
        container,
        phase="running",
        starting=False,
        started_at_ms=now_ms,
        terminated=None,
        last_terminated=previous,
        restart_count=max(container.restart_count, container.attempt - 1),
        started=started,
        ready=started and spec.readiness_probe is None,
        probes=workers,
        waiting_reason="",
        waiting_message="",
        stop_signal=None,
        stop_sent_ms=0,
        stop_deadline_ms=0,
        stop_reason="",
        prestop="none",
        extended=False,
    )


def on_exited(
    container: ContainerRecord, exit_code: int, reason: str, signal: int, now_ms: int
) -> ContainerRecord:
    done = Terminated(
        exit_code=exit_code,
        reason=reason or ("Completed" if exit_code == 0 else "Error"),
        signal=signal,
        started_at_ms=container.started_at_ms,
        finished_at_ms=now_ms,
        attempt=container.attempt,
    )
    return msgspec.structs.replace(
        container,
        phase="terminated",
        starting=False,
        terminated=done,
        started=False,
        ready=False,
        probes=(),
    )


def stop(
    uid: str, container: ContainerRecord, now_ms: int, grace: int, reason: str
) -> tuple[ContainerRecord, tuple[Command, ...]]:
    """Send SIGTERM (once) with a deadline ``grace`` ms away."""
    if (
        container.stop_signal is not None
        or container.prestop == "running"
        or not (container.phase == "running" or container.starting)
    ):
        return container, ()
    stopped = msgspec.structs.replace(
        container,
        stop_signal="SIGTERM",
        stop_sent_ms=now_ms,
        stop_deadline_ms=now_ms + grace,
        stop_reason=reason,
    )
    return stopped, (
        StopContainer(
            uid=uid, container=container.name, attempt=container.attempt, signal="SIGTERM"
        ),
    )


def has_prestop(spec: Container) -> bool:
    lifecycle = spec.lifecycle
    hooks = lifecycle.to_builtins() if isinstance(lifecycle, Opaque) else None
    return isinstance(hooks, dict) and isinstance(hooks.get("preStop"), dict)


def stop_with_hook(
    record: PodRecord, container: ContainerRecord, now_ms: int, grace: int, reason: str
) -> tuple[ContainerRecord, tuple[Command, ...]]:
    """Stop a running container: its preStop hook first when it has one (SIGTERM follows when
    the hook is done), else SIGTERM at once; either way the deadline is ``grace`` ms away."""
    if (
        container.phase != "running"
        or container.stop_signal is not None
        or container.prestop != "none"
        or not has_prestop(spec_of(record.pod, container.name))
    ):
        return stop(record.uid, container, now_ms, grace, reason)
    hooked = msgspec.structs.replace(
        container,
        prestop="running",
        stop_sent_ms=now_ms,
        stop_deadline_ms=now_ms + grace,
        stop_reason=reason,
    )
    command = RunPreStop(
        uid=record.uid, pod=record.pod, container=container.name, attempt=container.attempt
    )
    return hooked, (command,)


def prestop_done(
    uid: str, container: ContainerRecord, now_ms: int
) -> tuple[ContainerRecord, tuple[Command, ...]]:
    """The hook finished: SIGTERM, keeping the deadline."""
    if container.prestop != "running":
        return container, ()
    done = msgspec.structs.replace(container, prestop="done")
    remaining = max(0, container.stop_deadline_ms - now_ms)
    return stop(uid, done, now_ms, remaining, container.stop_reason)


def enforce_deadline(
    uid: str, container: ContainerRecord, now_ms: int
) -> tuple[ContainerRecord, tuple[Command, ...]]:
    """SIGKILL a container whose grace period is over; a preStop hook still running at the
    deadline gets one 2 s extension first."""
    if container.prestop == "running" and now_ms >= container.stop_deadline_ms:
        if not container.extended:
            extended = msgspec.structs.replace(
                container, extended=True, stop_deadline_ms=container.stop_deadline_ms + 2000
            )
            return extended, ()
        container = msgspec.structs.replace(container, prestop="done", stop_signal="SIGTERM")
    if container.stop_signal != "SIGTERM" or now_ms < container.stop_deadline_ms:
        return container, ()
    if not (container.phase == "running" or container.starting):
        return container, ()
    killed = msgspec.structs.replace(container, stop_signal="SIGKILL")
    return killed, (
        StopContainer(
            uid=uid, container=container.name, attempt=container.attempt, signal="SIGKILL"
        ),
    )


def active(container: ContainerRecord) -> bool:
    """Running, or about to run."""
    return container.phase == "running" or container.starting
