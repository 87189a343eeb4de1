"""Writes (create, update, patch, delete and the subresources): decided against the cached object,
committed as one etcd transaction guarded by the key's ``mod_revision``, decided again against
the store's object when the guard fails or a refusal may come from a stale cache (kube's
``GuaranteedUpdate`` loop)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

import msgspec

from impl.apiserver.admission_policy import BINDING_PREFIX, POLICY_PREFIX, selector_matches
from impl.apiserver.admission_policy import Request as PolicyRequest
from impl.apiserver.admission_policy import admit as admit_policies
from impl.apiserver.authz import forbidden_status
from impl.apiserver.bodies import parse_body
from impl.apiserver.cache import CachedObject, WatchCache, objects_under
from impl.apiserver.catalog import all_resources
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
from impl.apiserver.escalation import RBAC_GROUP, check_write
from impl.apiserver.node_authz import node_name
from impl.apiserver.node_restriction import Write as RestrictedWrite
from impl.apiserver.node_restriction import admit as admit_node_write
from impl.apiserver.node_restriction import token_refusal
from impl.apiserver.objects import decode, encode, metadata, with_resource_version
from impl.apiserver.patching import decide_patch
from impl.apiserver.quota_admission import release as release_quota
from impl.apiserver.service_ranges import range_writes
from impl.apiserver.service_tokens import decide_token
from impl.apiserver.state import (
    ApiServerState,
    ApiStep,
    Pending,
    cached_current,
    current_from,
    pending_op,
    range_command,
    respond,
)
from impl.apiserver.subresources import (
    decide_binding,
    decide_eviction,
    decide_finalize,
    decide_scale,
    scale_of,
)
from impl.apiserver.writes import Current, decide_create, decide_update
from models.apiserver.messages import (
    ApiResponse,
    Respond,
    StorageTxn,
)
from models.apiserver.resources import object_key
from models.apiserver.status import (
    conflict,
    method_not_allowed,
)
from models.etcd import (
    Compare,
    DeleteRangeRequest,
    PutRequest,
    RangeRequest,
    RangeResponse,
    TxnRequest,
    TxnResponse,
)
from models.k8s.meta_ops import Status
from models.step import Step

Json = dict[str, Any]

Decider = Callable[[Context, Current | None], Decision]

DECIDERS: Final[Mapping[tuple[str, str], Decider]] = {
    ("create", ""): decide_create,
    ("create", "binding"): decide_binding,
    ("create", "eviction"): decide_eviction,
    ("create", "token"): decide_token,
    ("update", ""): decide_update,
    ("update", "status"): decide_update,
    ("update", "scale"): decide_scale,
    ("update", "finalize"): decide_finalize,
    ("patch", ""): decide_patch,
    ("patch", "status"): decide_patch,
    ("patch", "scale"): decide_scale,
    ("delete", ""): decide_delete,
}


def decide(ctx: Context, current: Current | None) -> Decision:
    decider = DECIDERS.get((ctx.info.verb, ctx.info.subresource))
    if decider is None:
        return Reply(
            response=status_response(
                method_not_allowed(
                    "the server does not allow this method on the requested resource"
                )
            )
        )
    user = ctx.request.user
    restricted = user is not None and "NodeRestriction" in ctx.config.admission_plugins
    if restricted and (ctx.resource.resource, ctx.info.subresource) == ("serviceaccounts", "token"):
        refused = _node_token_refusal(ctx)
        if refused is not None:
            return Reply(response=status_response(refused))
    decision = decider(ctx, current)
    if restricted and isinstance(decision, Write):
        refused = _node_restriction(ctx, current, decision)
        if refused is not None:
            return Reply(response=status_response(refused))
    if isinstance(decision, Write) and ctx.info.subresource in ("", "status"):
        decision = _admission_policies(ctx, current, decision)
        if not isinstance(decision, Write):
            return decision
    if (
        isinstance(decision, Write)
        and ctx.info.verb == "delete"
        and decision.writes
        and decision.writes[0].value is None
    ):
        released = release_quota(ctx, decision.writes[0].key)
        if released:
            decision = msgspec.structs.replace(decision, writes=(*decision.writes, *released))
    if (
        isinstance(decision, Write)
        and ctx.resource.kind == "Service"
        and current is not None
        and decision.writes
        and decision.writes[0].value is None
    ):
        # the Service leaves the store: its address and node ports go back to the ranges
        freed = range_writes(ctx.cache, ctx.config.service_cluster_ip_range, current.obj, None)
        decision = msgspec.structs.replace(decision, writes=(*decision.writes, *freed))
    if (
        isinstance(decision, Write)
        and user is not None
        and ctx.resource.group == RBAC_GROUP
        and ctx.info.verb in ("create", "update", "patch")
        and decision.writes
        and decision.writes[0].value is not None
    ):
        refused = check_write(
            ctx.config.auth,
            ctx.rbac,
            user,
            ctx.resource.resource,
            ctx.info.namespace,
            decode(decision.writes[0].value),
        )
        if refused is not None:
            return Reply(response=status_response(refused))
    return decision


_OPERATIONS: Final = {"create": "CREATE", "update": "UPDATE", "patch": "UPDATE"}


def _node_restriction(ctx: Context, current: Current | None, decision: Write) -> Status | None:
    """NodeRestriction on a write a node may make, with the object as it would be stored."""
    assert ctx.request.user is not None
    operation = _OPERATIONS.get(ctx.info.verb, "DELETE")
    if ctx.info.subresource == "eviction":
        operation = "CREATE"
    new: Json | None = None
    if operation != "DELETE" and decision.writes and decision.writes[0].value is not None:
        new = decode(decision.writes[0].value)
    elif operation != "DELETE" and decision.body is not None and ctx.info.subresource != "eviction":
        new = decode(decision.body)  # an update that changes nothing answers the object

    def node_uid(name: str) -> str | None:
        cached = ctx.cache.objects.get(f"/registry/minions/{name}")
        uid = metadata(decode(cached.value)).get("uid") if cached is not None else None
        return uid if isinstance(uid, str) else None

    write = RestrictedWrite(
        operation=operation,
        group=ctx.resource.group,
        resource=ctx.resource.resource,
        sub=ctx.info.subresource,
        namespace=ctx.info.namespace,
        name=ctx.info.name,
        old=current.obj if current is not None else None,
        new=new,
    )
    return admit_node_write(ctx.request.user, write, node_uid)


def _admission_policies(ctx: Context, current: Current | None, decision: Write) -> Decision:
    """ValidatingAdmissionPolicy on a write, with the object as it would be stored: the
    refusal, or the write with the policies' warnings added."""
    bindings = objects_under(ctx.cache, BINDING_PREFIX)
    if not bindings:
        return decision
    operation = _OPERATIONS.get(ctx.info.verb, "DELETE")
    new: Json | None = None
    if operation != "DELETE":
        if decision.writes and decision.writes[0].value is not None:
            new = decode(decision.writes[0].value)
        elif decision.body is not None:
            new = decode(decision.body)
    namespace = ctx.info.namespace
    cached_namespace = (
        ctx.cache.objects.get(f"/registry/namespaces/{namespace}") if namespace else None
    )
    user = ctx.request.user
    request = PolicyRequest(
        operation=operation,
        group=ctx.resource.group,
        version=ctx.resource.version,
        resource=ctx.resource.resource,
        subresource=ctx.info.subresource,
        kind=ctx.resource.kind,
        namespaced=ctx.resource.namespaced,
        namespace=namespace,
        name=ctx.info.name or (str(metadata(new).get("name") or "") if new else ""),
        new=new,
        old=current.obj if current is not None else None,
        namespace_object=decode(cached_namespace.value) if cached_namespace else None,
        user={"username": user.name, "uid": user.uid, "groups": list(user.groups)}
        if user is not None
        else {},
    )

    def params(api_version: str, kind: str, namespace: str, key: Any) -> list[Json] | None:
        group, _, version = api_version.rpartition("/")
        resource = next(
            (
                r
                for r in all_resources(ctx.catalog)
                if (r.group, r.version, r.kind) == (group, version, kind)
            ),
            None,
        )
        if resource is None:
            return None
        where = namespace or (ctx.info.namespace if resource.namespaced else "")
        if isinstance(key, str):
            cached = ctx.cache.objects.get(object_key(resource, where, key))
            return [decode(cached.value)] if cached is not None else []
        prefix = f"{resource.key_prefix}/{where + '/' if where else ''}"
        found = [decode(c.value) for _, c in objects_under(ctx.cache, prefix)]
        return [o for o in found if selector_matches(key, metadata(o).get("labels") or {})]

    outcome = admit_policies(
        [decode(c.value) for _, c in objects_under(ctx.cache, POLICY_PREFIX)],
        [decode(c.value) for _, c in bindings],
        request,
        params,
        ctx.resource.qualified,
    )
    if outcome.refusal is not None:
        return Reply(response=status_response(outcome.refusal))
    if outcome.warnings:
        return msgspec.structs.replace(decision, warnings=(*decision.warnings, *outcome.warnings))
    return decision


def _node_token_refusal(ctx: Context) -> Status | None:
    """NodeRestriction on a node's TokenRequest: only for a pod bound to the node."""
    user = ctx.request.user
    assert user is not None
    node = node_name(user)
    if node is None:
        return None
    body = parse_body(ctx.request.body, ctx.request.content_type)
    if isinstance(body, Status):
        return None  # the decider answers the bad body

    def pod_of(namespace: str, name: str) -> Json | None:
        cached = ctx.cache.objects.get(f"/registry/pods/{namespace}/{name}")
        return decode(cached.value) if cached is not None else None

    why = (
        token_refusal(node, body, ctx.info.namespace, pod_of)
        if node
        else f'could not determine node from user "{user.name}"'
    )
    if why is None:
        return None
    return forbidden_status("serviceaccounts", "", "serviceaccounts", ctx.info.name, why)


def start_write(state: ApiServerState, ctx: Context, rid: int) -> ApiStep:
    key = object_key(ctx.resource, ctx.info.namespace, ctx.info.name) if ctx.info.name else ""
    current = cached_current(state, key) if key else None
    pending = Pending(
        request_id=rid,
        request=ctx.request,
        entropy=ctx.entropy,
        info=ctx.info,
        resource=ctx.resource,
        stage="current",
        key=key,
    )
    return continue_write(state, ctx, pending, current)


def continue_write(
    state: ApiServerState, ctx: Context, pending: Pending, current: Current | None
) -> ApiStep:
    decision = decide(ctx, current)
    if isinstance(decision, Reply) and _namespace_unseen(ctx, pending, decision):
        # NamespaceLifecycle looks a namespace its informer has not seen up in the store.
        key = f"/registry/namespaces/{ctx.info.namespace}"
        looking = msgspec.structs.replace(pending, stage="namespace", namespace_read=True)
        return pending_op(state, looking, range_command(state.next_operation, key))
    if isinstance(decision, Reply):
        stale = pending.key and not pending.from_store and decision.response.status >= 400
        if stale and ctx.info.verb != "create":
            return pending_op(
                state,
                msgspec.structs.replace(pending, stage="current"),
                range_command(state.next_operation, pending.key),
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
    if ctx.request.param("dryRun") == "All":
        return Step(
            state=state,
            commands=(Respond(request_id=pending.request_id, response=_dry_run(ctx, decision)),),
        )
    txn = transaction(decision.writes)
    committing = msgspec.structs.replace(
        pending, stage="commit", write=decision, key=decision.writes[0].key
    )
    return pending_op(state, committing, StorageTxn(operation_id=state.next_operation, request=txn))


def _dry_run(ctx: Context, decision: Write) -> ApiResponse:
    """``dryRun=All`` (``kubectl --dry-run=server``): the answer the write would give, with its
    warnings, and nothing committed. A created object has no resourceVersion yet; a changed
    one keeps the stored object's."""
    first = decision.writes[0]
    if decision.answer == "body" or first.value is None:
        body = decision.body
    elif decision.answer == "scale":
        body = encode(scale_of(ctx, Current(decode(first.value), first.expected)))
    elif first.expected:
        body = with_resource_version(first.value, first.expected)
    else:
        body = first.value
    return json_response(decision.code, body, decision.warnings)


def _namespace_unseen(ctx: Context, pending: Pending, decision: Reply) -> bool:
    """A create refused because the watch cache does not hold its namespace (yet)."""
    return (
        ctx.info.verb == "create"
        and not ctx.info.subresource
        and decision.response.status == 404
        and ctx.resource.namespaced
        and not pending.namespace_read
        and f"/registry/namespaces/{ctx.info.namespace}" not in ctx.cache.objects
    )


def on_namespace(
    state: ApiServerState, ctx: Context, pending: Pending, result: RangeResponse
) -> ApiStep:
    """Decide the create again, with the namespace as the store has it (or still absent)."""
    if result.kvs:
        kv = result.kvs[0]
        seen = CachedObject(
            value=with_resource_version(kv.value, kv.mod_revision),
            mod_revision=kv.mod_revision,
            create_revision=kv.create_revision,
        )
        objects = ctx.cache.objects.set(kv.key.decode(), seen)
        ctx = msgspec.structs.replace(
            ctx, cache=msgspec.structs.replace(ctx.cache, objects=objects)
        )
    again = msgspec.structs.replace(pending, stage="current")
    return continue_write(
        state, ctx, again, cached_current(state, pending.key) if pending.key else None
    )


def transaction(writes: tuple[KeyWrite, ...]) -> TxnRequest:
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


def _refreshed(ctx: Context, writes: tuple[KeyWrite, ...], result: TxnResponse) -> WatchCache:
    """The decision's cache with the other keys of a failed transaction (a ResourceQuota whose
    usage the write charged) as the store holds them, so the retry does not compare against a
    revision the watch has not delivered yet."""
    objects = ctx.cache.objects
    for write, answer in zip(writes[1:], result.responses[1:], strict=False):
        if not isinstance(answer, RangeResponse):
            continue
        if answer.kvs:
            kv = answer.kvs[0]
            objects = objects.set(
                write.key,
                CachedObject(
                    value=with_resource_version(kv.value, kv.mod_revision),
                    mod_revision=kv.mod_revision,
                    create_revision=kv.create_revision,
                ),
            )
        elif write.key in objects:
            objects = objects.delete(write.key)
    return msgspec.structs.replace(ctx.cache, objects=objects)


def on_commit(
    config: Config, state: ApiServerState, ctx: Context, pending: Pending, result: TxnResponse
) -> ApiStep:
    write = pending.write
    assert write is not None
    if not result.succeeded:
        if pending.attempt + 1 >= config.max_update_attempts:
            return Step(
                state=state,
                commands=(
                    respond(
                        pending.request_id,
                        conflict(
                            ctx.resource.qualified, ctx.info.name, "too many conflicting updates"
                        ),
                    ),
                ),
            )
        first = result.responses[0] if result.responses else None
        current = current_from(first) if isinstance(first, RangeResponse) else None
        retry = msgspec.structs.replace(
            pending, attempt=pending.attempt + 1, stage="current", from_store=True
        )
        retry_ctx = msgspec.structs.replace(
            ctx, attempt=pending.attempt + 1, cache=_refreshed(ctx, write.writes, result)
        )
        return continue_write(state, retry_ctx, retry, current)
    revision = result.header.revision
    first_write = write.writes[0]
    if write.then_delete and first_write.value is not None:
        removal = Write(
            writes=(
                KeyWrite(key=first_write.key, expected=revision, value=None),
                *release_quota(ctx, first_write.key),
            ),
            code=write.code,
            answer="body",
            body=write.body
            if write.answer == "body"
            else with_resource_version(first_write.value, revision),
        )
        removing = msgspec.structs.replace(pending, write=removal, attempt=0)
        return pending_op(
            state,
            removing,
            StorageTxn(operation_id=state.next_operation, request=transaction(removal.writes)),
        )
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
