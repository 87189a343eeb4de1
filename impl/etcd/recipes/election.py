"""etcd's election (``concurrency.Election`` of etcd 3.4) as a pure client.

Theory of operation. :func:`campaign` sends one txn: if the client's key ``<prefix>/<lease
hex>`` does not exist, put it with the campaign value on the client's lease; else read it. The
key's create revision is the client's place in the queue. A key found with another value is
proclaimed first (a txn that puts the value only if the key's create revision is still the
client's). The client then waits in the queue (:mod:`impl.etcd.recipes.queue`) and leads once
no key was created before its own. A leader may :func:`proclaim` a new value and
:func:`resign` (delete its key); both are txns guarded by the key's create revision, so a
client whose key was deleted (its lease expired) learns that it no longer leads ("election:
not leader"). :func:`leader_request` and :func:`leader` read who leads.
"""

from __future__ import annotations

import msgspec

from impl.etcd.recipes.lock import fail, own_revision
from impl.etcd.recipes.queue import (
    RecipeStep,
    check,
    first_request,
    key_for,
    on_predecessor,
    on_watched,
)
from models.etcd import (
    Compare,
    DeleteRangeRequest,
    EtcdError,
    KeyValue,
    PutRequest,
    RangeRequest,
    RangeResponse,
    TxnRequest,
    TxnResponse,
)
from models.etcd_recipes import (
    Failed,
    RecipeEvent,
    RecipeState,
    Released,
    SendRequest,
    Watched,
)
from models.step import Step

NOT_LEADER = "election: not leader"


def campaign_request(prefix: bytes, lease: int, value: bytes) -> TxnRequest:
    """The txn that enqueues a candidate (or finds its key)."""
    key = key_for(prefix, lease)
    return TxnRequest(
        compare=(Compare(key=key, target="CREATE", result="EQUAL", create_revision=0),),
        success=(PutRequest(key=key, value=value, lease=lease),),
        failure=(RangeRequest(key=key),),
    )


def _guarded(state: RecipeState, operation: PutRequest | DeleteRangeRequest) -> TxnRequest:
    """``operation`` only if the client's key is still the one created at its revision."""
    guard = Compare(key=state.key, target="CREATE", result="EQUAL", create_revision=state.revision)
    return TxnRequest(compare=(guard,), success=(operation,))


def campaign(prefix: bytes, lease: int, value: bytes) -> RecipeStep:
    """Start campaigning for leadership of ``prefix`` with ``value``."""
    state = RecipeState(
        kind="election", prefix=prefix, lease=lease, value=value, key=key_for(prefix, lease)
    )
    request = campaign_request(prefix, lease, value)
    return Step(state=state, commands=(SendRequest(request=request),))


def _on_campaign(state: RecipeState, response: TxnResponse) -> RecipeStep:
    placed = msgspec.structs.replace(state, revision=own_revision(response))
    if response.succeeded:
        return check(placed)
    found = response.responses[0]
    assert isinstance(found, RangeResponse), "the failure branch reads the key"
    assert found.kvs, "the key exists: the compare on its create revision failed"
    if found.kvs[0].value == state.value:
        return check(placed)
    put = PutRequest(key=state.key, value=state.value, lease=state.lease)
    proclaiming = msgspec.structs.replace(placed, phase="proclaiming")
    return Step(state=proclaiming, commands=(SendRequest(request=_guarded(placed, put)),))


def _not_leader(state: RecipeState) -> RecipeStep:
    failed = msgspec.structs.replace(state, phase="failed")
    return Step(state=failed, commands=(Released(key=state.key), Failed(reason=NOT_LEADER)))


def on_event(state: RecipeState, event: RecipeEvent) -> RecipeStep:
    """An answer or watch events; anything the current phase does not expect is ignored."""
    if isinstance(event, Watched):
        return on_watched(state, event) if state.phase == "waiting" else Step(state=state)
    answer = event.answer
    if isinstance(answer, EtcdError):
        return fail(state, answer.message)
    if state.phase == "creating" and isinstance(answer, TxnResponse):
        return _on_campaign(state, answer)
    if state.phase == "proclaiming" and isinstance(answer, TxnResponse):
        if not answer.succeeded:
            failed = msgspec.structs.replace(state, phase="failed")
            return Step(state=failed, commands=(Failed(reason=NOT_LEADER),))
        return check(state)
    if state.phase == "checking" and isinstance(answer, RangeResponse):
        return on_predecessor(state, answer)
    if state.phase == "updating" and isinstance(answer, TxnResponse):
        if not answer.succeeded:
            return _not_leader(state)
        return Step(state=msgspec.structs.replace(state, phase="held"))
    if state.phase == "releasing" and isinstance(answer, TxnResponse):
        released = msgspec.structs.replace(state, phase="released")
        return Step(state=released, commands=(Released(key=state.key),))
    return Step(state=state)


def proclaim(state: RecipeState, value: bytes) -> RecipeStep:
    """A leader announces a new value (only while its key is still its own)."""
    assert state.phase == "held", "only a leader proclaims"
    put = PutRequest(key=state.key, value=value, lease=state.lease)
    updating = msgspec.structs.replace(state, phase="updating", value=value)
    return Step(state=updating, commands=(SendRequest(request=_guarded(state, put)),))


def resign(state: RecipeState) -> RecipeStep:
    """Give leadership up (or leave the queue): delete the key if it is still the client's."""
    releasing = msgspec.structs.replace(state, phase="releasing", waiting_for=b"")
    request = _guarded(state, DeleteRangeRequest(key=state.key))
    return Step(state=releasing, commands=(SendRequest(request=request),))


def leader_request(prefix: bytes) -> RangeRequest:
    """Who leads ``prefix``: the key created first."""
    return first_request(prefix)


def leader(response: RangeResponse) -> KeyValue | None:
    """The leader's key and value (None: no leader, etcd's "election: no leader")."""
    return response.kvs[0] if response.kvs else None
