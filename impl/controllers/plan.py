"""What a controller's handlers and syncs return: keys to queue, and calls to make.

A sync returns an :class:`Outcome`: calls in *batches* (each batch goes out at once; the next
one only after every answer of the previous came back, and none after a batch with a failure:
slow-start creation and "stop at the first error" fall out of this), expectations to record
before the calls go out, and optionally a wish to *resume* once the batches are answered
(``resume`` then sees the answers: a live read, a create that met a name already taken, or the
status write that follows a scale whether or not it worked). A failed call's ``on_failure``
observations are applied to the expectations at once, and so are those of calls skipped after
a failed batch: the informer will never see them happen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeAlias, TypeVar

import msgspec

from impl.controllers.cache import Cache, Change
from impl.controllers.expectations import Expectations
from models.controllers.config import ControllerConfig
from models.controllers.messages import Answered, ApiCall

P = TypeVar("P")


class CreationObserved(msgspec.Struct, frozen=True, kw_only=True, tag="creation-observed"):
    key: str


class DeletionObserved(msgspec.Struct, frozen=True, kw_only=True, tag="deletion-observed"):
    key: str
    pod_key: str


Observation: TypeAlias = CreationObserved | DeletionObserved


class Planned(msgspec.Struct, frozen=True, kw_only=True):
    """One call; ``tolerated`` statuses count as success (404 when deleting what is gone)."""

    call: ApiCall
    on_failure: tuple[Observation, ...] = ()
    tolerated: frozenset[int] = frozenset()
    tolerated_causes: frozenset[str] = frozenset()
    any_answer: bool = False
    """The caller reads the answer itself (a script): no answer counts as a failure here."""

    def succeeded(self, answer: Answered) -> bool:
        if self.any_answer:
            return True
        if 200 <= answer.status < 300 or answer.status in self.tolerated:
            return True
        return bool(self.tolerated_causes) and _has_cause(answer.body, self.tolerated_causes)


def _has_cause(body: bytes, causes: frozenset[str]) -> bool:
    """Does a Status name one of ``causes`` among its details' causes (``HasStatusCause``)?"""
    try:
        status = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return False
    details = status.get("details") if isinstance(status, dict) else None
    listed = details.get("causes") if isinstance(details, dict) else None
    return any(isinstance(c, dict) and c.get("type") in causes for c in listed or ())


class Reply(msgspec.Struct, frozen=True, kw_only=True):
    planned: Planned
    answer: Answered


@dataclass(frozen=True, slots=True)
class Context(Generic[P]):
    """What a handler or sync reads: settings, the cache, expectations, its own state, time."""

    config: ControllerConfig
    cache: Cache
    expectations: Expectations
    private: P
    now_ms: int


@dataclass(frozen=True, slots=True)
class Reaction(Generic[P]):
    """What a handler wants: keys queued now or later, new expectations and private state."""

    expectations: Expectations
    private: P
    adds: tuple[str, ...] = ()
    delayed: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class Outcome(Generic[P]):
    """What a sync (or its resumption) wants done."""

    expectations: Expectations
    private: P
    batches: tuple[tuple[Planned, ...], ...] = ()
    resume: bool = False
    memo: Any = None
    requeue_after_ms: int | None = None
    requeue_rate_limited: bool = False
    error: str = ""
    adds: tuple[str, ...] = ()
    """Other keys to queue (the garbage collector queues an item's dependents)."""


Handler: TypeAlias = Callable[[Context[P], Change], Reaction[P]]
Syncer: TypeAlias = Callable[[Context[P], str], Outcome[P]]
Resumer: TypeAlias = Callable[[Context[P], str, Any, tuple[Reply, ...], bool], Outcome[P]]


@dataclass(frozen=True, slots=True)
class Watch:
    """An informer: a resource, read whole or as metadata only."""

    resource: str
    metadata_only: bool = False


def no_resume(
    context: Context[Any], key: str, memo: Any, replies: tuple[Reply, ...], failed: bool
) -> Outcome[Any]:
    """For controllers that never resume."""
    del key, memo, replies, failed
    return Outcome(expectations=context.expectations, private=context.private)


@dataclass(frozen=True, slots=True)
class ControllerDef(Generic[P]):
    """One controller: its name, informers, handlers, sync, and how many workers it runs."""

    name: str
    watches: tuple[Watch, ...]
    initial: Callable[[ControllerConfig], P]
    handle: Handler[P]
    sync: Syncer[P]
    workers: Callable[[ControllerConfig], int]
    resume: Resumer[P] = no_resume
    max_retries: int | None = None
    aliases: tuple[str, ...] = field(default=())


def unchanged(context: Context[P], *adds: str) -> Reaction[P]:
    """A reaction that only queues ``adds``."""
    return Reaction(expectations=context.expectations, private=context.private, adds=adds)


def finished(
    context: Context[P], requeue_after_ms: int | None = None, error: str = ""
) -> Outcome[P]:
    """An outcome with nothing to do."""
    return Outcome(
        expectations=context.expectations,
        private=context.private,
        requeue_after_ms=requeue_after_ms,
        error=error,
    )
