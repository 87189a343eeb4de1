"""What a controller machine hears and says.

A controller (``impl.controllers``) never touches the network. Its informers' changes arrive
as :class:`Observed` (one watch event) and :class:`Listed` (a relist that replaces the cache,
as a reflector does after its watch broke); time passes with :class:`Tick`; a free worker is
offered with :class:`Work`; the answer to each call it made comes back as :class:`Answered`
(status 0: no answer came, the outcome is unknown). It says :class:`Call` (one HTTP request to
the API server) and :class:`Reconciled` (a sync ended: for metrics and checkers).
"""

from __future__ import annotations

from typing import Literal, TypeAlias

import msgspec

ChangeType = Literal["ADDED", "MODIFIED", "DELETED"]


class ApiCall(msgspec.Struct, frozen=True, kw_only=True):
    """One HTTP request to the API server (JSON bodies)."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...] = ()
    content_type: str = ""
    body: bytes = b""

    @property
    def verb(self) -> str:
        """The Kubernetes verb: create, update, patch, delete or get."""
        return {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(
            self.method, "get"
        )


# Events ---------------------------------------------------------------------------------------


class Observed(msgspec.Struct, frozen=True, kw_only=True, tag="observed"):
    """One watch event of an informer: ``raw`` is the object's JSON."""

    resource: str
    change: ChangeType
    raw: bytes


class Listed(msgspec.Struct, frozen=True, kw_only=True, tag="listed"):
    """An informer listed ``resource`` again: the cache now holds exactly ``items``."""

    resource: str
    items: tuple[bytes, ...]


class Tick(msgspec.Struct, frozen=True, kw_only=True, tag="tick"):
    """The controller's clock reads ``now_ms`` (milliseconds since the Unix epoch)."""

    now_ms: int


class Work(msgspec.Struct, frozen=True, kw_only=True, tag="work"):
    """A worker is free: it takes the next ready key, if any."""


class Answered(msgspec.Struct, frozen=True, kw_only=True, tag="answered"):
    """The answer to call ``request_id``: the HTTP status (0 when none came) and body."""

    request_id: int
    status: int
    body: bytes = b""


ControllerEvent: TypeAlias = Observed | Listed | Tick | Work | Answered


# Commands -------------------------------------------------------------------------------------


class Call(msgspec.Struct, frozen=True, kw_only=True, tag="call"):
    """Send ``call`` to the API server; answer with ``Answered(request_id)``."""

    controller: str
    request_id: int
    key: str
    call: ApiCall


class Reconciled(msgspec.Struct, frozen=True, kw_only=True, tag="reconciled"):
    """A sync of ``key`` ended: ``outcome`` is success, error or requeue."""

    controller: str
    key: str
    outcome: Literal["success", "error", "requeue"]
    started_ms: int
    ended_ms: int


ControllerCommand: TypeAlias = Call | Reconciled
