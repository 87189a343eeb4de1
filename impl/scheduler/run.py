"""The scheduler machine used as a function: schedule a list of pods against a cluster, as
``kubeoracle schedule --pods`` and the benchmark do.

The driver plays kube-scheduler's surroundings deterministically: it adds the pods in order,
then asks for one cycle at a time, answers every ``Bind`` at once with ``BindingSucceeded``
and every ``Evict`` with ``PodDeleted``, and, when no pod is ready, advances logical time to
the next backoff expiry. It stops when no pod is ready or waiting out a backoff (pods left in
the unschedulable pool stay unscheduled), or after ``max_attempts`` cycles. The random draw of
each cycle comes from ``draws`` (0 by default: the first top-scoring node by name).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import final

import msgspec

from impl.scheduler.machine import SchedulerConfig, SchedulerState, init, on_event
from models.k8s.core.pod import Pod
from models.scheduling.cluster import ClusterState
from models.scheduling.events import (
    Bind,
    BindingSucceeded,
    Evict,
    Nominate,
    PodAdded,
    PodDeleted,
    ReportFailure,
    ScheduleNext,
    SchedulerCommand,
    SchedulerEvent,
    Tick,
)
from models.step import Step

Draw = Callable[[int], int]
"""The random value for cycle number ``n`` (from 0)."""


@final
class Attempt(msgspec.Struct, frozen=True, kw_only=True):
    """One scheduling attempt: bound to ``node`` or failed with ``message``."""

    pod: str
    attempt: int
    time_ms: int
    node: str = ""
    message: str = ""
    nominated_node: str = ""
    victims: tuple[str, ...] = ()


def _apply(
    config: SchedulerConfig, state: SchedulerState, event: SchedulerEvent
) -> Step[SchedulerState, SchedulerCommand]:
    return on_event(config, state, event)


def _carry_out(
    config: SchedulerConfig, step: Step[SchedulerState, SchedulerCommand], attempts: list[Attempt]
) -> SchedulerState:
    """Carry out a cycle's commands, feeding their results back as events."""
    state = step.state
    nominated = ""
    victims: list[str] = []
    for command in step.commands:
        if isinstance(command, Bind):
            attempts.append(
                Attempt(
                    pod=command.key,
                    attempt=command.attempt,
                    time_ms=state.now_ms,
                    node=command.node,
                )
            )
            state = _apply(
                config, state, BindingSucceeded(key=command.key, node=command.node)
            ).state
        elif isinstance(command, Nominate):
            nominated = command.node
        elif isinstance(command, Evict):
            victims.append(command.key)
        elif isinstance(command, ReportFailure):
            attempts.append(
                Attempt(
                    pod=command.key,
                    attempt=command.attempt,
                    time_ms=state.now_ms,
                    message=command.message,
                    nominated_node=nominated,
                    victims=tuple(victims),
                )
            )
    for victim in victims:
        state = _apply(config, state, PodDeleted(key=victim)).state
    return state


def run_pods(
    config: SchedulerConfig,
    cluster: ClusterState,
    pods: Iterable[Pod],
    draws: Draw = lambda _: 0,
    max_attempts: int = 0,
) -> tuple[list[Attempt], SchedulerState]:
    """Schedule ``pods`` (in arrival order) on ``cluster``; every attempt and the final state."""
    return drive(config, init(config, cluster).state, pods, draws, max_attempts)


def drive(
    config: SchedulerConfig,
    state: SchedulerState,
    pods: Iterable[Pod],
    draws: Draw = lambda _: 0,
    max_attempts: int = 0,
) -> tuple[list[Attempt], SchedulerState]:
    """Add ``pods`` to a running scheduler and drive it until no pod is ready."""
    count = 0
    for pod in pods:
        state = _apply(config, state, PodAdded(pod=pod)).state
        count += 1
    limit = max_attempts or 20 * (count + 1)
    attempts: list[Attempt] = []
    for cycle in range(limit):
        queue = state.queue
        if not queue.active and not (config.features.pop_from_backoff and queue.backoff):
            if not queue.backoff:
                break
            expiry = min(config.backoff.expiry_ms(item) for item in queue.backoff)
            state = _apply(config, state, Tick(now_ms=expiry)).state
            continue
        step = _apply(config, state, ScheduleNext(random=draws(cycle)))
        state = _carry_out(config, step, attempts)
    return attempts, state
