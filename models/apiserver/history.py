"""A recorded history of clients using an API server: what ``conform apiserver`` records and the
API properties (``spec.apiserver``) check.

Every operation is on one object collection (ConfigMaps in one namespace) whose objects the
workload alone writes. Each write puts a unique ``token`` in the object's data, so a value seen
later names the write that made it. Times are the recorder's logical clock: a call and a return
each take the next tick, so ``a.return_time < b.call_time`` means a returned before b began.
"""

from __future__ import annotations

from typing import Literal

import msgspec

OperationKind = Literal["create", "update", "delete", "get", "list"]
EventType = Literal["ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"]


class Seen(msgspec.Struct, frozen=True, kw_only=True):
    """An object as an answer or an event showed it."""

    name: str
    resource_version: int
    token: str
    uid: str
    deleting: bool = False
    """``metadata.deletionTimestamp`` was set."""
    finalized: bool = False
    """``metadata.finalizers`` was not empty: a delete of this version marks it, not removes it."""

    @property
    def value(self) -> str:
        """The version's identity for the register checks: its token, marked while a finalizer
        holds it after a delete (that delete changes the version, not the data)."""
        return f"{self.token}#deleting" if self.deleting else self.token


class ApiOperation(msgspec.Struct, frozen=True, kw_only=True):
    """One request and its answer.

    ``status`` is the HTTP status, 0 when no answer came (the outcome is unknown). An update
    carries the resourceVersion it was conditioned on (``precondition``, 0 for none) and the
    token of the object version it was made from (``expected_token``); a successful write
    carries the object it returned; a get carries what it read (``objects``, empty on 404); a
    list carries every object it returned and its ``list_revision``.
    """

    client: int
    call_time: int
    return_time: int | None
    kind: OperationKind
    name: str = ""
    token: str = ""
    precondition: int = 0
    expected_token: str = ""
    status: int = 0
    reason: str = ""
    objects: tuple[Seen, ...] = ()
    list_revision: int = 0
    marks: bool = False
    """A delete of a version that finalizers hold: it marks the object (``deletionTimestamp``)
    instead of removing it, whether or not its answer came."""

    @property
    def succeeded(self) -> bool:
        return 200 <= self.status < 300

    @property
    def definite(self) -> bool:
        """The answer says whether it took effect (a 5xx or no answer leaves it unknown)."""
        return self.status != 0 and self.status < 500


class WatchEvent(msgspec.Struct, frozen=True, kw_only=True):
    type: EventType
    object: Seen | None = None
    resource_version: int = 0
    """For BOOKMARK events: the revision they carry."""
    code: int = 0
    """For ERROR events: the Status code (410 for a too-old resourceVersion)."""


class WatchStream(msgspec.Struct, frozen=True, kw_only=True):
    """One watch from ``start_revision`` (a list's revision), with the events it delivered."""

    watch_id: int
    start_revision: int
    call_time: int
    events: tuple[WatchEvent, ...] = ()


class ApiHistory(msgspec.Struct, frozen=True, kw_only=True):
    """Everything one conformance run saw."""

    namespace: str
    names: tuple[str, ...]
    operations: tuple[ApiOperation, ...] = ()
    watches: tuple[WatchStream, ...] = ()
