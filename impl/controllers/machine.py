"""The shape every controller shares: informers, a work queue, workers, calls in flight.

Theory of operation. A controller is a :class:`~impl.controllers.plan.ControllerDef` (its
informers, event handlers and sync function) run by this one machine:

- ``Observed``/``Listed`` fold watch events into the cache and hand each change to the
  controller's handler, which queues keys (now or later) and may observe expectations;
- ``Tick`` moves the clock and releases parked keys whose time came;
- ``Work`` offers a free worker: once every informer has listed (``WaitForCacheSync``) and
  fewer than the controller's worker count are busy, the head key is taken and synced;
- a sync's calls go out batch by batch (``Call`` commands); ``Answered`` brings each answer
  back; when the last batch is answered (or one failed) the sync resumes or ends: the key is
  ``done``, forgotten by the rate limiter on success, re-queued rate-limited on failure, and
  a ``Reconciled`` command reports it.

Everything the controller knows is in :class:`ControllerState`; a crash loses it all (the
controller restarts from ``init`` and relists), as kube-controller-manager does.
"""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar, assert_never

import immutables
import msgspec

from impl.controllers import expectations as exp
from impl.controllers import queue as wq
from impl.controllers.cache import Cache, Change, apply, decode, replace
from impl.controllers.plan import (
    Context,
    ControllerDef,
    CreationObserved,
    DeletionObserved,
    Outcome,
    Planned,
    Reply,
)
from models.controllers.config import ControllerConfig
from models.controllers.messages import (
    Answered,
    Call,
    ControllerCommand,
    ControllerEvent,
    Listed,
    Observed,
    Reconciled,
    Tick,
    Work,
)
from models.controllers.resources import RESOURCES
from models.step import Step

P = TypeVar("P")


class Running(msgspec.Struct, frozen=True, kw_only=True):
    """A sync in progress: its batches still to send, the calls out, the answers so far."""

    key: str
    started_ms: int
    pending: tuple[tuple[Planned, ...], ...] = ()
    calls: immutables.Map[int, Planned] = msgspec.field(default_factory=immutables.Map)
    replies: tuple[Reply, ...] = ()
    failed: bool = False
    error: str = ""
    resume: bool = False
    memo: Any = None
    requeue_after_ms: int | None = None
    requeue_rate_limited: bool = False


class ControllerState(msgspec.Struct, Generic[P], frozen=True, kw_only=True):
    cache: Cache = msgspec.field(default_factory=Cache)
    queue: wq.WorkQueue = msgspec.field(default_factory=wq.WorkQueue)
    expectations: exp.Expectations = msgspec.field(default_factory=exp.Expectations)
    private: P
    running: immutables.Map[str, Running] = msgspec.field(default_factory=immutables.Map)
    requests: immutables.Map[int, str] = msgspec.field(default_factory=immutables.Map)
    next_request: int = 1
    now_ms: int = 0
    syncs: int = 0


ControllerStep = Step[ControllerState[P], ControllerCommand]


def init(definition: ControllerDef[P], config: ControllerConfig, now_ms: int) -> ControllerStep[P]:
    return Step(
        state=ControllerState(private=definition.initial(config), now_ms=now_ms), commands=()
    )


def context(config: ControllerConfig, state: ControllerState[P]) -> Context[P]:
    return Context(
        config=config,
        cache=state.cache,
        expectations=state.expectations,
        private=state.private,
        now_ms=state.now_ms,
    )


def cache_synced(definition: ControllerDef[Any], state: ControllerState[Any]) -> bool:
    return all(watch.resource in state.cache.listed for watch in definition.watches)


def has_work(
    definition: ControllerDef[Any], config: ControllerConfig, state: ControllerState[Any]
) -> bool:
    """Would ``Work`` start a sync now?"""
    return (
        state.queue.depth > 0
        and len(state.running) < definition.workers(config)
        and cache_synced(definition, state)
    )


def on_event(
    definition: ControllerDef[P],
    config: ControllerConfig,
    state: ControllerState[P],
    event: ControllerEvent,
) -> ControllerStep[P]:
    match event:
        case Observed():
            return Step(state=_observed(definition, config, state, event), commands=())
        case Listed():
            return Step(state=_listed(definition, config, state, event), commands=())
        case Tick():
            now = max(state.now_ms, event.now_ms)
            queue = wq.release_due(state.queue, now)
            return Step(state=msgspec.structs.replace(state, now_ms=now, queue=queue), commands=())
        case Work():
            return _work(definition, config, state)
        case Answered():
            return _answered(definition, config, state, event)
        case _:
            assert_never(event)


def _metadata_only(definition: ControllerDef[Any], resource: str) -> bool | None:
    for watch in definition.watches:
        if watch.resource == resource:
            return watch.metadata_only
    return None


def _react(
    definition: ControllerDef[P],
    config: ControllerConfig,
    state: ControllerState[P],
    change: Change,
) -> ControllerState[P]:
    reaction = definition.handle(context(config, state), change)
    queue = state.queue
    for key in reaction.adds:
        queue = wq.add(queue, key)
    for key, delay in reaction.delayed:
        queue = wq.add_after(queue, key, delay, state.now_ms)
    return msgspec.structs.replace(
        state, queue=queue, expectations=reaction.expectations, private=reaction.private
    )


def _observed(
    definition: ControllerDef[P],
    config: ControllerConfig,
    state: ControllerState[P],
    event: Observed,
) -> ControllerState[P]:
    metadata_only = _metadata_only(definition, event.resource)
    if metadata_only is None:
        return state
    obj = decode(RESOURCES[event.resource], event.raw, metadata_only)
    if obj is None:
        return state
    cache, old = apply(state.cache, event.resource, event.change, obj)
    state = msgspec.structs.replace(state, cache=cache)
    if event.change == "DELETED":
        change = Change(
            resource=event.resource, change="DELETED", old=old if old is not None else obj
        )
    elif old is None:
        change = Change(resource=event.resource, change="ADDED", new=obj)
    else:
        change = Change(resource=event.resource, change="MODIFIED", old=old, new=obj)
    return _react(definition, config, state, change)


def _listed(
    definition: ControllerDef[P], config: ControllerConfig, state: ControllerState[P], event: Listed
) -> ControllerState[P]:
    metadata_only = _metadata_only(definition, event.resource)
    if metadata_only is None:
        return state
    resource = RESOURCES[event.resource]
    decoded = [decode(resource, raw, metadata_only) for raw in event.items]
    cache, changes = replace(
        state.cache, event.resource, [obj for obj in decoded if obj is not None]
    )
    state = msgspec.structs.replace(state, cache=cache)
    for change in changes:
        state = _react(definition, config, state, change)
    return state


def _work(
    definition: ControllerDef[P], config: ControllerConfig, state: ControllerState[P]
) -> ControllerStep[P]:
    if not has_work(definition, config, state):
        return Step(state=state, commands=())
    queue, key = wq.get(state.queue)
    assert key is not None
    state = msgspec.structs.replace(state, queue=queue, syncs=state.syncs + 1)
    outcome = definition.sync(context(config, state), key)
    running = Running(key=key, started_ms=state.now_ms)
    return _proceed(definition, config, state, _adopt(running, outcome), outcome)


def _adopt(running: Running, outcome: Outcome[Any]) -> Running:
    """The running sync with a (new) outcome's batches and wishes; errors stay sticky."""
    earlier = running.error or ("a call failed" if running.failed else "")
    return msgspec.structs.replace(
        running,
        pending=outcome.batches,
        replies=(),
        failed=False,
        resume=outcome.resume,
        memo=outcome.memo,
        requeue_after_ms=outcome.requeue_after_ms,
        requeue_rate_limited=outcome.requeue_rate_limited,
        error=earlier or outcome.error,
    )


def _observe(expectations: exp.Expectations, planned: Planned) -> exp.Expectations:
    for observation in planned.on_failure:
        match observation:
            case CreationObserved():
                expectations = exp.creation_observed(expectations, observation.key)
            case DeletionObserved():
                expectations = exp.deletion_observed(
                    expectations, observation.key, observation.pod_key
                )
            case _:
                assert_never(observation)
    return expectations


def _proceed(
    definition: ControllerDef[P],
    config: ControllerConfig,
    state: ControllerState[P],
    running: Running,
    outcome: Outcome[P],
) -> ControllerStep[P]:
    """Take an outcome's expectations and private state, then send the next batch, resume, or
    end the sync."""
    state = _take(state, outcome)
    while True:
        if running.failed and running.pending:
            expectations = state.expectations
            for batch in running.pending:
                for planned in batch:
                    expectations = _observe(expectations, planned)
            state = msgspec.structs.replace(state, expectations=expectations)
            running = msgspec.structs.replace(running, pending=())
        if running.pending:
            return _send(definition.name, state, running)
        if not running.resume:
            return _end(definition, state, running)
        outcome = definition.resume(
            context(config, state), running.key, running.memo, running.replies, running.failed
        )
        state = _take(state, outcome)
        running = _adopt(running, outcome)


def _take(state: ControllerState[P], outcome: Outcome[P]) -> ControllerState[P]:
    """An outcome's expectations, private state and extra keys."""
    queue = state.queue
    for key in outcome.adds:
        queue = wq.add(queue, key)
    return msgspec.structs.replace(
        state, expectations=outcome.expectations, private=outcome.private, queue=queue
    )


def _send(name: str, state: ControllerState[P], running: Running) -> ControllerStep[P]:
    batch, rest = running.pending[0], running.pending[1:]
    commands: list[ControllerCommand] = []
    calls = running.calls
    requests = state.requests
    request_id = state.next_request
    for planned in batch:
        calls = calls.set(request_id, planned)
        requests = requests.set(request_id, running.key)
        commands.append(
            Call(controller=name, request_id=request_id, key=running.key, call=planned.call)
        )
        request_id += 1
    running = msgspec.structs.replace(running, pending=rest, calls=calls)
    state = msgspec.structs.replace(
        state,
        running=state.running.set(running.key, running),
        requests=requests,
        next_request=request_id,
    )
    return Step(state=state, commands=tuple(commands))


def _end(
    definition: ControllerDef[P], state: ControllerState[P], running: Running
) -> ControllerStep[P]:
    key = running.key
    queue = wq.done(state.queue, key)
    failed = running.failed or bool(running.error)
    if failed:
        retries = queue.failures.get(key, 0)
        if definition.max_retries is not None and retries >= definition.max_retries:
            queue = wq.forget(queue, key)
        else:
            queue = wq.add_rate_limited(queue, key, state.now_ms)
        outcome: Literal["success", "error", "requeue"] = "error"
    else:
        if running.requeue_rate_limited:
            queue = wq.add_rate_limited(queue, key, state.now_ms)
        queue = wq.forget(queue, key)
        outcome = "success"
        if running.requeue_after_ms is not None:
            queue = wq.add_after(queue, key, running.requeue_after_ms, state.now_ms)
            outcome = "requeue"
    state = msgspec.structs.replace(
        state,
        queue=queue,
        running=state.running.delete(key) if key in state.running else state.running,
    )
    report = Reconciled(
        controller=definition.name,
        key=key,
        outcome=outcome,
        started_ms=running.started_ms,
        ended_ms=state.now_ms,
    )
    return Step(state=state, commands=(report,))


def _answered(
    definition: ControllerDef[P],
    config: ControllerConfig,
    state: ControllerState[P],
    event: Answered,
) -> ControllerStep[P]:
    key = state.requests.get(event.request_id)
    if key is None:
        return Step(state=state, commands=())
    state = msgspec.structs.replace(state, requests=state.requests.delete(event.request_id))
    running = state.running.get(key)
    if running is None or event.request_id not in running.calls:
        return Step(state=state, commands=())
    planned = running.calls[event.request_id]
    running = msgspec.structs.replace(
        running,
        calls=running.calls.delete(event.request_id),
        replies=(*running.replies, Reply(planned=planned, answer=event)),
    )
    if not planned.succeeded(event):
        running = msgspec.structs.replace(running, failed=True)
        state = msgspec.structs.replace(state, expectations=_observe(state.expectations, planned))
    if len(running.calls):
        return Step(
            state=msgspec.structs.replace(state, running=state.running.set(key, running)),
            commands=(),
        )
    outcome = Outcome(expectations=state.expectations, private=state.private)
    return _proceed(definition, config, state, running, outcome)
