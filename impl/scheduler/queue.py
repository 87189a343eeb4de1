"""The scheduling queue (``pkg/scheduler/backend/queue``) as immutable data and pure
functions.

Theory of operation. Four pools. A new pod passes the PreEnqueue plugins (SchedulingGates)
or waits in the gated pool. activeQ is ordered by the QueueSort plugin (PrioritySort:
priority, then queue timestamp). A pod that failed waits in the unschedulable pool with the
plugins that rejected it. A cluster event moves it out when the QueueingHint of one of those
plugins answers Queue (any event moves a pod no plugin claimed); it goes to backoffQ while its
backoff (initial 1 s doubling per attempt, at most 10 s) runs, else to activeQ. backoffQ is
ordered by backoff expiry, then QueueSort. With SchedulerPopFromBackoffQ (beta, on in v1.35) an
otherwise idle scheduler takes the head of backoffQ without waiting. Pods left unschedulable
longer than 5 minutes are moved out at the next tick. Time is logical milliseconds; nothing
here reads a clock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, final

import immutables
import msgspec

from impl.scheduler.framework import ClusterEvent, QueuedPodInfo
from impl.scheduler.podinfo import PodInfo

UNSCHEDULABLE_TIMEOUT_MS: Final = 5 * 60 * 1000

Less = Callable[[QueuedPodInfo, QueuedPodInfo], bool]
Hint = Callable[[QueuedPodInfo, ClusterEvent], bool]
"""Does this event make this waiting pod worth another attempt (any rejecting plugin's hint)?"""


@final
class Backoff(msgspec.Struct, frozen=True, kw_only=True):
    """``podInitialBackoffSeconds`` and ``podMaxBackoffSeconds`` in milliseconds."""

    initial_ms: int = 1000
    max_ms: int = 10_000

    def duration_ms(self, attempts: int) -> int:
        """``initial * 2^(attempts-1)``, capped at the maximum."""
        assert attempts >= 1
        duration = self.initial_ms
        for _ in range(attempts - 1):
            duration *= 2
            if duration >= self.max_ms:
                return self.max_ms
        return min(duration, self.max_ms)

    def expiry_ms(self, item: QueuedPodInfo) -> int:
        """When the pod's backoff ends (0 for a pod never attempted)."""
        if not item.attempts:
            return 0
        return item.last_attempt_ms + self.duration_ms(item.attempts)


@final
class SchedulingQueue(msgspec.Struct, frozen=True, kw_only=True):
    """activeQ and backoffQ (kept sorted), the unschedulable and gated pools."""

    active: tuple[QueuedPodInfo, ...] = ()
    backoff: tuple[QueuedPodInfo, ...] = ()
    unschedulable: tuple[QueuedPodInfo, ...] = ()
    gated: tuple[QueuedPodInfo, ...] = ()
    members: immutables.Map[str, bool] = immutables.Map()
    """The ``namespace/name`` of every pod in a pool."""

    def waiting(self) -> int:
        """Pods in any pool."""
        return len(self.active) + len(self.backoff) + len(self.unschedulable) + len(self.gated)

    def has(self, key: str) -> bool:
        """Is pod ``key`` in a pool?"""
        return key in self.members

    def queued_keys(self) -> frozenset[str]:
        """Every queued pod's ``namespace/name``."""
        return frozenset(self.members)


def _joined(queue: SchedulingQueue, item: QueuedPodInfo) -> immutables.Map[str, bool]:
    return queue.members.set(item.info.key, True)


def _insert(
    pool: tuple[QueuedPodInfo, ...], item: QueuedPodInfo, before: Less
) -> tuple[QueuedPodInfo, ...]:
    position = len(pool)
    while position > 0 and before(item, pool[position - 1]):
        position -= 1
    return (*pool[:position], item, *pool[position:])


def _backoff_order(backoff: Backoff, less: Less) -> Less:
    def before(left: QueuedPodInfo, right: QueuedPodInfo) -> bool:
        left_expiry, right_expiry = backoff.expiry_ms(left), backoff.expiry_ms(right)
        if left_expiry != right_expiry:
            return left_expiry < right_expiry
        return less(left, right)

    return before


def enqueue(
    queue: SchedulingQueue, item: QueuedPodInfo, less: Less, gated: bool
) -> SchedulingQueue:
    """A new pod: activeQ, or the gated pool when a PreEnqueue plugin refused it."""
    members = _joined(queue, item)
    if gated:
        return msgspec.structs.replace(queue, gated=(*queue.gated, item), members=members)
    return msgspec.structs.replace(queue, active=_insert(queue.active, item, less), members=members)


def _to_active_or_backoff(
    queue: SchedulingQueue, item: QueuedPodInfo, now_ms: int, less: Less, backoff: Backoff
) -> SchedulingQueue:
    moved = msgspec.structs.replace(item, timestamp_ms=now_ms)
    if backoff.expiry_ms(item) > now_ms:
        order = _backoff_order(backoff, less)
        return msgspec.structs.replace(queue, backoff=_insert(queue.backoff, moved, order))
    return msgspec.structs.replace(queue, active=_insert(queue.active, moved, less))


def flush(queue: SchedulingQueue, now_ms: int, less: Less, backoff: Backoff) -> SchedulingQueue:
    """Backoffs that ended move to activeQ; pods unschedulable for 5 minutes move out."""
    active = queue.active
    waiting: list[QueuedPodInfo] = []
    for item in queue.backoff:
        if backoff.expiry_ms(item) <= now_ms:
            active = _insert(active, item, less)
        else:
            waiting.append(item)
    result = SchedulingQueue(
        active=active,
        backoff=tuple(waiting),
        unschedulable=(),
        gated=queue.gated,
        members=queue.members,
    )
    for item in queue.unschedulable:
        if now_ms - item.timestamp_ms > UNSCHEDULABLE_TIMEOUT_MS:
            result = _to_active_or_backoff(result, item, now_ms, less, backoff)
        else:
            result = msgspec.structs.replace(result, unschedulable=(*result.unschedulable, item))
    return result


def pop(
    queue: SchedulingQueue, pop_from_backoff: bool
) -> tuple[QueuedPodInfo | None, SchedulingQueue]:
    """The next pod to schedule: activeQ's head, else (SchedulerPopFromBackoffQ) backoffQ's."""
    if queue.active:
        head = queue.active[0]
        return head, msgspec.structs.replace(
            queue, active=queue.active[1:], members=queue.members.delete(head.info.key)
        )
    if pop_from_backoff and queue.backoff:
        head = queue.backoff[0]
        return head, msgspec.structs.replace(
            queue, backoff=queue.backoff[1:], members=queue.members.delete(head.info.key)
        )
    return None, queue


def requeue_failed(queue: SchedulingQueue, item: QueuedPodInfo) -> SchedulingQueue:
    """``AddUnschedulableIfNotPresent``: a pod that failed waits for an event."""
    return msgspec.structs.replace(
        queue, unschedulable=(*queue.unschedulable, item), members=_joined(queue, item)
    )


def requeue_after_error(
    queue: SchedulingQueue, item: QueuedPodInfo, less: Less, backoff: Backoff
) -> SchedulingQueue:
    """A pod whose binding failed goes through backoff."""
    order = _backoff_order(backoff, less)
    return msgspec.structs.replace(
        queue, backoff=_insert(queue.backoff, item, order), members=_joined(queue, item)
    )


def on_cluster_event(
    queue: SchedulingQueue,
    event: ClusterEvent,
    worth: Hint,
    now_ms: int,
    less: Less,
    backoff: Backoff,
) -> SchedulingQueue:
    """``MoveAllToActiveOrBackoffQueue``: waiting pods the event may help leave the pool."""
    result = msgspec.structs.replace(queue, unschedulable=())
    for item in queue.unschedulable:
        if worth(item, event):
            result = _to_active_or_backoff(result, item, now_ms, less, backoff)
        else:
            result = msgspec.structs.replace(result, unschedulable=(*result.unschedulable, item))
    return result


def updated(
    queue: SchedulingQueue,
    info: PodInfo,
    gated: bool,
    now_ms: int,
    less: Less,
    backoff: Backoff,
) -> SchedulingQueue:
    """A queued pod changed: it keeps its pool, attempts and backoff, except that a gated pod
    whose PreEnqueue plugins now admit it moves to activeQ (or backoffQ), and a pod that a
    PreEnqueue plugin now refuses waits in the gated pool."""
    found = next(
        item
        for pool in (queue.active, queue.backoff, queue.unschedulable, queue.gated)
        for item in pool
        if item.info.key == info.key
    )
    item = msgspec.structs.replace(found, info=info)
    was_gated = any(entry.info.key == info.key for entry in queue.gated)
    rest = without(queue, info.key)
    members = rest.members.set(info.key, True)
    if gated:
        return msgspec.structs.replace(rest, gated=(*rest.gated, item), members=members)
    if was_gated:
        moved = _to_active_or_backoff(rest, item, now_ms, less, backoff)
        return msgspec.structs.replace(moved, members=members)

    def swap(pool: tuple[QueuedPodInfo, ...]) -> tuple[QueuedPodInfo, ...]:
        return tuple(item if entry.info.key == info.key else entry for entry in pool)

    return msgspec.structs.replace(
        queue,
        active=swap(queue.active),
        backoff=swap(queue.backoff),
        unschedulable=swap(queue.unschedulable),
    )


def without(queue: SchedulingQueue, key: str) -> SchedulingQueue:
    """The queue without pod ``key`` (deleted)."""
    if key not in queue.members:
        return queue

    def keep(pool: tuple[QueuedPodInfo, ...]) -> tuple[QueuedPodInfo, ...]:
        return tuple(item for item in pool if item.info.key != key)

    return SchedulingQueue(
        active=keep(queue.active),
        backoff=keep(queue.backoff),
        unschedulable=keep(queue.unschedulable),
        gated=keep(queue.gated),
        members=queue.members.delete(key),
    )
