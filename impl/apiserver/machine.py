"""kube-apiserver as a pure state machine: ``init(config)`` and ``on_event(config, state,
event)`` give a ``Step`` of the new state and the commands to carry out.

Theory of operation. At start the machine lists ``/registry/`` into its watch cache and then
watches the store from the next revision; until the list arrives requests get 503. Reads that
must be current (get and list without resourceVersion, paged lists) go to the store; reads
with ``resourceVersion=0`` and every watch are served from the cache. A write is decided first
against the cached object, then committed as one etcd transaction guarded by the key's
``mod_revision``; a failed guard, or a failure decided on a possibly stale cached object, makes
the machine re-read the key from the store and decide again (at most ``max_update_attempts``
times). Store events update the cache and fan out to the watchers; CRD changes rebuild the
catalog of custom resources. The ``authorize`` hook is where authentication, authorization and
admission will sit (issue 14): today it admits everything.
"""

from __future__ import annotations

from typing import Final, Literal

import immutables
import msgspec

from impl.apiserver import cache as cache_ops
from impl.apiserver.cache import WatchCache
from impl.apiserver.catalog import CRD_PREFIX, Catalog, find, rebuild
from impl.apiserver.context import (
    Config,
    Context,
    Decision,
    KeyWrite,
    Reply,
    Write,
    json_response,
    status_response,
)
from impl.apiserver.deletes import decide_delete
from impl.apiserver.discovery import non_resource_response
from impl.apiserver.objects import decode, encode, with_resource_version
from impl.apiserver.patching import decide_patch
from impl.apiserver.reads import (
    decode_continue,
    expired_continue,
    item_response,
    list_response,
    parse_filter,
    parse_limit,
)
from impl.apiserver.routing import RequestInfo, request_info
from impl.apiserver.subresources import (
    decide_binding,
    decide_eviction,
    decide_finalize,
    decide_scale,
    get_scale,
    scale_of,
)
from impl.apiserver.watches import Watcher, bookmark_line, error_line, fan_out, initial_lines
from impl.apiserver.writes import Current, decide_create, decide_update
from models.apiserver.messages import (
    ApiRequest,
    ApiResponse,
    ApiServerCommand,
    ApiServerEvent,
    EndWatch,
    Entropy,
    RequestReceived,
    Respond,
    SendWatch,
    StartWatch,
    StorageEvents,
    StorageRange,
    StorageReplied,
    StorageTxn,
    StorageUnavailable,
    StorageWatch,
    StorageWatchLost,
    Tick,
    WatchClosed,
)
from models.apiserver.resources import REGISTRY_ROOT, Resource, collection_prefix, object_key
from models.apiserver.status import (
    bad_request,
    conflict,
    expired,
    failure,
    internal_error,
    method_not_allowed,
    not_found,
    timeout,
    unavailable,
)
from models.etcd import (
    Compare,
    DeleteRangeRequest,
    EtcdError,
    PutRequest,
    RangeRequest,
    RangeResponse,
    TxnRequest,
    TxnResponse,
)
from models.k8s.meta_ops import Status
from models.step import Step

LOAD_OPERATION = 0
Stage = Literal["current", "commit", "get", "list", "scale"]


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


class ApiServerState(msgspec.Struct, frozen=True, kw_only=True):
    cache: WatchCache
    catalog: Catalog = msgspec.field(default_factory=Catalog)
    next_operation: int = 1
    pending: immutables.Map[int, Pending] = msgspec.field(default_factory=immutables.Map)
    watchers: immutables.Map[int, Watcher] = msgspec.field(default_factory=immutables.Map)
    now_seconds: int = 0


ApiStep = Step[ApiServerState, ApiServerCommand]


def _prefix_end(prefix: str) -> bytes:
    data = bytearray(prefix.encode())
    data[-1] += 1
    return bytes(data)


def init(config: Config) -> ApiStep:
    state = ApiServerState(cache=WatchCache(capacity=config.watch_cache_capacity))
    load = StorageRange(
        operation_id=LOAD_OPERATION,
        request=RangeRequest(key=REGISTRY_ROOT.encode(), range_end=_prefix_end(REGISTRY_ROOT)),
    )
    return Step(state=state, commands=(load,))


def authorize(info: RequestInfo, request: ApiRequest) -> Status | None:
    """The authentication, authorization and admission hook (issue 14): admits everything."""
    del info, request
    return None


def on_event(config: Config, state: ApiServerState, event: ApiServerEvent) -> ApiStep:
    match event:
        case RequestReceived():
            return _on_request(config, state, event)
        case StorageReplied():
            return _on_storage(config, state, event)
        case StorageEvents():
            return _on_store_events(state, event)
        case StorageWatchLost():
            return _on_watch_lost(config, state)
        case WatchClosed():
            return Step(
                state=msgspec.structs.replace(
                    state,
                    watchers=state.watchers.delete(event.watch_id)
                    if event.watch_id in state.watchers
                    else state.watchers,
                )
            )
        case Tick():
            return _on_tick(config, state, event)


def _respond(request_id: int, status: Status) -> Respond:
    return Respond(request_id=request_id, response=status_response(status))


def _context(
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
        attempt=attempt,
    )


def _on_request(config: Config, state: ApiServerState, event: RequestReceived) -> ApiStep:
    request, rid = event.request, event.request_id
    state = msgspec.structs.replace(
        state, now_seconds=max(state.now_seconds, event.entropy.now_seconds)
    )
    info = request_info(request)
    if not info.is_resource:
        response = non_resource_response(config, state.cache, state.catalog, request, info)
        return Step(state=state, commands=(Respond(request_id=rid, response=response),))
    if not state.cache.loaded:
        return Step(
            state=state,
            commands=(
                _respond(rid, unavailable("the server is starting: the watch cache is not ready")),
            ),
        )
    resource = find(state.catalog, info.group, info.version, info.resource)
    if resource is None:
        return Step(
            state=state,
            commands=(
                _respond(
                    rid,
                    failure(404, "NotFound", "the server could not find the requested resource"),
                ),
            ),
        )
    refused = authorize(info, request) or _check_verb(resource, info)
    if refused is not None:
        return Step(state=state, commands=(_respond(rid, refused),))
    ctx = _context(config, state, info, resource, request, event.entropy)
    if info.verb == "watch":
        return _start_watch(state, ctx, rid)
    if info.verb == "list":
        return _start_list(state, ctx, rid)
    if info.verb == "get":
        return _start_get(state, ctx, rid)
    return _start_write(state, ctx, rid)


def _check_verb(resource: Resource, info: RequestInfo) -> Status | None:
    if info.subresource:
        sub = resource.subresource(info.subresource)
        allowed = sub.verbs if sub is not None else ()
        if sub is None:
            return failure(404, "NotFound", "the server could not find the requested resource")
    else:
        allowed = resource.verbs
    if info.verb not in allowed or (
        info.verb in ("create",) and info.name and not info.subresource
    ):
        return method_not_allowed("the server does not allow this method on the requested resource")
    if (
        resource.namespaced
        and info.verb in ("create", "update", "patch", "delete", "get")
        and not info.namespace
        and info.subresource != ""
    ):
        return None
    return None


def _pending_op(
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


def _range(operation: int, key: str) -> StorageRange:
    return StorageRange(operation_id=operation, request=RangeRequest(key=key.encode()))


def _cached_current(state: ApiServerState, key: str) -> Current | None:
    cached = state.cache.objects.get(key)
    if cached is None:
        return None
    return Current(decode(cached.value), cached.mod_revision)


# Reads ---------------------------------------------------------------------------------------


def _start_get(state: ApiServerState, ctx: Context, rid: int) -> ApiStep:
    key = object_key(ctx.resource, ctx.info.namespace, ctx.info.name)
    rv = ctx.request.param("resourceVersion")
    stage: Stage = "scale" if ctx.info.subresource == "scale" else "get"
    if rv and rv.isdigit() and (rv == "0" or int(rv) <= state.cache.revision):
        current = _cached_current(state, key)
        return Step(
            state=state,
            commands=(Respond(request_id=rid, response=_get_answer(ctx, stage, current)),),
        )
    pending = Pending(
        request_id=rid,
        request=ctx.request,
        entropy=ctx.entropy,
        info=ctx.info,
        resource=ctx.resource,
        stage=stage,
        key=key,
    )
    return _pending_op(state, pending, _range(state.next_operation, key))


def _get_answer(ctx: Context, stage: Stage, current: Current | None) -> ApiResponse:
    if stage == "scale":
        return get_scale(ctx, current).response
    if current is None:
        return status_response(not_found(ctx.resource.qualified, ctx.info.name))
    return item_response(ctx, encode(current.obj))


def _start_list(state: ApiServerState, ctx: Context, rid: int) -> ApiStep:
    filter_ = parse_filter(ctx)
    limit = parse_limit(ctx)
    if isinstance(filter_, Status):
        return Step(state=state, commands=(_respond(rid, filter_),))
    if isinstance(limit, Status):
        return Step(state=state, commands=(_respond(rid, limit),))
    prefix = collection_prefix(ctx.resource, ctx.info.namespace)
    rv = ctx.request.param("resourceVersion") or ""
    token = ctx.request.param("continue") or ""
    revision, start = 0, prefix
    if token:
        if rv not in ("", "0"):
            return Step(
                state=state,
                commands=(
                    _respond(
                        rid,
                        bad_request(
                            "specifying resource version is not allowed when using continue"
                        ),
                    ),
                ),
            )
        decoded = decode_continue(token)
        if isinstance(decoded, Status):
            return Step(state=state, commands=(_respond(rid, decoded),))
        revision, suffix = decoded
        start = prefix + suffix
    elif rv and not rv.isdigit():
        return Step(
            state=state, commands=(_respond(rid, bad_request(f"invalid resource version: {rv}")),)
        )
    elif rv == "0" or (rv and not limit and int(rv) <= state.cache.revision):
        items = [(key, obj.value) for key, obj in cache_ops.objects_under(state.cache, prefix)]
        response = list_response(ctx, items, state.cache.revision, prefix, limit)
        return Step(state=state, commands=(Respond(request_id=rid, response=response),))
    elif rv and limit:
        revision = int(rv)
    request = RangeRequest(key=start.encode(), range_end=_prefix_end(prefix), revision=revision)
    pending = Pending(
        request_id=rid,
        request=ctx.request,
        entropy=ctx.entropy,
        info=ctx.info,
        resource=ctx.resource,
        stage="list",
        prefix=prefix,
        limit=limit,
    )
    return _pending_op(
        state, pending, StorageRange(operation_id=state.next_operation, request=request)
    )


def _start_watch(state: ApiServerState, ctx: Context, rid: int) -> ApiStep:
    filter_ = parse_filter(ctx)
    if isinstance(filter_, Status):
        return Step(state=state, commands=(_respond(rid, filter_),))
    rv = ctx.request.param("resourceVersion") or ""
    if rv and not rv.isdigit():
        return Step(
            state=state, commands=(_respond(rid, bad_request(f"invalid resource version: {rv}")),)
        )
    timeout_text = ctx.request.param("timeoutSeconds") or ""
    deadline = ctx.entropy.now_seconds + int(timeout_text) if timeout_text.isdigit() else 0
    prefix = collection_prefix(ctx.resource, ctx.info.namespace)
    if ctx.info.name:
        prefix = object_key(ctx.resource, ctx.info.namespace, ctx.info.name)
    watcher = Watcher(
        watch_id=rid,
        prefix=prefix,
        filter=filter_,
        kind=ctx.resource.kind,
        api_version=ctx.resource.group_version,
        start_revision=state.cache.revision if rv in ("", "0") else int(rv),
        bookmarks=ctx.request.param("allowWatchBookmarks") in ("true", "1"),
        deadline_seconds=deadline,
        bookmarked_revision=state.cache.revision if rv in ("", "0") else int(rv),
        next_bookmark_seconds=ctx.entropy.now_seconds + ctx.config.bookmark_interval_seconds,
    )
    commands: list[ApiServerCommand] = [StartWatch(request_id=rid, content_type="application/json")]
    if rv in ("", "0"):
        commands += [
            SendWatch(watch_id=rid, line=line) for line in initial_lines(watcher, state.cache)
        ]
    else:
        changes = (
            cache_ops.changes_since(state.cache, int(rv), prefix)
            if int(rv) <= state.cache.revision
            else ()
        )
        if changes is None:
            message = f"too old resource version: {rv} ({state.cache.window_start})"
            commands += [
                SendWatch(watch_id=rid, line=error_line(expired(message))),
                EndWatch(watch_id=rid),
            ]
            return Step(state=state, commands=tuple(commands))
        commands += fan_out([watcher], changes)
    return Step(
        state=msgspec.structs.replace(state, watchers=state.watchers.set(rid, watcher)),
        commands=tuple(commands),
    )


# Writes --------------------------------------------------------------------------------------


_DECIDERS: Final = {
    ("create", ""): decide_create,
    ("create", "binding"): decide_binding,
    ("create", "eviction"): decide_eviction,
    ("update", ""): decide_update,
    ("update", "status"): decide_update,
    ("update", "scale"): decide_scale,
    ("update", "finalize"): decide_finalize,
    ("patch", ""): decide_patch,
    ("patch", "status"): decide_patch,
    ("patch", "scale"): decide_scale,
    ("delete", ""): decide_delete,
}


def _decide(ctx: Context, current: Current | None) -> Decision:
    decider = _DECIDERS.get((ctx.info.verb, ctx.info.subresource))
    if decider is None:
        return Reply(
            response=status_response(
                method_not_allowed(
                    "the server does not allow this method on the requested resource"
                )
            )
        )
    return decider(ctx, current)


def _start_write(state: ApiServerState, ctx: Context, rid: int) -> ApiStep:
    key = object_key(ctx.resource, ctx.info.namespace, ctx.info.name) if ctx.info.name else ""
    current = _cached_current(state, key) if key else None
    pending = Pending(
        request_id=rid,
        request=ctx.request,
        entropy=ctx.entropy,
        info=ctx.info,
        resource=ctx.resource,
        stage="current",
        key=key,
    )
    return _continue_write(state, ctx, pending, current)


def _continue_write(
    state: ApiServerState, ctx: Context, pending: Pending, current: Current | None
) -> ApiStep:
    decision = _decide(ctx, current)
    if isinstance(decision, Reply):
        stale = pending.key and not pending.from_store and decision.response.status >= 400
        if stale and ctx.info.verb != "create":
            return _pending_op(
                state,
                msgspec.structs.replace(pending, stage="current"),
                _range(state.next_operation, pending.key),
            )
        return Step(
            state=state,
            commands=(Respond(request_id=pending.request_id, response=decision.response),),
        )
    if not decision.writes:
        return Step(
            state=state,
            commands=(
                Respond(
                    request_id=pending.request_id,
                    response=json_response(decision.code, decision.body, decision.warnings),
                ),
            ),
        )
    txn = _transaction(decision.writes)
    committing = msgspec.structs.replace(
        pending, stage="commit", write=decision, key=decision.writes[0].key
    )
    return _pending_op(
        state, committing, StorageTxn(operation_id=state.next_operation, request=txn)
    )


def _transaction(writes: tuple[KeyWrite, ...]) -> TxnRequest:
    compares = tuple(
        Compare(key=w.key.encode(), target="MOD", result="EQUAL", mod_revision=w.expected)
        for w in writes
    )
    success = tuple(
        PutRequest(key=w.key.encode(), value=w.value)
        if w.value is not None
        else DeleteRangeRequest(key=w.key.encode())
        for w in writes
    )
    failure_ops = tuple(RangeRequest(key=w.key.encode()) for w in writes)
    return TxnRequest(compare=compares, success=success, failure=failure_ops)


# Store answers -------------------------------------------------------------------------------


def _on_storage(config: Config, state: ApiServerState, event: StorageReplied) -> ApiStep:
    if event.operation_id == LOAD_OPERATION:
        return _on_load(state, event)
    pending = state.pending.get(event.operation_id)
    if pending is None:
        return Step(state=state)
    state = msgspec.structs.replace(state, pending=state.pending.delete(event.operation_id))
    result = event.result
    if isinstance(result, StorageUnavailable | EtcdError):
        return _storage_failure(pending, state, result)
    ctx = _context(
        config,
        state,
        pending.info,
        pending.resource,
        pending.request,
        pending.entropy,
        pending.attempt,
    )
    if pending.stage in ("get", "scale") and isinstance(result, RangeResponse):
        current = _current_from(result)
        return Step(
            state=state,
            commands=(
                Respond(
                    request_id=pending.request_id,
                    response=_get_answer(ctx, pending.stage, current),
                ),
            ),
        )
    if pending.stage == "list" and isinstance(result, RangeResponse):
        revision = (
            result.header.revision
            if not pending.request.param("continue")
            and not (pending.request.param("resourceVersion") or "").isdigit()
            else _list_revision(pending, result)
        )
        items = [
            (kv.key.decode(), with_resource_version(kv.value, kv.mod_revision)) for kv in result.kvs
        ]
        return Step(
            state=state,
            commands=(
                Respond(
                    request_id=pending.request_id,
                    response=list_response(ctx, items, revision, pending.prefix, pending.limit),
                ),
            ),
        )
    if pending.stage == "current" and isinstance(result, RangeResponse):
        fetched = msgspec.structs.replace(pending, from_store=True)
        return _continue_write(state, ctx, fetched, _current_from(result))
    if pending.stage == "commit" and isinstance(result, TxnResponse):
        return _on_commit(config, state, ctx, pending, result)
    return Step(
        state=state,
        commands=(_respond(pending.request_id, internal_error("unexpected storage answer")),),
    )


def _list_revision(pending: Pending, result: RangeResponse) -> int:
    token = pending.request.param("continue")
    if token:
        decoded = decode_continue(token)
        if not isinstance(decoded, Status):
            return decoded[0]
    rv = pending.request.param("resourceVersion") or ""
    return int(rv) if rv.isdigit() and rv != "0" else result.header.revision


def _current_from(result: RangeResponse) -> Current | None:
    if not result.kvs:
        return None
    kv = result.kvs[0]
    return Current(decode(with_resource_version(kv.value, kv.mod_revision)), kv.mod_revision)


def _storage_failure(
    pending: Pending, state: ApiServerState, error: StorageUnavailable | EtcdError
) -> ApiStep:
    if isinstance(error, EtcdError) and "compacted" in error.message:
        status = (
            expired_continue()
            if pending.stage == "list"
            else expired(f"too old resource version: {pending.request.param('resourceVersion')}")
        )
    elif isinstance(error, StorageUnavailable):
        status = (
            timeout(f"storage unavailable: {error.reason}")
            if pending.stage == "commit"
            else unavailable(f"storage unavailable: {error.reason}")
        )
    else:
        status = internal_error(error.message)
    return Step(state=state, commands=(_respond(pending.request_id, status),))


def _on_commit(
    config: Config, state: ApiServerState, ctx: Context, pending: Pending, result: TxnResponse
) -> ApiStep:
    write = pending.write
    assert write is not None
    if not result.succeeded:
        if pending.attempt + 1 >= config.max_update_attempts:
            return Step(
                state=state,
                commands=(
                    _respond(
                        pending.request_id,
                        conflict(
                            ctx.resource.qualified, ctx.info.name, "too many conflicting updates"
                        ),
                    ),
                ),
            )
        first = result.responses[0] if result.responses else None
        current = _current_from(first) if isinstance(first, RangeResponse) else None
        retry = msgspec.structs.replace(
            pending, attempt=pending.attempt + 1, stage="current", from_store=True
        )
        retry_ctx = msgspec.structs.replace(ctx, attempt=pending.attempt + 1)
        return _continue_write(state, retry_ctx, retry, current)
    revision = result.header.revision
    first_write = write.writes[0]
    if write.answer == "object" and first_write.value is not None:
        body = with_resource_version(first_write.value, revision)
    elif write.answer == "scale" and first_write.value is not None:
        committed = Current(decode(with_resource_version(first_write.value, revision)), revision)
        body = encode(scale_of(ctx, committed))
    else:
        body = write.body
    return Step(
        state=state,
        commands=(
            Respond(
                request_id=pending.request_id,
                response=json_response(write.code, body, write.warnings),
            ),
        ),
    )


# The store's watch ---------------------------------------------------------------------------


def _on_load(state: ApiServerState, event: StorageReplied) -> ApiStep:
    result = event.result
    if not isinstance(result, RangeResponse):
        load = StorageRange(
            operation_id=LOAD_OPERATION,
            request=RangeRequest(key=REGISTRY_ROOT.encode(), range_end=_prefix_end(REGISTRY_ROOT)),
        )
        return Step(state=state, commands=(load,))
    cache = cache_ops.load(state.cache, result.kvs, result.header.revision)
    catalog = rebuild(
        [(key, value.value) for key, value in cache_ops.objects_under(cache, CRD_PREFIX)]
    )
    watch = StorageWatch(prefix=REGISTRY_ROOT.encode(), start_revision=result.header.revision + 1)
    return Step(
        state=msgspec.structs.replace(state, cache=cache, catalog=catalog), commands=(watch,)
    )


def _on_store_events(state: ApiServerState, event: StorageEvents) -> ApiStep:
    cache, changes = cache_ops.apply(state.cache, event.events, event.revision)
    catalog = state.catalog
    if any(change.key.startswith(CRD_PREFIX) for change in changes):
        catalog = rebuild(
            [(key, value.value) for key, value in cache_ops.objects_under(cache, CRD_PREFIX)]
        )
    watchers = [state.watchers[key] for key in sorted(state.watchers.keys())]
    sends = fan_out(watchers, changes)
    return Step(
        state=msgspec.structs.replace(state, cache=cache, catalog=catalog), commands=tuple(sends)
    )


def _on_watch_lost(config: Config, state: ApiServerState) -> ApiStep:
    ends = tuple(EndWatch(watch_id=watch_id) for watch_id in sorted(state.watchers.keys()))
    fresh = init(config)
    kept = msgspec.structs.replace(
        fresh.state,
        pending=state.pending,
        next_operation=state.next_operation,
        catalog=state.catalog,
    )
    return Step(state=kept, commands=(*ends, *fresh.commands))


def _on_tick(config: Config, state: ApiServerState, event: Tick) -> ApiStep:
    """End watches past their timeout; send due bookmarks (about once a minute per watcher, as
    kube's cacher does, and only when the revision moved)."""
    commands: list[ApiServerCommand] = []
    watchers = state.watchers
    for watch_id in sorted(state.watchers.keys()):
        watcher = state.watchers[watch_id]
        if watcher.deadline_seconds and event.now_seconds >= watcher.deadline_seconds:
            commands.append(EndWatch(watch_id=watch_id))
            watchers = watchers.delete(watch_id)
        elif (
            watcher.bookmarks
            and event.now_seconds >= watcher.next_bookmark_seconds
            and state.cache.revision > watcher.bookmarked_revision
        ):
            commands.append(
                SendWatch(watch_id=watch_id, line=bookmark_line(watcher, state.cache.revision))
            )
            watchers = watchers.set(
                watch_id,
                msgspec.structs.replace(
                    watcher,
                    bookmarked_revision=state.cache.revision,
                    next_bookmark_seconds=event.now_seconds + config.bookmark_interval_seconds,
                ),
            )
    return Step(
        state=msgspec.structs.replace(state, watchers=watchers, now_seconds=event.now_seconds),
        commands=tuple(commands),
    )
