"""The etcd client workload shared by ``conform etcd`` and ``simulate etcd``: which request a
client sends next, and what it learns from the answers.

A client draws from a fixed mix (seeded by its PRNG): gets and prefix ranges (some with limit
and keys_only), puts (some with prev_kv, some on one of its leases), deletes, compare-and-set
txns on the mod revision it last saw, multi-key txns, lease grants with client-chosen IDs,
revokes, keepalives, and compactions a few revisions behind the newest revision it saw. Every
value it writes is unique (``c<client>-<call>.<n>``), so a watch event names its write.
:class:`ClientKnowledge` is pure data: the simulator keeps it in its world state.
"""

from __future__ import annotations

import random

import msgspec

from models.etcd import (
    CompactionRequest,
    Compare,
    DeleteRangeRequest,
    LeaseGrantRequest,
    LeaseKeepAliveRequest,
    LeaseRevokeRequest,
    PutRequest,
    RangeRequest,
    TxnRequest,
    prefix_range_end,
)
from models.etcd_recipes import RecipeRequest, RecipeState
from runner.etcd.conform_record import WorkloadRequest, WorkloadResponse

KEY_PREFIX = b"key"


class LockClient(msgspec.Struct, frozen=True, kw_only=True):
    """A lock client of ``simulate etcd --workload lock`` (``runner.etcd.sim_lock``): its
    lease (0: none yet), its recipe (``impl.etcd.recipes.lock``; None: not trying), the
    request the recipe waits to have answered (sent again after an unknown outcome), and the
    watch it wants open."""

    lease: int = 0
    recipe: RecipeState | None = None
    pending: RecipeRequest | None = None
    watch_key: bytes = b""
    """The key the recipe watches (b"": none), from revision ``watch_from``."""
    watch_from: int = 0


class ClientKnowledge(msgspec.Struct, frozen=True, kw_only=True):
    """What one client knows: how many requests it sent (``calls``, for unique values), the
    newest revision it saw, the mod revision it last saw per key, and its leases (and, for
    the lock workload, its lock client)."""

    client: int
    calls: int = 0
    last_revision: int = 1
    last_mod: tuple[tuple[bytes, int], ...] = ()
    leases: tuple[int, ...] = ()
    lock: LockClient = LockClient()

    def mod_revision(self, key: bytes) -> int:
        return dict(self.last_mod).get(key, 0)


def key_name(index: int) -> bytes:
    return KEY_PREFIX + str(index).encode()


def _value(knows: ClientKnowledge, number: int) -> bytes:
    return f"c{knows.client}-{knows.calls}.{number}".encode()


def lease_id(knows: ClientKnowledge) -> int:
    """A lease ID no other client and no other call of this client uses."""
    return (knows.client + 1) * 1_000_000 + knows.calls


def next_request(
    prng: random.Random, knows: ClientKnowledge, key_count: int, lease_ttl_seconds: int
) -> WorkloadRequest:
    """The client's next request (call :func:`called` once it is sent)."""
    choice = prng.randrange(100)
    key = key_name(prng.randrange(key_count))
    everything = prefix_range_end(KEY_PREFIX)
    if choice < 18:
        return RangeRequest(key=key, serializable=choice < 2)
    if choice < 26:
        return RangeRequest(key=KEY_PREFIX, range_end=everything)
    if choice < 30:
        return RangeRequest(key=KEY_PREFIX, range_end=everything, limit=2, keys_only=True)
    if choice < 50:
        return PutRequest(key=key, value=_value(knows, 0), prev_kv=choice % 2 == 0)
    if choice < 57:
        return DeleteRangeRequest(key=key, prev_kv=choice % 2 == 0)
    if choice < 67:
        expected = knows.mod_revision(key)
        return TxnRequest(
            compare=(Compare(key=key, target="MOD", result="EQUAL", mod_revision=expected),),
            success=(PutRequest(key=key, value=_value(knows, 0)),),
            failure=(RangeRequest(key=key),),
        )
    if choice < 72:
        other = key_name(prng.randrange(key_count))
        writes: tuple[PutRequest | DeleteRangeRequest, ...] = (
            PutRequest(key=key, value=_value(knows, 0)),
        )
        if other != key:
            writes = (*writes, DeleteRangeRequest(key=other))
        return TxnRequest(
            compare=(Compare(key=other, target="VERSION", result="GREATER", version=0),),
            success=writes,
            failure=(PutRequest(key=key, value=_value(knows, 1)),),
        )
    if choice < 78 or not knows.leases:
        return LeaseGrantRequest(TTL=lease_ttl_seconds, ID=lease_id(knows))
    lease = prng.choice(knows.leases)
    if choice < 86:
        return PutRequest(key=key, value=_value(knows, 0), lease=lease)
    if choice < 91:
        return LeaseRevokeRequest(ID=lease)
    if choice < 97:
        return LeaseKeepAliveRequest(ID=lease)
    return CompactionRequest(revision=max(1, knows.last_revision - prng.randrange(8)))


def called(knows: ClientKnowledge, request: WorkloadRequest) -> ClientKnowledge:
    """The client sent ``request``: the next values differ; a revoked lease is no longer
    used."""
    leases = knows.leases
    if isinstance(request, LeaseRevokeRequest):
        leases = tuple(lease for lease in leases if lease != request.ID)
    return msgspec.structs.replace(knows, calls=knows.calls + 1, leases=leases)


def learn(
    knows: ClientKnowledge, request: WorkloadRequest, response: WorkloadResponse
) -> ClientKnowledge:
    """What a successful answer teaches: the revision, mod revisions seen, a granted lease."""
    last_mod = dict(knows.last_mod)
    for kv in getattr(response, "kvs", ()):
        last_mod[kv.key] = kv.mod_revision
    if isinstance(request, PutRequest):
        last_mod[request.key] = response.header.revision
    leases = knows.leases
    if isinstance(request, LeaseGrantRequest):
        leases = (*leases, request.ID)
    return msgspec.structs.replace(
        knows,
        last_revision=max(knows.last_revision, response.header.revision),
        last_mod=tuple(sorted(last_mod.items())),
        leases=leases,
    )
