"""The scheduling queue and a run that schedules pods one after another.

Theory of operation (``pkg/scheduler/backend/queue``): three pools. activeQ is ordered by the
QueueSort plugin (PrioritySort: priority, then arrival). A pod that failed waits in the
unschedulable pool until a cluster event that could make it schedulable (a pod assigned or
deleted, for the plugins that look at other pods; any node change) moves it out; if its backoff
(1 s doubling per attempt, at most 10 s) has not expired it goes to backoffQ, else to activeQ.
Time is logical milliseconds, advanced only by the run (to the next backoff expiry when activeQ
is empty); nothing here reads a clock. Bindings update the snapshot incrementally.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Final, final

import msgspec

from impl.scheduler.memo import Memo
from impl.scheduler.nodeinfo import PodInfo, Snapshot, pod_info
from impl.scheduler.profile import Profile
from impl.scheduler.schedule import ScheduleOutcome, schedule_one
from models.scheduling import Pod

INITIAL_BACKOFF_MS: Final = 1000
MAX_BACKOFF_MS: Final = 10_000
POD_EVENT_PLUGINS: Final = frozenset({"InterPodAffinity", "PodTopologySpread"})
POD_DELETE_PLUGINS: Final = frozenset(
    {"InterPodAffinity", "PodTopologySpread", "NodeResourcesFit", "NodePorts", "DefaultPreemption"}
)


def backoff_ms(attempts: int) -> int:
    """``podInitialBackoff * 2^(attempts-1)``, capped at ``podMaxBackoff``."""
    assert attempts >= 1
    duration = INITIAL_BACKOFF_MS
    for _ in range(attempts - 1):
        duration *= 2
        if duration >= MAX_BACKOFF_MS:
            return MAX_BACKOFF_MS
    return duration


@final
class QueuedPod(msgspec.Struct, frozen=True, kw_only=True):
    """A pod in the queue with its attempt count and its failing plugins."""

    info: PodInfo
    attempts: int = 0
    last_attempt_ms: int = 0
    unschedulable_plugins: frozenset[str] = frozenset()

    def backoff_expiry_ms(self) -> int:
        """When this pod's backoff ends."""
        return self.last_attempt_ms + backoff_ms(self.attempts) if self.attempts else 0


@final
class SchedulingQueue(msgspec.Struct, frozen=True, kw_only=True):
    """activeQ (kept sorted), backoffQ and the unschedulable pool."""

    active: tuple[QueuedPod, ...] = ()
    backoff: tuple[QueuedPod, ...] = ()
    unschedulable: tuple[QueuedPod, ...] = ()


Less = Callable[[PodInfo, PodInfo], bool]


def _insert(active: tuple[QueuedPod, ...], item: QueuedPod, less: Less) -> tuple[QueuedPod, ...]:
    position = len(active)
    while position > 0 and less(item.info, active[position - 1].info):
        position -= 1
    return (*active[:position], item, *active[position:])


def enqueue(queue: SchedulingQueue, item: QueuedPod, less: Less) -> SchedulingQueue:
    """Add a pod to activeQ."""
    return msgspec.structs.replace(queue, active=_insert(queue.active, item, less))


def flush_backoff(queue: SchedulingQueue, now_ms: int, less: Less) -> SchedulingQueue:
    """Move pods whose backoff expired from backoffQ to activeQ."""
    active = queue.active
    waiting: list[QueuedPod] = []
    for item in queue.backoff:
        if item.backoff_expiry_ms() <= now_ms:
            active = _insert(active, item, less)
        else:
            waiting.append(item)
    return SchedulingQueue(active=active, backoff=tuple(waiting), unschedulable=queue.unschedulable)


def on_cluster_event(
    queue: SchedulingQueue, relevant: frozenset[str], now_ms: int, less: Less
) -> SchedulingQueue:
    """``MoveAllToActiveOrBackoffQueue``: pods that failed on a plugin the event concerns leave
    the unschedulable pool."""
    kept: list[QueuedPod] = []
    active = queue.active
    backoff = list(queue.backoff)
    for item in queue.unschedulable:
        if not item.unschedulable_plugins & relevant:
            kept.append(item)
        elif item.backoff_expiry_ms() > now_ms:
            backoff.append(item)
        else:
            active = _insert(active, item, less)
    return SchedulingQueue(active=active, backoff=tuple(backoff), unschedulable=tuple(kept))


@final
class Binding(msgspec.Struct, frozen=True, kw_only=True):
    """One scheduling attempt's result in a queue run."""

    pod: str
    node: str
    """Empty when the attempt failed."""
    attempt: int
    time_ms: int
    message: str = ""
    nominated_node: str = ""
    victims: tuple[str, ...] = ()


TieBreak = Callable[[tuple[str, ...]], str]


def first_by_name(top: tuple[str, ...]) -> str:
    """The default tie break: the first top-scoring node by name."""
    return top[0]


def _failed_plugins(outcome: ScheduleOutcome) -> frozenset[str]:
    cycle = outcome.cycle
    plugins = {status.plugin for _, status in cycle.statuses if status.plugin}
    if outcome.post_filter is not None and outcome.post_filter.nominated_node:
        plugins.add("DefaultPreemption")
    return frozenset(plugins) or frozenset({"*"})


def run_queue(
    profiles: Mapping[str, Profile],
    snapshot: Snapshot,
    pods: Sequence[Pod],
    tie_break: TieBreak = first_by_name,
    max_attempts: int = 0,
) -> tuple[list[Binding], Snapshot]:
    """Schedule ``pods`` (in arrival order) until none is ready; pods whose schedulerName has
    no profile are skipped. Returns every attempt and the final snapshot."""
    less = next(iter(profiles.values())).queue_sort.less
    queue = SchedulingQueue()
    for pod in pods:
        if pod.scheduler_name in profiles:
            queue = enqueue(queue, QueuedPod(info=pod_info(pod)), less)
    limit = max_attempts or 20 * (len(pods) + 1)
    now_ms = 0
    start_index = 0
    bindings: list[Binding] = []
    memo = Memo()
    for _ in range(limit):
        queue = flush_backoff(queue, now_ms, less)
        if not queue.active:
            if not queue.backoff:
                break
            now_ms = min(item.backoff_expiry_ms() for item in queue.backoff)
            continue
        item, queue = queue.active[0], msgspec.structs.replace(queue, active=queue.active[1:])
        profile = profiles[item.info.pod.scheduler_name]
        outcome = schedule_one(
            profile, snapshot, item.info, start_index=start_index, memo=memo, detailed=False
        )
        start_index = outcome.cycle.next_start_index
        attempt = item.attempts + 1
        if outcome.cycle.top:
            node = tie_break(outcome.cycle.top)
            bound = msgspec.structs.replace(item.info.pod, node_name=node, nominated_node_name="")
            snapshot = snapshot.with_node(snapshot.node(node).with_pod(pod_info(bound)))
            if snapshot.nominated:
                key = item.info.pod.key
                snapshot = snapshot.with_nominated(
                    tuple(n for n in snapshot.nominated if n.pod.key != key)
                )
            bindings.append(
                Binding(pod=item.info.pod.key, node=node, attempt=attempt, time_ms=now_ms)
            )
            queue = on_cluster_event(queue, POD_EVENT_PLUGINS, now_ms, less)
            continue
        post = outcome.post_filter
        failed = QueuedPod(
            info=item.info,
            attempts=attempt,
            last_attempt_ms=now_ms,
            unschedulable_plugins=_failed_plugins(outcome),
        )
        queue = msgspec.structs.replace(queue, unschedulable=(*queue.unschedulable, failed))
        bindings.append(
            Binding(
                pod=item.info.pod.key,
                node="",
                attempt=attempt,
                time_ms=now_ms,
                message=outcome.message,
                nominated_node=post.nominated_node if post is not None else "",
                victims=post.victims if post is not None else (),
            )
        )
        if post is not None and post.nominated_node:
            target = snapshot.node(post.nominated_node)
            snapshot = snapshot.with_node(target.without_pods(frozenset(post.victims)))
            key = item.info.pod.key
            nominee = pod_info(
                msgspec.structs.replace(item.info.pod, nominated_node_name=post.nominated_node)
            )
            others = tuple(n for n in snapshot.nominated if n.pod.key != key)
            snapshot = snapshot.with_nominated((*others, nominee))
            queue = on_cluster_event(queue, POD_DELETE_PLUGINS, now_ms, less)
    return bindings, snapshot
