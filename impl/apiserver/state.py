"""The API server machine's state: the watch cache, the catalog of custom resources, requests
waiting on the store, open watches; and the helpers every request stage shares."""

from __future__ import annotations

from typing import Literal

import immutables
import msgspec

from impl.apiserver.cache import WatchCache
from impl.apiserver.catalog import Catalog
from impl.apiserver.context import (
    Config,
    Context,
    Write,
    status_response,
)
from impl.apiserver.objects import decode, with_resource_version
from impl.apiserver.rbac import RbacIndex
from impl.apiserver.routing import RequestInfo
from impl.apiserver.watches import Watcher
from impl.apiserver.writes import Current
from models.apiserver.messages import (
    ApiRequest,
    ApiResponse,
    ApiServerCommand,
    Entropy,
    Respond,
    StorageRange,
    StorageTxn,
)
from models.apiserver.resources import Resource
from models.etcd import (
    RangeRequest,
    RangeResponse,
)
from models.k8s.meta_ops import Status
from models.step import Step

LOAD_OPERATION = 0


Stage = Literal["current", "commit", "get", "list", "scale", "collect", "namespace"]


class CollectionDelete(msgspec.Struct, frozen=True, kw_only=True):
    """A DELETE on a collection under way: the objects still to delete, one at a time, and the
    answer (the list as it was before the deletions, as kube's ``DeleteCollection`` returns)."""

    remaining: tuple[tuple[str, str], ...]
    """(namespace, name) of each object still to delete."""
    answer: ApiResponse


class Pending(msgspec.Struct, frozen=True, kw_only=True):
    """A request waiting on the store."""

    request_id: int
    request: ApiRequest
    entropy: Entropy
    info: RequestInfo
    resource: Resource
    stage: Stage
    attempt: int = 0
    from_store: bool = False
    key: str = ""
    write: Write | None = None
    prefix: str = ""
    limit: int = 0
    revision: int = 0
    """The revision a list asked the store for (0: the latest)."""
    collection: CollectionDelete | None = None
    """Set while this write deletes one object of a collection."""
    namespace_read: bool = False
    """The store was asked for the request's namespace (missing from the watch cache)."""


class ApiServerState(msgspec.Struct, frozen=True, kw_only=True):
    cache: WatchCache
    catalog: Catalog = msgspec.field(default_factory=Catalog)
    rbac: RbacIndex = msgspec.field(default_factory=RbacIndex)
    """The roles and bindings in the cache, read for authorization."""
    policy_namespaces: frozenset[str] = frozenset()
    """Namespaces that have a ResourceQuota or a LimitRange (only their pod creates read
    them)."""
    next_operation: int = 1
    pending: immutables.Map[int, Pending] = msgspec.field(default_factory=immutables.Map)
    watchers: immutables.Map[int, Watcher] = msgspec.field(default_factory=immutables.Map)
    now_seconds: int = 0


ApiStep = Step[ApiServerState, ApiServerCommand]


def prefix_end(prefix: str) -> bytes:
    data = bytearray(prefix.encode())
    data[-1] += 1
    return bytes(data)


def respond(request_id: int, status: Status) -> Respond:
    return Respond(request_id=request_id, response=status_response(status))


def context(
    config: Config,
    state: ApiServerState,
    info: RequestInfo,
    resource: Resource,
    request: ApiRequest,
    entropy: Entropy,
    attempt: int = 0,
) -> Context:
    return Context(
        config=config,
        info=info,
        resource=resource,
        request=request,
        entropy=entropy,
        cache=state.cache,
        catalog=state.catalog,
        rbac=state.rbac,
        policy_namespaces=state.policy_namespaces,
        attempt=attempt,
    )


def pending_op(
    state: ApiServerState, pending: Pending, command: StorageRange | StorageTxn
) -> ApiStep:
    return Step(
        state=msgspec.structs.replace(
            state,
            next_operation=state.next_operation + 1,
            pending=state.pending.set(state.next_operation, pending),
        ),
        commands=(command,),
    )


def range_command(operation: int, key: str) -> StorageRange:
    return StorageRange(operation_id=operation, request=RangeRequest(key=key.encode()))


def cached_current(state: ApiServerState, key: str) -> Current | None:
    cached = state.cache.objects.get(key)
    if cached is None:
        return None
    return Current(decode(cached.value), cached.mod_revision)


def current_from(result: RangeResponse) -> Current | None:
    if not result.kvs:
        return None
    kv = result.kvs[0]
    return Current(decode(with_resource_version(kv.value, kv.mod_revision)), kv.mod_revision)
