"""Following an election's leader (etcd's ``Election.Observe``) as a pure client.

Theory of operation. The observer asks for the queue's first key (the leader). With none, it
watches the whole prefix from the answer's revision until a key is put, and reports that key as
the leader (at the put's revision). With a leader, it reports it and watches the leader's key
from the next revision: each PUT reports the leader's new value; a DELETE (the leader resigned
or its lease expired) sends it back to asking for the first key. It never ends by itself.
"""

from __future__ import annotations

import msgspec

from impl.etcd.recipes.queue import RecipeStep, first_request, queue_prefix
from models.etcd import RangeResponse, prefix_range_end
from models.etcd_recipes import (
    Answered,
    Failed,
    Observed,
    RecipeEvent,
    RecipeState,
    SendRequest,
    StopWatch,
    Watched,
    WatchKey,
)
from models.step import Step


def observe(prefix: bytes) -> RecipeStep:
    """Start following the leader of ``prefix``."""
    state = RecipeState(kind="observer", prefix=prefix, lease=0, phase="checking")
    return Step(state=state, commands=(SendRequest(request=first_request(prefix)),))


def _ask(state: RecipeState) -> RecipeStep:
    asking = msgspec.structs.replace(state, phase="checking", key=b"")
    return Step(
        state=asking, commands=(StopWatch(), SendRequest(request=first_request(state.prefix)))
    )


def _on_first(state: RecipeState, response: RangeResponse) -> RecipeStep:
    revision = response.header.revision
    if not response.kvs:
        scope = queue_prefix(state.prefix)
        waiting = msgspec.structs.replace(state, phase="waiting", key=b"", revision=revision)
        watch = WatchKey(key=scope, range_end=prefix_range_end(scope), start_revision=revision)
        return Step(state=waiting, commands=(watch,))
    leader = response.kvs[0]
    following = msgspec.structs.replace(state, phase="observing", key=leader.key)
    return Step(
        state=following,
        commands=(
            Observed(kv=leader, revision=revision),
            WatchKey(key=leader.key, start_revision=revision + 1),
        ),
    )


def on_event(state: RecipeState, event: RecipeEvent) -> RecipeStep:
    """An answer (to the first-key question) or watch events."""
    if isinstance(event, Answered):
        if isinstance(event.answer, RangeResponse) and state.phase == "checking":
            return _on_first(state, event.answer)
        if not isinstance(event.answer, RangeResponse):
            failed = msgspec.structs.replace(state, phase="failed")
            return Step(state=failed, commands=(Failed(reason=str(event.answer)),))
        return Step(state=state)
    assert isinstance(event, Watched)
    if state.phase == "waiting":
        for item in event.events:
            if item.type == "PUT":
                following = msgspec.structs.replace(state, phase="observing", key=item.kv.key)
                watch = WatchKey(key=item.kv.key, start_revision=item.kv.mod_revision + 1)
                observed = Observed(kv=item.kv, revision=item.kv.mod_revision)
                return Step(state=following, commands=(StopWatch(), observed, watch))
        return Step(state=state)
    if state.phase != "observing":
        return Step(state=state)
    commands: list[Observed] = []
    for item in event.events:
        if item.kv.key != state.key:
            continue
        if item.type == "DELETE":
            asked = _ask(state)
            return Step(state=asked.state, commands=(*commands, *asked.commands))
        commands.append(Observed(kv=item.kv, revision=event.revision or item.kv.mod_revision))
    return Step(state=state, commands=tuple(commands))
