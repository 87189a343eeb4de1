"""The API server machine's events and commands, and the HTTP request and answer as data.

The machine never touches a socket or etcd: the runner turns each HTTP request into a
``RequestReceived`` (with the random values and the time it drew: ``Entropy``), carries out the
storage commands against the store and feeds their results back, and writes the ``Respond`` and
watch commands to the client connections.
"""

from __future__ import annotations

from typing import TypeAlias

import msgspec

from models.apiserver.auth import Credentials, UserInfo
from models.etcd import EtcdError, Event, RangeRequest, RangeResponse, TxnRequest, TxnResponse


class ApiRequest(msgspec.Struct, frozen=True, kw_only=True):
    """One HTTP request: method, path, decoded query pairs in order, the headers that matter."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...] = ()
    content_type: str = ""
    accept: str = ""
    user_agent: str = ""
    body: bytes = b""
    credentials: Credentials | None = None
    """What the request presented on the secure port; None: the insecure port (or the server
    itself), which is neither authenticated nor authorized."""
    user: UserInfo | None = None
    """Who the machine authenticated the request as."""

    def param(self, name: str) -> str | None:
        """The first value of a query parameter, or None."""
        for key, value in self.query:
            if key == name:
                return value
        return None


class Entropy(msgspec.Struct, frozen=True, kw_only=True):
    """What the runner drew for one request: the time and random identities.

    ``now`` is RFC 3339 with second precision (``creationTimestamp``, managedFields times);
    ``now_seconds`` the same instant as Unix seconds (ages in tables, grace periods); ``uid``
    the object's UID if one is created; ``name_suffixes`` the candidates ``generateName`` tries in
    order (kube-apiserver makes up to 8 attempts, each with a new name).
    """

    now: str
    now_seconds: int
    uid: str
    name_suffixes: tuple[str, ...]


class Header(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    value: str


class ApiResponse(msgspec.Struct, frozen=True, kw_only=True):
    """A complete HTTP answer."""

    status: int
    content_type: str = "application/json"
    body: bytes = b""
    headers: tuple[Header, ...] = ()


class StorageUnavailable(msgspec.Struct, frozen=True, kw_only=True):
    """The store did not answer (timeout, lost connection): the outcome is unknown."""

    reason: str


StorageResult: TypeAlias = RangeResponse | TxnResponse | EtcdError | StorageUnavailable


# Events -------------------------------------------------------------------------------------


class RequestReceived(msgspec.Struct, frozen=True, kw_only=True, tag="request"):
    request_id: int
    request: ApiRequest
    entropy: Entropy


class StorageReplied(msgspec.Struct, frozen=True, kw_only=True, tag="storage"):
    operation_id: int
    result: StorageResult


class StorageEvents(msgspec.Struct, frozen=True, kw_only=True, tag="storage-events"):
    """Changes from the store's watch on ``/registry/``, in revision order."""

    events: tuple[Event, ...]
    revision: int


class StorageWatchLost(msgspec.Struct, frozen=True, kw_only=True, tag="storage-watch-lost"):
    """The store's watch broke (compacted or disconnected): the cache must list again."""

    reason: str


class WatchClosed(msgspec.Struct, frozen=True, kw_only=True, tag="watch-closed"):
    """The client went away, or the runner dropped a watcher too slow to keep up."""

    watch_id: int


class Tick(msgspec.Struct, frozen=True, kw_only=True, tag="tick"):
    """The time passed: bookmarks are due, watch timeouts expire."""

    now_seconds: int


ApiServerEvent: TypeAlias = (
    RequestReceived | StorageReplied | StorageEvents | StorageWatchLost | WatchClosed | Tick
)


# Commands -----------------------------------------------------------------------------------


class Respond(msgspec.Struct, frozen=True, kw_only=True, tag="respond"):
    request_id: int
    response: ApiResponse


class StartWatch(msgspec.Struct, frozen=True, kw_only=True, tag="start-watch"):
    """Answer ``request_id`` with 200 and a stream that the next ``SendWatch`` lines fill."""

    request_id: int
    content_type: str


class SendWatch(msgspec.Struct, frozen=True, kw_only=True, tag="send-watch"):
    """One watch event, a JSON line (``{"type":...,"object":...}``)."""

    watch_id: int
    line: bytes


class EndWatch(msgspec.Struct, frozen=True, kw_only=True, tag="end-watch"):
    watch_id: int


class StorageRange(msgspec.Struct, frozen=True, kw_only=True, tag="storage-range"):
    operation_id: int
    request: RangeRequest


class StorageTxn(msgspec.Struct, frozen=True, kw_only=True, tag="storage-txn"):
    operation_id: int
    request: TxnRequest


class StorageWatch(msgspec.Struct, frozen=True, kw_only=True, tag="storage-watch"):
    """Watch every key under ``prefix`` from ``start_revision`` (with previous values)."""

    prefix: bytes
    start_revision: int


ApiServerCommand: TypeAlias = (
    Respond | StartWatch | SendWatch | EndWatch | StorageRange | StorageTxn | StorageWatch
)
