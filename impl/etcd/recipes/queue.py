"""The waiting queue both recipes share (etcd's ``waitDeletes``), and the keys they use.

Theory of operation. A client's key is ``<prefix>/<lease ID in hex>``; the queue is the prefix's
keys ordered by create revision. A client whose key was created at revision ``R`` asks for the
key with the highest create revision below ``R`` (:func:`predecessor_request`). If there is none,
it is first: it holds the lock (or leads). Otherwise it watches that key, from the revision of
the answer, for a DELETE; after it, it asks again (another client may still be before it).
"""

from __future__ import annotations

import msgspec

from models.etcd import RangeRequest, RangeResponse, prefix_range_end
from models.etcd_recipes import (
    Acquired,
    RecipeCommand,
    RecipeState,
    SendRequest,
    StopWatch,
    Watched,
    WatchKey,
)
from models.step import Step

RecipeStep = Step[RecipeState, RecipeCommand]


def key_for(prefix: bytes, lease: int) -> bytes:
    """A client's key: ``<prefix>/<lease ID in lowercase hex>`` (Go's ``%x`` of the int64)."""
    lease_hex = format(lease, "x") if lease >= 0 else "-" + format(-lease, "x")
    return queue_prefix(prefix) + lease_hex.encode()


def queue_prefix(prefix: bytes) -> bytes:
    """What every client's key starts with (``<prefix>/``)."""
    return prefix + b"/"


def first_request(prefix: bytes) -> RangeRequest:
    """The key of the queue created first (etcd's ``WithFirstCreate``): the holder or leader."""
    scope = queue_prefix(prefix)
    return RangeRequest(
        key=scope,
        range_end=prefix_range_end(scope),
        sort_target="CREATE",
        sort_order="ASCEND",
        limit=1,
    )


def predecessor_request(prefix: bytes, own_revision: int) -> RangeRequest:
    """The key of the queue created last before ``own_revision`` (``WithLastCreate`` and
    ``WithMaxCreateRev(own_revision - 1)``)."""
    scope = queue_prefix(prefix)
    return RangeRequest(
        key=scope,
        range_end=prefix_range_end(scope),
        sort_target="CREATE",
        sort_order="DESCEND",
        limit=1,
        max_create_revision=own_revision - 1,
    )


def check(state: RecipeState) -> RecipeStep:
    """Ask for the key just before the client's own."""
    request = predecessor_request(state.prefix, state.revision)
    checking = msgspec.structs.replace(state, phase="checking", waiting_for=b"")
    return Step(state=checking, commands=(SendRequest(request=request),))


def hold(state: RecipeState) -> RecipeStep:
    """First in the queue."""
    held = msgspec.structs.replace(state, phase="held", waiting_for=b"")
    return Step(state=held, commands=(Acquired(key=state.key, revision=state.revision),))


def on_predecessor(state: RecipeState, response: RangeResponse) -> RecipeStep:
    """The answer to :func:`check`: first, or wait for the DELETE of the key before."""
    if not response.kvs:
        return hold(state)
    before = response.kvs[0].key
    waiting = msgspec.structs.replace(state, phase="waiting", waiting_for=before)
    watch = WatchKey(key=before, start_revision=response.header.revision)
    return Step(state=waiting, commands=(watch,))


def on_watched(state: RecipeState, event: Watched) -> RecipeStep:
    """Events on the watched key: after its DELETE, look again."""
    deleted = any(
        item.type == "DELETE" and item.kv.key == state.waiting_for for item in event.events
    )
    if not deleted:
        return Step(state=state)
    again = check(state)
    return Step(state=again.state, commands=(StopWatch(), *again.commands))
