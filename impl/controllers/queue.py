"""client-go's rate-limited delaying work queue, as a value.

Theory of operation (``k8s.io/client-go/util/workqueue``). Keys wait in FIFO order; a key is in
the queue at most once (the *dirty* set). A worker ``get``s the head, which moves it to
*processing*; while processing, adding it again only marks it dirty, and ``done`` puts it back
at the tail, so one key is never processed by two workers at once. ``add_after`` parks a key
until its time (keeping the earlier time when parked twice); ``add_rate_limited`` parks it for
the controller rate limiter's delay: the larger of a per-key exponential backoff (5 ms doubling
to 1000 s, reset by ``forget``) and an overall token bucket (10 per second, burst 100)
(``DefaultTypedControllerRateLimiter``).
"""

from __future__ import annotations

from typing import Final

import immutables
import msgspec

BASE_DELAY_MS: Final = 5
MAX_DELAY_MS: Final = 1000 * 1000
BUCKET_RATE_PER_SECOND: Final = 10
BUCKET_BURST: Final = 100
_MILLI: Final = 1000


class WorkQueue(msgspec.Struct, frozen=True, kw_only=True):
    """The queue, its parked keys and its rate limiter's memory."""

    order: immutables.Map[int, str] = msgspec.field(default_factory=immutables.Map)
    head: int = 0
    tail: int = 0
    dirty: frozenset[str] = frozenset()
    processing: frozenset[str] = frozenset()
    waiting: immutables.Map[str, int] = msgspec.field(default_factory=immutables.Map)
    failures: immutables.Map[str, int] = msgspec.field(default_factory=immutables.Map)
    bucket_milli_tokens: int = BUCKET_BURST * _MILLI
    bucket_at_ms: int = 0
    adds: int = 0
    retries: int = 0

    @property
    def depth(self) -> int:
        """Keys waiting to be processed (client-go's ``Len``)."""
        return self.tail - self.head


def add(queue: WorkQueue, key: str) -> WorkQueue:
    if key in queue.dirty:
        return queue
    dirty = queue.dirty | {key}
    if key in queue.processing:
        return msgspec.structs.replace(queue, dirty=dirty, adds=queue.adds + 1)
    return msgspec.structs.replace(
        queue,
        dirty=dirty,
        order=queue.order.set(queue.tail, key),
        tail=queue.tail + 1,
        adds=queue.adds + 1,
    )


def get(queue: WorkQueue) -> tuple[WorkQueue, str | None]:
    """Take the head key for processing (None when the queue is empty)."""
    if queue.head == queue.tail:
        return queue, None
    key = queue.order[queue.head]
    return (
        msgspec.structs.replace(
            queue,
            order=queue.order.delete(queue.head),
            head=queue.head + 1,
            dirty=queue.dirty - {key},
            processing=queue.processing | {key},
        ),
        key,
    )


def done(queue: WorkQueue, key: str) -> WorkQueue:
    """Processing of ``key`` ended; it goes back to the tail if it was added meanwhile."""
    queue = msgspec.structs.replace(queue, processing=queue.processing - {key})
    if key not in queue.dirty:
        return queue
    return msgspec.structs.replace(
        queue, order=queue.order.set(queue.tail, key), tail=queue.tail + 1
    )


def add_after(queue: WorkQueue, key: str, delay_ms: int, now_ms: int) -> WorkQueue:
    if delay_ms <= 0:
        return add(queue, key)
    due = now_ms + delay_ms
    parked = queue.waiting.get(key)
    if parked is not None and parked <= due:
        return queue
    return msgspec.structs.replace(queue, waiting=queue.waiting.set(key, due))


def release_due(queue: WorkQueue, now_ms: int) -> WorkQueue:
    """Add every parked key whose time has come, earliest first."""
    due = sorted((at, key) for key, at in queue.waiting.items() if at <= now_ms)
    for _, key in due:
        queue = add(msgspec.structs.replace(queue, waiting=queue.waiting.delete(key)), key)
    return queue


def next_due_ms(queue: WorkQueue) -> int | None:
    """When the earliest parked key is due (None when none is parked)."""
    return min(queue.waiting.values()) if len(queue.waiting) else None


def rate_limit_delay(queue: WorkQueue, key: str, now_ms: int) -> tuple[WorkQueue, int]:
    """The controller rate limiter's delay for ``key`` now, and the limiter's new memory."""
    failures = queue.failures.get(key, 0)
    exponential = min(BASE_DELAY_MS * 2**failures, MAX_DELAY_MS) if failures < 40 else MAX_DELAY_MS
    elapsed = max(0, now_ms - queue.bucket_at_ms)
    tokens = min(
        BUCKET_BURST * _MILLI, queue.bucket_milli_tokens + elapsed * BUCKET_RATE_PER_SECOND
    )
    tokens -= _MILLI
    bucket = 0 if tokens >= 0 else -(tokens // BUCKET_RATE_PER_SECOND)
    queue = msgspec.structs.replace(
        queue,
        failures=queue.failures.set(key, failures + 1),
        bucket_milli_tokens=tokens,
        bucket_at_ms=max(now_ms, queue.bucket_at_ms),
        retries=queue.retries + 1,
    )
    return queue, max(exponential, bucket)


def add_rate_limited(queue: WorkQueue, key: str, now_ms: int) -> WorkQueue:
    queue, delay = rate_limit_delay(queue, key, now_ms)
    return add_after(queue, key, delay, now_ms)


def forget(queue: WorkQueue, key: str) -> WorkQueue:
    if key not in queue.failures:
        return queue
    return msgspec.structs.replace(queue, failures=queue.failures.delete(key))
