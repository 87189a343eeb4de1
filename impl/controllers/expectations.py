"""Controller expectations: the creations and deletions a controller waits to observe.

Theory of operation (``pkg/controller/controller_utils.go``, ``UIDTrackingControllerExpectations``).
Before creating N pods a controller records that it expects N creations; before deleting pods it
records their keys. Informer events lower the counts (``creation_observed`` on a pod add,
``deletion_observed`` on a delete of a recorded key), and so does a call that failed (the
informer will never see it). A controller acts on its cache only when its expectations are
satisfied: both counts at or below zero, or the record older than five minutes (a lost event
must not wedge it for ever), or no record at all.
"""

from __future__ import annotations

from typing import Final

import immutables
import msgspec

EXPECTATIONS_TIMEOUT_MS: Final = 5 * 60 * 1000


class Expectation(msgspec.Struct, frozen=True, kw_only=True):
    add: int
    delete: int
    set_at_ms: int
    deleting: frozenset[str] = frozenset()


class Expectations(msgspec.Struct, frozen=True, kw_only=True):
    by_key: immutables.Map[str, Expectation] = msgspec.field(default_factory=immutables.Map)


def satisfied(expectations: Expectations, key: str, now_ms: int) -> bool:
    record = expectations.by_key.get(key)
    if record is None:
        return True
    if record.add <= 0 and record.delete <= 0:
        return True
    return now_ms - record.set_at_ms > EXPECTATIONS_TIMEOUT_MS


def expect_creations(expectations: Expectations, key: str, count: int, now_ms: int) -> Expectations:
    old = expectations.by_key.get(key)
    record = Expectation(
        add=count, delete=0, set_at_ms=now_ms, deleting=old.deleting if old else frozenset()
    )
    return Expectations(by_key=expectations.by_key.set(key, record))


def expect_deletions(
    expectations: Expectations, key: str, pod_keys: tuple[str, ...], now_ms: int
) -> Expectations:
    record = Expectation(
        add=0, delete=len(pod_keys), set_at_ms=now_ms, deleting=frozenset(pod_keys)
    )
    return Expectations(by_key=expectations.by_key.set(key, record))


def creation_observed(expectations: Expectations, key: str) -> Expectations:
    record = expectations.by_key.get(key)
    if record is None:
        return expectations
    lowered = msgspec.structs.replace(record, add=record.add - 1)
    return Expectations(by_key=expectations.by_key.set(key, lowered))


def deletion_observed(expectations: Expectations, key: str, pod_key: str) -> Expectations:
    record = expectations.by_key.get(key)
    if record is None or pod_key not in record.deleting:
        return expectations
    lowered = msgspec.structs.replace(
        record, delete=record.delete - 1, deleting=record.deleting - {pod_key}
    )
    return Expectations(by_key=expectations.by_key.set(key, lowered))


def forget_key(expectations: Expectations, key: str) -> Expectations:
    """The controller's object is gone: drop its record (``DeleteExpectations``)."""
    if key not in expectations.by_key:
        return expectations
    return Expectations(by_key=expectations.by_key.delete(key))
