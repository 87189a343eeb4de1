"""Get, list and watch requests: answered from the watch cache when the request allows a cached
answer (``resourceVersion=0``, a revision the cache has reached, every watch), else read from
the store (``resourceVersion`` unset: the latest state; a paged list: one revision for all
pages)."""

from __future__ import annotations

import msgspec

from impl.apiserver import cache as cache_ops
from impl.apiserver.context import (
    Context,
    status_response,
)
from impl.apiserver.objects import encode, with_resource_version
from impl.apiserver.reads import (
    decode_continue,
    item_response,
    list_response,
    parse_filter,
    parse_limit,
)
from impl.apiserver.state import (
    ApiServerState,
    ApiStep,
    Pending,
    Stage,
    cached_current,
    current_from,
    pending_op,
    prefix_end,
    range_command,
    respond,
)
from impl.apiserver.subresources import (
    get_scale,
)
from impl.apiserver.tables import wants_table
from impl.apiserver.watches import Printing, Watcher, error_line, fan_out, initial_lines
from impl.apiserver.writes import Current
from models.apiserver.messages import (
    ApiResponse,
    ApiServerCommand,
    EndWatch,
    Respond,
    SendWatch,
    StartWatch,
    StorageRange,
)
from models.apiserver.resources import collection_prefix, object_key
from models.apiserver.status import (
    bad_request,
    expired,
    not_found,
    too_large_resource_version,
)
from models.etcd import (
    RangeRequest,
    RangeResponse,
)
from models.k8s.meta_ops import Status
from models.step import Step


def start_get(state: ApiServerState, ctx: Context, rid: int) -> ApiStep:
    key = object_key(ctx.resource, ctx.info.namespace, ctx.info.name)
    rv = ctx.request.param("resourceVersion")
    stage: Stage = "scale" if ctx.info.subresource == "scale" else "get"
    if rv and rv.isdigit() and (rv == "0" or int(rv) <= state.cache.revision):
        current = cached_current(state, key)
        return Step(
            state=state,
            commands=(Respond(request_id=rid, response=get_answer(ctx, stage, current)),),
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
    return pending_op(state, pending, range_command(state.next_operation, key))


def get_answer(ctx: Context, stage: Stage, current: Current | None) -> ApiResponse:
    if stage == "scale":
        return get_scale(ctx, current).response
    if current is None:
        return status_response(not_found(ctx.resource.qualified, ctx.info.name))
    return item_response(ctx, encode(current.obj))


def start_list(state: ApiServerState, ctx: Context, rid: int) -> ApiStep:
    filter_ = parse_filter(ctx)
    limit = parse_limit(ctx)
    if isinstance(filter_, Status):
        return Step(state=state, commands=(respond(rid, filter_),))
    if isinstance(limit, Status):
        return Step(state=state, commands=(respond(rid, limit),))
    prefix = collection_prefix(ctx.resource, ctx.info.namespace)
    rv = ctx.request.param("resourceVersion") or ""
    token = ctx.request.param("continue") or ""
    revision, start = 0, prefix
    if token:
        if rv not in ("", "0"):
            return Step(
                state=state,
                commands=(
                    respond(
                        rid,
                        bad_request(
                            "specifying resource version is not allowed when using continue"
                        ),
                    ),
                ),
            )
        decoded = decode_continue(token)
        if isinstance(decoded, Status):
            return Step(state=state, commands=(respond(rid, decoded),))
        revision, suffix = decoded
        start = prefix + suffix
    elif rv and not rv.isdigit():
        return Step(
            state=state, commands=(respond(rid, bad_request(f"invalid resource version: {rv}")),)
        )
    elif rv == "0" or (rv and not limit and int(rv) <= state.cache.revision):
        items = [(key, obj.value) for key, obj in cache_ops.objects_under(state.cache, prefix)]
        response = list_response(ctx, items, state.cache.revision, prefix, limit)
        return Step(state=state, commands=(Respond(request_id=rid, response=response),))
    elif rv and limit:
        revision = int(rv)
    request = RangeRequest(key=start.encode(), range_end=prefix_end(prefix), revision=revision)
    pending = Pending(
        request_id=rid,
        request=ctx.request,
        entropy=ctx.entropy,
        info=ctx.info,
        resource=ctx.resource,
        stage="list",
        prefix=prefix,
        limit=limit,
        revision=revision,
    )
    return pending_op(
        state, pending, StorageRange(operation_id=state.next_operation, request=request)
    )


def start_watch(state: ApiServerState, ctx: Context, rid: int) -> ApiStep:
    filter_ = parse_filter(ctx)
    if isinstance(filter_, Status):
        return Step(state=state, commands=(respond(rid, filter_),))
    rv = ctx.request.param("resourceVersion") or ""
    if rv and not rv.isdigit():
        return Step(
            state=state, commands=(respond(rid, bad_request(f"invalid resource version: {rv}")),)
        )
    timeout_text = ctx.request.param("timeoutSeconds") or ""
    deadline = ctx.entropy.now_seconds + int(timeout_text) if timeout_text.isdigit() else 0
    prefix = collection_prefix(ctx.resource, ctx.info.namespace)
    printing = Printing(resource=ctx.resource, custom=ctx.custom)
    watcher = Watcher(
        table=printing if wants_table(ctx.request.accept) else None,
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
            SendWatch(watch_id=rid, line=line)
            for line in initial_lines(watcher, state.cache, ctx.entropy.now_seconds)
        ]
        if watcher.table is not None and len(commands) > 1:
            watcher = msgspec.structs.replace(watcher, headers_sent=True)
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
        sends, moved = fan_out([watcher], changes, ctx.entropy.now_seconds)
        commands += sends
        watcher = moved[0] if moved else watcher
    return Step(
        state=msgspec.structs.replace(state, watchers=state.watchers.set(rid, watcher)),
        commands=tuple(commands),
    )


def read_answer(ctx: Context, pending: Pending, result: RangeResponse) -> ApiResponse:
    """The answer to a get or list the store has read. A list is at the revision it asked for
    (a page of a paged list), else at the store's; one older than a ``resourceVersion`` the
    client has seen is kube's 504 "Too large resource version"."""
    if pending.stage in ("get", "scale"):
        return get_answer(ctx, pending.stage, current_from(result))
    revision = pending.revision or result.header.revision
    rv = pending.request.param("resourceVersion") or ""
    if rv.isdigit() and int(rv) > revision:
        return status_response(too_large_resource_version(int(rv), revision))
    items = [
        (kv.key.decode(), with_resource_version(kv.value, kv.mod_revision)) for kv in result.kvs
    ]
    return list_response(ctx, items, revision, pending.prefix, pending.limit)
