"""etcd's mutex (``concurrency.Mutex`` of etcd 3.4) as a pure client.

Theory of operation. :func:`lock` sends one txn: if the client's key ``<prefix>/<lease hex>``
does not exist (create revision 0), put it (empty value, on the client's lease) and read the
queue's first key; else read the key (a client that already holds it reuses it) and the first
key. The key's create revision is the client's place in the queue (the txn's revision when it
created the key). If the first key is its own, it holds the lock at once; otherwise it waits in
the queue (:mod:`impl.etcd.recipes.queue`). :func:`unlock` deletes the key. An etcd error ends
the attempt (``Failed``); the caller may still unlock to remove the key.
"""

from __future__ import annotations

import msgspec

from impl.etcd.recipes.queue import (
    RecipeStep,
    check,
    first_request,
    hold,
    key_for,
    on_predecessor,
    on_watched,
)
from models.etcd import (
    Compare,
    DeleteRangeRequest,
    DeleteRangeResponse,
    EtcdError,
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
    StopWatch,
    Watched,
)
from models.step import Step


def acquire_request(prefix: bytes, lease: int) -> TxnRequest:
    """The txn that enqueues a client (or finds its key) and reads the holder's key."""
    key = key_for(prefix, lease)
    return TxnRequest(
        compare=(Compare(key=key, target="CREATE", result="EQUAL", create_revision=0),),
        success=(PutRequest(key=key, value=b"", lease=lease), first_request(prefix)),
        failure=(RangeRequest(key=key), first_request(prefix)),
    )


def lock(prefix: bytes, lease: int) -> RecipeStep:
    """Start acquiring the lock ``prefix`` for a client holding ``lease``."""
    state = RecipeState(kind="lock", prefix=prefix, lease=lease, key=key_for(prefix, lease))
    return Step(state=state, commands=(SendRequest(request=acquire_request(prefix, lease)),))


def own_revision(response: TxnResponse) -> int:
    """The create revision of the client's key from the acquire txn's answer."""
    if response.succeeded:
        return response.header.revision
    found = response.responses[0]
    assert isinstance(found, RangeResponse), "the failure branch reads the key"
    assert found.kvs, "the key exists: the compare on its create revision failed"
    return found.kvs[0].create_revision


def _on_acquire(state: RecipeState, response: TxnResponse) -> RecipeStep:
    revision = own_revision(response)
    placed = msgspec.structs.replace(state, revision=revision)
    owner = response.responses[1]
    assert isinstance(owner, RangeResponse)
    if not owner.kvs or owner.kvs[0].create_revision == revision:
        return hold(placed)
    return check(placed)


def fail(state: RecipeState, reason: str) -> RecipeStep:
    """Stop on an error, closing a watch the client had open."""
    stop = (StopWatch(),) if state.phase == "waiting" else ()
    failed = msgspec.structs.replace(state, phase="failed", waiting_for=b"")
    return Step(state=failed, commands=(*stop, Failed(reason=reason)))


def on_event(state: RecipeState, event: RecipeEvent) -> RecipeStep:
    """An answer or watch events; anything the current phase does not expect is ignored (a
    late watch event after the watch was stopped, for example)."""
    if isinstance(event, Watched):
        return on_watched(state, event) if state.phase == "waiting" else Step(state=state)
    answer = event.answer
    if isinstance(answer, EtcdError):
        return fail(state, answer.message)
    if state.phase == "creating" and isinstance(answer, TxnResponse):
        return _on_acquire(state, answer)
    if state.phase == "checking" and isinstance(answer, RangeResponse):
        return on_predecessor(state, answer)
    if state.phase == "releasing" and isinstance(answer, DeleteRangeResponse | TxnResponse):
        released = msgspec.structs.replace(state, phase="released")
        return Step(state=released, commands=(Released(key=state.key),))
    return Step(state=state)


def unlock(state: RecipeState) -> RecipeStep:
    """Give the lock up (or leave the queue): delete the client's key."""
    stop = (StopWatch(),) if state.phase == "waiting" else ()
    releasing = msgspec.structs.replace(state, phase="releasing", waiting_for=b"")
    delete = SendRequest(request=DeleteRangeRequest(key=state.key))
    return Step(state=releasing, commands=(*stop, delete))
