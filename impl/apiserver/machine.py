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
catalog of custom resources, RBAC changes the RBAC index. A request that came over the secure
port (``credentials`` set) is authenticated and authorized first (``guard``); the review APIs
(access, rules, self) are answered without storage.
"""

from __future__ import annotations

import msgspec

from impl.apiserver import cache as cache_ops
from impl.apiserver.authn import authenticate, bearer_token
from impl.apiserver.authz import attributes_of, authorize, forbidden
from impl.apiserver.cache import WatchCache
from impl.apiserver.catalog import CRD_PREFIX, find, rebuild
from impl.apiserver.context import (
    Config,
)
from impl.apiserver.delete_collection import absorb, on_listed, start_delete_collection
from impl.apiserver.discovery import non_resource_response
from impl.apiserver.impersonation import impersonate
from impl.apiserver.objects import decode
from impl.apiserver.quota import POLICY_PREFIXES
from impl.apiserver.rbac import RBAC_PREFIXES, RbacIndex, build_index
from impl.apiserver.read_requests import (
    read_answer,
    start_get,
    start_list,
    start_watch,
)
from impl.apiserver.reads import (
    expired_continue,
)
from impl.apiserver.reviews import is_review, review_response
from impl.apiserver.routing import RequestInfo, request_info
from impl.apiserver.service_tokens import looks_like_jwt, token_user
from impl.apiserver.state import (
    LOAD_OPERATION,
    ApiServerState,
    ApiStep,
    Pending,
    context,
    current_from,
    prefix_end,
    respond,
)
from impl.apiserver.watches import bookmark_line, fan_out
from impl.apiserver.write_requests import continue_write, on_commit, on_namespace, start_write
from models.apiserver.auth import UserInfo
from models.apiserver.messages import (
    ApiRequest,
    ApiServerCommand,
    ApiServerEvent,
    EndWatch,
    RequestReceived,
    Respond,
    SendWatch,
    StorageEvents,
    StorageRange,
    StorageReplied,
    StorageUnavailable,
    StorageWatch,
    StorageWatchLost,
    Tick,
    WatchClosed,
)
from models.apiserver.resources import REGISTRY_ROOT, Resource
from models.apiserver.status import (
    expired,
    failure,
    internal_error,
    method_not_allowed,
    timeout,
    unavailable,
)
from models.etcd import (
    EtcdError,
    RangeRequest,
    RangeResponse,
    TxnResponse,
)
from models.k8s.meta_ops import Status
from models.step import Step


def init(config: Config) -> ApiStep:
    state = ApiServerState(cache=WatchCache(capacity=config.watch_cache_capacity))
    load = StorageRange(
        operation_id=LOAD_OPERATION,
        request=RangeRequest(key=REGISTRY_ROOT.encode(), range_end=prefix_end(REGISTRY_ROOT)),
    )
    return Step(state=state, commands=(load,))


def guard(
    config: Config, state: ApiServerState, info: RequestInfo, request: ApiRequest
) -> ApiRequest | Status:
    """Authenticate and authorize a secure-port request: the request with its user, or the 401
    or 403 answer. Requests without credentials (insecure port, the server's own) pass."""
    if request.credentials is None:
        return request
    user = authenticate(
        config.auth, request.credentials, _service_account_user(config, state, request)
    )
    if isinstance(user, Status):
        return user
    user = impersonate(config.auth, state.rbac, user, request.credentials)
    if isinstance(user, Status):
        return user
    attributes = attributes_of(user, info, request.param("fieldSelector") or "")
    verdict = authorize(config.auth, state.rbac, attributes, state.cache)
    if not verdict.allowed:
        return forbidden(attributes, verdict.reason)
    return msgspec.structs.replace(request, user=user)


def _service_account_user(
    config: Config, state: ApiServerState, request: ApiRequest
) -> UserInfo | None:
    """Who a ServiceAccount token in the request authenticates as, if anyone."""
    token = bearer_token(request.credentials.authorization if request.credentials else None)
    if token is None or not looks_like_jwt(token) or not config.auth.service_account_signing_key:
        return None

    def account_uid(namespace: str, name: str) -> str | None:
        cached = state.cache.objects.get(f"/registry/serviceaccounts/{namespace}/{name}")
        if cached is None:
            return None
        uid = (decode(cached.value).get("metadata") or {}).get("uid")
        return uid if isinstance(uid, str) else None

    return token_user(config.auth, token, state.now_seconds, account_uid)


def on_event(config: Config, state: ApiServerState, event: ApiServerEvent) -> ApiStep:
    match event:
        case RequestReceived():
            return _on_request(config, state, event)
        case StorageReplied():
            owner = state.pending.get(event.operation_id)
            step = _on_storage(config, state, event)
            if owner is not None and owner.collection is not None:
                return absorb(config, step, owner)
            return step
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


def _on_request(config: Config, state: ApiServerState, event: RequestReceived) -> ApiStep:
    request, rid = event.request, event.request_id
    state = msgspec.structs.replace(
        state, now_seconds=max(state.now_seconds, event.entropy.now_seconds)
    )
    info = request_info(request)
    guarded = guard(config, state, info, request)
    if isinstance(guarded, Status):
        return Step(state=state, commands=(respond(rid, guarded),))
    request = guarded
    if not info.is_resource:
        response = non_resource_response(config, state.cache, state.catalog, request, info)
        return Step(state=state, commands=(Respond(request_id=rid, response=response),))
    if not state.cache.loaded:
        return Step(
            state=state,
            commands=(
                respond(rid, unavailable("the server is starting: the watch cache is not ready")),
            ),
        )
    if is_review(info):
        response = review_response(config.auth, state.rbac, request, info, state.cache)
        return Step(state=state, commands=(Respond(request_id=rid, response=response),))
    resource = find(state.catalog, info.group, info.version, info.resource)
    if resource is None:
        return Step(
            state=state,
            commands=(
                respond(
                    rid,
                    failure(404, "NotFound", "the server could not find the requested resource"),
                ),
            ),
        )
    refused = _check_verb(resource, info)
    if refused is not None:
        return Step(state=state, commands=(respond(rid, refused),))
    ctx = context(config, state, info, resource, request, event.entropy)
    if info.verb == "watch":
        return start_watch(state, ctx, rid)
    if info.verb == "list":
        return start_list(state, ctx, rid)
    if info.verb == "get":
        return start_get(state, ctx, rid)
    if info.verb == "deletecollection":
        return start_delete_collection(config, state, ctx, rid)
    return start_write(state, ctx, rid)


def _check_verb(resource: Resource, info: RequestInfo) -> Status | None:
    if info.subresource:
        sub = resource.subresource(info.subresource)
        allowed = sub.verbs if sub is not None else ()
        if sub is None:
            return failure(404, "NotFound", "the server could not find the requested resource")
    else:
        allowed = resource.verbs
    item_verb_on_collection = info.verb in ("update", "patch") and not info.name
    if (
        info.verb not in allowed
        or (info.verb in ("create",) and info.name and not info.subresource)
        or item_verb_on_collection
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
    ctx = context(
        config,
        state,
        pending.info,
        pending.resource,
        pending.request,
        pending.entropy,
        pending.attempt,
    )
    if pending.stage in ("get", "scale", "list") and isinstance(result, RangeResponse):
        response = read_answer(ctx, pending, result)
        return Step(
            state=state, commands=(Respond(request_id=pending.request_id, response=response),)
        )
    if pending.stage == "namespace" and isinstance(result, RangeResponse):
        return on_namespace(state, ctx, pending, result)
    if pending.stage == "collect" and isinstance(result, RangeResponse):
        return on_listed(config, state, ctx, pending, result)
    if pending.stage == "current" and isinstance(result, RangeResponse):
        fetched = msgspec.structs.replace(pending, from_store=True)
        return continue_write(state, ctx, fetched, current_from(result))
    if pending.stage == "commit" and isinstance(result, TxnResponse):
        return on_commit(config, state, ctx, pending, result)
    return Step(
        state=state,
        commands=(respond(pending.request_id, internal_error("unexpected storage answer")),),
    )


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
    return Step(state=state, commands=(respond(pending.request_id, status),))


def _on_load(state: ApiServerState, event: StorageReplied) -> ApiStep:
    result = event.result
    if not isinstance(result, RangeResponse):
        load = StorageRange(
            operation_id=LOAD_OPERATION,
            request=RangeRequest(key=REGISTRY_ROOT.encode(), range_end=prefix_end(REGISTRY_ROOT)),
        )
        return Step(state=state, commands=(load,))
    cache = cache_ops.load(state.cache, result.kvs, result.header.revision)
    catalog = rebuild(
        [(key, value.value) for key, value in cache_ops.objects_under(cache, CRD_PREFIX)]
    )
    watch = StorageWatch(prefix=REGISTRY_ROOT.encode(), start_revision=result.header.revision + 1)
    return Step(
        state=msgspec.structs.replace(
            state,
            cache=cache,
            catalog=catalog,
            rbac=_rbac(cache),
            policy_namespaces=_policy_namespaces(cache),
        ),
        commands=(watch,),
    )


def _policy_namespaces(cache: WatchCache) -> frozenset[str]:
    return frozenset(
        key.split("/")[3]
        for prefix in POLICY_PREFIXES
        for key, _ in cache_ops.objects_under(cache, prefix)
    )


def _rbac(cache: WatchCache) -> RbacIndex:
    return build_index(
        (key, value.value)
        for prefix in RBAC_PREFIXES
        for key, value in cache_ops.objects_under(cache, prefix)
    )


def _on_store_events(state: ApiServerState, event: StorageEvents) -> ApiStep:
    cache, changes = cache_ops.apply(state.cache, event.events, event.revision)
    catalog = state.catalog
    if any(change.key.startswith(CRD_PREFIX) for change in changes):
        catalog = rebuild(
            [(key, value.value) for key, value in cache_ops.objects_under(cache, CRD_PREFIX)]
        )
    rbac = state.rbac
    if any(change.key.startswith(RBAC_PREFIXES) for change in changes):
        rbac = _rbac(cache)
    policy_namespaces = state.policy_namespaces
    if any(change.key.startswith(POLICY_PREFIXES) for change in changes):
        policy_namespaces = _policy_namespaces(cache)
    watchers = [state.watchers[key] for key in sorted(state.watchers.keys())]
    sends, moved = fan_out(watchers, changes, state.now_seconds)
    registered = state.watchers
    for watcher in moved:
        registered = registered.set(watcher.watch_id, watcher)
    return Step(
        state=msgspec.structs.replace(
            state,
            cache=cache,
            catalog=catalog,
            rbac=rbac,
            policy_namespaces=policy_namespaces,
            watchers=registered,
        ),
        commands=tuple(sends),
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
