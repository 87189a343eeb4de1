"""DELETE on a collection (the ``deletecollection`` verb), as kube's ``Store.DeleteCollection``:
list the collection from the store (a consistent read), pick the objects the label and field
selectors match, delete each one with the request's DeleteOptions exactly as a DELETE of that
object would (finalizers, graceful deletion, propagation policy), skip objects already gone
(404), stop at the first other error and answer it; otherwise answer 200 with the list as it
was before the deletions.

The machine deletes the objects one after the other: each deletion is an ordinary write of the
request, and the answer it would send is taken here instead of being sent.
"""

from __future__ import annotations

import msgspec

from impl.apiserver.context import Config, Context
from impl.apiserver.objects import decode, meta_str, with_resource_version
from impl.apiserver.reads import list_response, parse_filter
from impl.apiserver.state import (
    ApiServerState,
    ApiStep,
    CollectionDelete,
    Pending,
    cached_current,
    context,
    pending_op,
    prefix_end,
    respond,
)
from impl.apiserver.write_requests import continue_write
from models.apiserver.messages import Respond, StorageRange
from models.apiserver.resources import collection_prefix, object_key
from models.etcd import RangeRequest, RangeResponse
from models.k8s.meta_ops import Status
from models.step import Step


def start_delete_collection(
    config: Config, state: ApiServerState, ctx: Context, rid: int
) -> ApiStep:
    """Read the collection from the store (a consistent list, as ``e.List`` with no
    resourceVersion: the watch cache may lag), then delete what the selectors pick."""
    del config
    filter_ = parse_filter(ctx)
    if isinstance(filter_, Status):
        return Step(state=state, commands=(respond(rid, filter_),))
    prefix = collection_prefix(ctx.resource, ctx.info.namespace)
    pending = Pending(
        request_id=rid,
        request=ctx.request,
        entropy=ctx.entropy,
        info=ctx.info,
        resource=ctx.resource,
        stage="collect",
        prefix=prefix,
    )
    request = RangeRequest(key=prefix.encode(), range_end=prefix_end(prefix))
    return pending_op(
        state, pending, StorageRange(operation_id=state.next_operation, request=request)
    )


def on_listed(
    config: Config, state: ApiServerState, ctx: Context, pending: Pending, result: RangeResponse
) -> ApiStep:
    """The store's list arrived: answer it later, delete its selected objects one by one."""
    filter_ = parse_filter(ctx)
    assert not isinstance(filter_, Status)
    items = [
        (kv.key.decode(), with_resource_version(kv.value, kv.mod_revision)) for kv in result.kvs
    ]
    answer = list_response(ctx, items, result.header.revision, pending.prefix, 0)
    selected = [obj for obj in (decode(value) for _, value in items) if filter_.matches(obj)]
    remaining = tuple((meta_str(obj, "namespace"), meta_str(obj, "name")) for obj in selected)
    owner = msgspec.structs.replace(
        pending, collection=CollectionDelete(remaining=remaining, answer=answer)
    )
    return _next(config, state, owner)


def _next(config: Config, state: ApiServerState, owner: Pending) -> ApiStep:
    collection = owner.collection
    assert collection is not None
    if not collection.remaining:
        return Step(
            state=state,
            commands=(Respond(request_id=owner.request_id, response=collection.answer),),
        )
    (namespace, name), rest = collection.remaining[0], collection.remaining[1:]
    info = msgspec.structs.replace(owner.info, verb="delete", namespace=namespace, name=name)
    key = object_key(owner.resource, namespace, name)
    pending = msgspec.structs.replace(
        owner,
        info=info,
        key=key,
        stage="current",
        attempt=0,
        from_store=False,
        write=None,
        collection=msgspec.structs.replace(collection, remaining=rest),
    )
    ctx = context(config, state, info, owner.resource, owner.request, owner.entropy)
    return absorb(config, continue_write(state, ctx, pending, cached_current(state, key)), pending)


def absorb(config: Config, step: ApiStep, owner: Pending) -> ApiStep:
    """Take the answer of one object's deletion out of ``step`` and go on with the next object;
    ``step`` unchanged while that deletion still waits on the store."""
    answers = [
        c for c in step.commands if isinstance(c, Respond) and c.request_id == owner.request_id
    ]
    if not answers:
        return step
    others = tuple(c for c in step.commands if c not in answers)
    response = answers[0].response
    if response.status >= 300 and response.status != 404:
        return Step(state=step.state, commands=(*others, answers[0]))
    following = _next(config, step.state, owner)
    return Step(state=following.state, commands=(*others, *following.commands))
