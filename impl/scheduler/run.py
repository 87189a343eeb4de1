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
from typing import assert_never, final

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


def _carry_out(
    config: SchedulerConfig, step: Step[SchedulerState, SchedulerCommand], attempts: list[Attempt]
) -> SchedulerState:
    """Carry out a cycle's commands, feeding their results back as events."""
    state = step.state
    nominated = ""
    victims: list[str] = []
    for command in step.commands:
        match command:
            case Bind(key=key, node=node, attempt=attempt):
                attempts.append(Attempt(pod=key, attempt=attempt, time_ms=state.now_ms, node=node))
                state = on_event(config, state, BindingSucceeded(key=key, node=node)).state
            case Nominate(node=node):
                nominated = node
            case Evict(key=key):
                victims.append(key)
            case ReportFailure(key=key, attempt=attempt, message=message):
                attempts.append(
                    Attempt(
                        pod=key,
                        attempt=attempt,
                        time_ms=state.now_ms,
                        message=message,
                        nominated_node=nominated,
                        victims=tuple(victims),
                    )
                )
            case _:
                assert_never(command)
    for victim in victims:
        state = on_event(config, state, PodDeleted(key=victim)).state
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
        state = on_event(config, state, PodAdded(pod=pod)).state
        count += 1
    limit = max_attempts or 20 * (count + 1)
    attempts: list[Attempt] = []
    for cycle in range(limit):
        queue = state.queue
        if not queue.active and not (config.features.pop_from_backoff and queue.backoff):
            if not queue.backoff:
                break
            expiry = min(config.backoff.expiry_ms(item) for item in queue.backoff)
            state = on_event(config, state, Tick(now_ms=expiry)).state
            continue
        step = on_event(config, state, ScheduleNext(random=draws(cycle)))
        state = _carry_out(config, step, attempts)
    return attempts, state
