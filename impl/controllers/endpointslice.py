"""The EndpointSlice controller (``endpointslice-controller``): discovery.k8s.io/v1 slices of
at most ``--max-endpoints-per-slice`` (100) endpoints for every selecting Service.

Theory of operation (``pkg/controller/endpointslice`` and ``k8s.io/endpointslice``, v1.35).
Service events queue the Service, pod events the Services the pod belongs to (or belonged
to); a change to a slice labelled ``endpointslice.kubernetes.io/managed-by:
endpointslice-controller.k8s.io`` queues the Service its ``kubernetes.io/service-name`` label
names one second later, unless it is the controller's own write coming back (the slice
tracker knows the generation it wrote) or a deletion it expected. A sync of ``ns/name``:

1. no such Service: forget it (the garbage collector deletes its slices through their owner
   reference); ExternalName Services and Services without a selector are left alone;
2. the managed slices of the Service not being deleted are read from the cache; if the cache
   is older than a write the controller made (a slice it wrote at a newer generation, a slice
   it created that the cache lacks, one it deleted that the cache still has) the sync fails
   ("EndpointSlice informer cache is out of date") and is retried;
3. for each address type of the Service (its IP families) the reconciler
   (``endpointslice_reconcile``) turns every selected pod that is not terminal and has an IP
   into an endpoint (conditions ``serving`` = pod Ready, ``terminating`` = being deleted,
   ``ready`` = serving and not terminating, or ``publishNotReadyAddresses``; nodeName, the
   node's ``topology.kubernetes.io/zone``, hostname) grouped by the ports the pod offers, and
   plans creates, updates and deletes; a pod whose node is not in the cache is skipped and
   the sync ends in an error so that it is retried;
4. the calls go out one at a time, stopping at the first failure; each written slice carries
   ``endpoints.kubernetes.io/last-change-trigger-time`` when the trigger time is known; the
   tracker records each written slice's generation and each deletion.
"""

from __future__ import annotations

from typing import Any

import immutables
import msgspec

from impl.controllers import endpoints_util as eu
from impl.controllers import endpointslice_reconcile as rec
from impl.controllers.cache import Change, get, in_namespace, split_key
from impl.controllers.calls import create, decoded, delete, failure_text, plain, update
from impl.controllers.objects import deleting, labels, meta, uid
from impl.controllers.plan import (
    Context,
    ControllerDef,
    Outcome,
    Planned,
    Reaction,
    Reply,
    Watch,
)
from models.controllers.config import ControllerConfig
from models.controllers.resources import RESOURCES
from models.k8s.core.node import Node
from models.k8s.core.service import Service
from models.k8s.discovery import EndpointSlice

NAME = "endpointslice-controller"
SLICES = RESOURCES["endpointslices"]
MAX_RETRIES = 15
CHANGE_MIN_SYNC_DELAY_MS = 1000
DELETION_EXPECTED = -1
NAMESPACE_TERMINATING_CAUSE = "NamespaceTerminating"
STALE_CACHE = "EndpointSlice informer cache is out of date"

Generations = immutables.Map[str, int]


class SlicePrivate(msgspec.Struct, frozen=True, kw_only=True):
    """The trigger-time tracker and the slice tracker: per Service key, the generation of
    each slice (by UID) the controller wrote, or ``DELETION_EXPECTED``."""

    tracker: eu.TriggerTracker = msgspec.field(default_factory=eu.TriggerTracker)
    generations: immutables.Map[str, Generations] = msgspec.field(default_factory=immutables.Map)


class Writes(msgspec.Struct, frozen=True, kw_only=True, tag="writes"):
    """The calls of a sync, in order: ``create``, ``update``, or ``delete:<uid>``."""

    kinds: tuple[str, ...]
    error: str = ""


def _service_key(endpoint_slice: EndpointSlice) -> str | None:
    name = labels(endpoint_slice).get(rec.LABEL_SERVICE_NAME)
    if not name:
        return None
    return f"{meta(endpoint_slice).namespace or ''}/{name}"


def _managed(endpoint_slice: EndpointSlice) -> bool:
    return labels(endpoint_slice).get(rec.LABEL_MANAGED_BY) == rec.CONTROLLER_NAME


def _tracked(private: SlicePrivate, endpoint_slice: EndpointSlice) -> Generations | None:
    key = _service_key(endpoint_slice)
    return private.generations.get(key) if key is not None else None


def should_sync(private: SlicePrivate, endpoint_slice: EndpointSlice) -> bool:
    """``EndpointSliceTracker.ShouldSync``: not written by us at this generation or later."""
    generations = _tracked(private, endpoint_slice)
    if generations is None:
        return True
    written = generations.get(uid(endpoint_slice))
    return written is None or (meta(endpoint_slice).generation or 0) > written


def stale(private: SlicePrivate, key: str, slices: list[EndpointSlice]) -> bool:
    """``EndpointSliceTracker.StaleSlices``."""
    generations = private.generations.get(key)
    if generations is None:
        return False
    provided = {uid(s) for s in slices}
    for endpoint_slice in slices:
        written = generations.get(uid(endpoint_slice))
        if written is not None and (
            written == DELETION_EXPECTED or written > (meta(endpoint_slice).generation or 0)
        ):
            return True
    return any(
        written != DELETION_EXPECTED and slice_uid not in provided
        for slice_uid, written in generations.items()
    )


def _set(private: SlicePrivate, key: str, slice_uid: str, generation: int) -> SlicePrivate:
    generations = private.generations.get(key, immutables.Map()).set(slice_uid, generation)
    return msgspec.structs.replace(private, generations=private.generations.set(key, generations))


def _handle_deletion(
    private: SlicePrivate, endpoint_slice: EndpointSlice
) -> tuple[SlicePrivate, bool]:
    """``HandleDeletion``: forget the slice; was its deletion expected?"""
    key = _service_key(endpoint_slice)
    generations = private.generations.get(key) if key is not None else None
    if key is None or generations is None or uid(endpoint_slice) not in generations:
        return private, True
    written = generations[uid(endpoint_slice)]
    rest = generations.delete(uid(endpoint_slice))
    updated = private.generations.set(key, rest) if len(rest) else private.generations.delete(key)
    return msgspec.structs.replace(private, generations=updated), written == DELETION_EXPECTED


# Handlers -------------------------------------------------------------------------------------


def _slice_changed(context: Context[SlicePrivate], change: Change) -> Reaction[SlicePrivate]:
    private = context.private
    delayed: list[str] = []
    if change.change == "DELETED":
        endpoint_slice = change.old
        tracked = _tracked(private, endpoint_slice)
        if _managed(endpoint_slice) and tracked is not None and uid(endpoint_slice) in tracked:
            private, expected = _handle_deletion(private, endpoint_slice)
            if not expected:
                delayed.append(_service_key(endpoint_slice) or "")
    elif change.change == "ADDED":
        if _managed(change.new) and should_sync(private, change.new):
            delayed.append(_service_key(change.new) or "")
    else:
        old, new = change.old, change.new
        if _service_key(old) != _service_key(new):
            delayed += [_service_key(old) or "", _service_key(new) or ""]
        elif _managed(old) != _managed(new) or (_managed(new) and should_sync(private, new)):
            delayed.append(_service_key(new) or "")
    return Reaction(
        expectations=context.expectations,
        private=private,
        delayed=tuple((key, CHANGE_MIN_SYNC_DELAY_MS) for key in delayed if key),
    )


def handle(context: Context[SlicePrivate], change: Change) -> Reaction[SlicePrivate]:
    if change.resource == "endpointslices":
        return _slice_changed(context, change)
    keys: set[str] = set()
    if change.resource == "services":
        namespace, name = meta(change.current).namespace or "", meta(change.current).name or ""
        keys.add(f"{namespace}/{name}")
    elif change.resource == "pods":
        services = eu.namespace_services(context.cache, change.current)
        if change.change == "MODIFIED":
            keys |= eu.services_to_update(services, change.old, change.new)
        else:
            keys |= eu.memberships(services, change.current)
    return Reaction(
        expectations=context.expectations, private=context.private, adds=tuple(sorted(keys))
    )


# Sync -----------------------------------------------------------------------------------------


def _managed_slices(context: Context[SlicePrivate], service: Service) -> list[EndpointSlice]:
    name = meta(service).name or ""
    return [
        s
        for s in in_namespace(context.cache, "endpointslices", meta(service).namespace or "")
        if _managed(s) and labels(s).get(rec.LABEL_SERVICE_NAME) == name and not deleting(s)
    ]


def _forget(private: SlicePrivate, key: str) -> SlicePrivate:
    return SlicePrivate(
        tracker=eu.forget_service(private.tracker, key),
        generations=private.generations.delete(key)
        if key in private.generations
        else private.generations,
    )


def sync(context: Context[SlicePrivate], key: str) -> Outcome[SlicePrivate]:
    namespace, name = split_key(key)
    service: Service | None = get(context.cache, "services", namespace, name)
    private = context.private
    if service is None:
        return Outcome(expectations=context.expectations, private=_forget(private, key))
    spec = service.spec
    if (spec is not None and spec.type == "ExternalName") or eu.selector_of(service) is None:
        return Outcome(expectations=context.expectations, private=private)
    pods = eu.selected_pods(in_namespace(context.cache, "pods", namespace), service)
    slices = _managed_slices(context, service)
    if stale(private, key, slices):
        return Outcome(expectations=context.expectations, private=private, error=STALE_CACHE)
    tracker, trigger = eu.trigger_time(private.tracker, key, service, pods)
    private = msgspec.structs.replace(private, tracker=tracker)

    def node(node_name: str) -> Node | None:
        found: Node | None = get(context.cache, "nodes", "", node_name) if node_name else None
        return found

    plan = rec.reconcile(
        service, pods, slices, node, context.config.max_endpoints_per_slice, trigger
    )
    batches: list[tuple[Planned, ...]] = []
    kinds: list[str] = []
    if not deleting(service):
        for created in plan.creates:
            batches.append(
                (
                    Planned(
                        call=create(SLICES, namespace, plain(created)),
                        tolerated_causes=frozenset({NAMESPACE_TERMINATING_CAUSE}),
                    ),
                )
            )
            kinds.append("create")
    for updated in plan.updates:
        batches.append((Planned(call=update(SLICES, updated)),))
        kinds.append("update")
    for deleted in plan.deletes:
        batches.append((Planned(call=delete(SLICES, namespace, meta(deleted).name or "")),))
        kinds.append(f"delete:{uid(deleted)}")
    error = "; ".join(plan.errors)
    if not batches:
        return Outcome(expectations=context.expectations, private=private, error=error)
    return Outcome(
        expectations=context.expectations,
        private=private,
        batches=tuple(batches),
        resume=True,
        memo=Writes(kinds=tuple(kinds), error=error),
    )


def resume(
    context: Context[SlicePrivate], key: str, memo: Any, replies: tuple[Reply, ...], failed: bool
) -> Outcome[SlicePrivate]:
    """Record what the writes did in the slice tracker."""
    assert isinstance(memo, Writes)
    private = context.private
    error = memo.error
    for kind, reply in zip(memo.kinds, replies, strict=False):
        answer = reply.answer
        if not reply.planned.succeeded(answer) or not 200 <= answer.status < 300:
            if not reply.planned.succeeded(answer):
                error = failure_text(answer)
            continue
        if kind.startswith("delete:"):
            private = _set(private, key, kind.removeprefix("delete:"), DELETION_EXPECTED)
            continue
        body = decoded(answer)
        metadata = body.get("metadata") if isinstance(body, dict) else None
        if isinstance(metadata, dict) and isinstance(metadata.get("uid"), str):
            private = _set(private, key, metadata["uid"], int(metadata.get("generation") or 0))
    if failed and not error:
        error = "a call failed"
    return Outcome(expectations=context.expectations, private=private, error=error)


def _workers(config: ControllerConfig) -> int:
    return config.concurrent_service_endpoint_syncs


DEFINITION: ControllerDef[SlicePrivate] = ControllerDef(
    name=NAME,
    watches=(Watch("services"), Watch("pods"), Watch("endpointslices"), Watch("nodes")),
    initial=lambda _config: SlicePrivate(),
    handle=handle,
    sync=sync,
    resume=resume,
    workers=_workers,
    max_retries=MAX_RETRIES,
    aliases=("endpointslice",),
)
