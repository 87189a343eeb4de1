"""The etcd state machine: ``apply(state, request, context) -> (state, response or error)``.

Theory of operation. Each committed Raft log entry carries one :data:`models.etcd.EtcdRequest`;
every member applies the same entries in log order with the same :class:`ApplyContext`, so every
member reaches the same state. Time is logical: ``context.now_ms`` is the leader's clock when it
proposed the entry. Leases: a grant's TTL is raised to the minimum TTL; the deadline is
``now + TTL``; keepalive moves it; the leader asks :func:`expired_leases` and proposes a
``LeaseRevokeRequest`` for each (etcd's lessor does the same), which deletes the lease's keys in
one revision. Auth (:mod:`impl.etcd.auth`): the context says who proposed the entry; auth
requests change the auth store, and every KV request and lease revoke is checked against
the user's permissions as etcd's ``authApplierV3`` checks it (:func:`check_permissions`),
after the request's own validation. Reads never change the state; serializable reads may be
served from any member's state, linearizable ones from a state that has applied up to the
ReadIndex.
"""

from __future__ import annotations

from typing import overload

import msgspec

from impl.etcd.auth import apply_auth, check_op
from impl.etcd.kv import apply_single, apply_txn
from impl.etcd.store import EtcdState, Lease, compact_history
from impl.etcd.txn_checks import check_txn_shape
from models.etcd import (
    ERROR_COMPACTED,
    ERROR_FUTURE_REVISION,
    ERROR_KEY_NOT_PROVIDED,
    ERROR_LEASE_EXISTS,
    ERROR_LEASE_NOT_FOUND,
    ERROR_LEASE_TTL_TOO_LARGE,
    MAX_LEASE_TTL_SECONDS,
    MIN_LEASE_TTL_SECONDS,
    CompactionRequest,
    CompactionResponse,
    DeleteRangeRequest,
    EtcdError,
    EtcdRequest,
    EtcdResponse,
    LeaseGrantRequest,
    LeaseGrantResponse,
    LeaseKeepAliveRequest,
    LeaseKeepAliveResponse,
    LeaseLeasesRequest,
    LeaseLeasesResponse,
    LeaseRevokeRequest,
    LeaseRevokeResponse,
    LeaseTimeToLiveRequest,
    LeaseTimeToLiveResponse,
    PutRequest,
    RangeRequest,
    RequestOp,
    ResponseHeader,
    TxnRequest,
)
from models.etcd_auth import (
    ERROR_USER_EMPTY,
    AnyRequest,
    AnyResponse,
    AuthInfo,
    AuthRequest,
    AuthResponse,
)

MILLISECONDS_PER_SECOND = 1000


class ApplyContext(msgspec.Struct, frozen=True, kw_only=True):
    """What an entry brings besides its request: the proposer's logical time, who made the
    request (None: no token; always allowed while auth is off) and the entry's log index
    (part of a simple token)."""

    now_ms: int = 0
    auth: AuthInfo | None = None
    index: int = 0


@overload
def apply(
    state: EtcdState, request: EtcdRequest, context: ApplyContext
) -> tuple[EtcdState, EtcdResponse | EtcdError]: ...


@overload
def apply(
    state: EtcdState, request: AuthRequest, context: ApplyContext
) -> tuple[EtcdState, AuthResponse | EtcdError]: ...


@overload
def apply(
    state: EtcdState, request: AnyRequest, context: ApplyContext
) -> tuple[EtcdState, AnyResponse | EtcdError]: ...


def apply(
    state: EtcdState, request: AnyRequest, context: ApplyContext
) -> tuple[EtcdState, AnyResponse | EtcdError]:
    """Apply one request; an error leaves the state unchanged."""
    if isinstance(request, RangeRequest | PutRequest | DeleteRangeRequest | TxnRequest):
        refused = check_permissions(state, request, context.auth)
        if refused is not None:
            return state, refused
    if isinstance(request, RangeRequest | PutRequest | DeleteRangeRequest):
        return apply_single(state, request)
    if isinstance(request, TxnRequest):
        return apply_txn(state, request)
    if not isinstance(request, EtcdRequest):
        auth, auth_response = apply_auth(
            state.auth, request, context.auth, context.index, _header(state)
        )
        return msgspec.structs.replace(state, auth=auth), auth_response
    if isinstance(request, CompactionRequest):
        return apply_compaction(state, request)
    if isinstance(request, LeaseGrantRequest):
        return apply_lease_grant(state, request, context)
    if isinstance(request, LeaseRevokeRequest):
        refused = _check_lease_keys(state, request.ID, context.auth)
        if refused is not None:
            return state, refused
        return apply_lease_revoke(state, request)
    if isinstance(request, LeaseKeepAliveRequest):
        return apply_lease_keepalive(state, request, context)
    if isinstance(request, LeaseTimeToLiveRequest):
        if request.keys and state.auth.enabled:
            refused = _check_lease_keys(state, request.ID, context.auth, write=False)
            if refused is not None:
                return state, refused
        return state, lease_time_to_live(state, request, context)
    return state, lease_list(state, request)


def check_permissions(
    state: EtcdState,
    request: RangeRequest | PutRequest | DeleteRangeRequest | TxnRequest,
    auth: AuthInfo | None,
) -> EtcdError | None:
    """Whether ``auth``'s user may make ``request`` (None: yes). A request that is invalid on
    its own is refused for that first, as etcd's gRPC layer checks it before auth."""
    if not state.auth.enabled:
        return None
    if isinstance(request, TxnRequest):
        shape_error = check_txn_shape(request)
        if shape_error is not None:
            return shape_error
        return _check_txn(state, request, auth)
    if request.key == b"":
        return ERROR_KEY_NOT_PROVIDED
    return _check_op(state, request, auth, in_txn=False)


def _check_op(
    state: EtcdState, op: RequestOp, auth: AuthInfo | None, *, in_txn: bool
) -> EtcdError | None:
    """One operation: a range reads its range; a put writes its key, reads it for prev_kv
    (etcd 3.4.23 checks that only outside txns; see docs/etcd.md) and, on its own, needs every
    key of its lease writable (as etcd); a delete reads its range for prev_kv and writes it."""
    if isinstance(op, RangeRequest):
        return check_op(state.auth, auth, op.key, op.range_end, write=False)
    if isinstance(op, PutRequest):
        refused = check_op(state.auth, auth, op.key, b"", write=True)
        if refused is None and not in_txn:
            refused = _check_lease_keys(state, op.lease, auth)
        if refused is None and op.prev_kv:
            refused = check_op(state.auth, auth, op.key, b"", write=False)
        return refused
    if isinstance(op, DeleteRangeRequest):
        refused = None
        if op.prev_kv:
            refused = check_op(state.auth, auth, op.key, op.range_end, write=False)
        if refused is None:
            refused = check_op(state.auth, auth, op.key, op.range_end, write=True)
        return refused
    return _check_txn(state, op, auth)


def _check_txn(state: EtcdState, request: TxnRequest, auth: AuthInfo | None) -> EtcdError | None:
    """Every compare reads its range, then every operation of both branches, nested txns
    included (etcd 3.4.23's ``checkTxnAuth`` skips nested txns; see docs/etcd.md)."""
    for compare in request.compare:
        refused = check_op(state.auth, auth, compare.key, compare.range_end, write=False)
        if refused is not None:
            return refused
    for op in (*request.success, *request.failure):
        refused = _check_op(state, op, auth, in_txn=True)
        if refused is not None:
            return refused
    return None


def _check_lease_keys(
    state: EtcdState, lease_id: int, auth: AuthInfo | None, *, write: bool = True
) -> EtcdError | None:
    """etcd's ``checkLeasePuts``: every key attached to the lease must be writable; for a
    time-to-live that lists the keys, readable (etcd 3.4.26's ``checkLeaseTimeToLive``, which
    also needs a user whatever the lease holds; 3.4.23 lists them to anyone)."""
    if not state.auth.enabled:
        return None
    if not write and auth is None:
        return ERROR_USER_EMPTY
    lease = state.leases.get(lease_id)
    if lease is None:
        return None
    for key in sorted(lease.keys):
        refused = check_op(state.auth, auth, key, b"", write=write)
        if refused is not None:
            return refused
    return None


def _header(state: EtcdState) -> ResponseHeader:
    return ResponseHeader(revision=state.revision)


def apply_compaction(
    state: EtcdState, request: CompactionRequest
) -> tuple[EtcdState, CompactionResponse | EtcdError]:
    """Compact at ``revision``: at or below the last compaction is ErrCompacted."""
    if request.revision <= state.compact_revision:
        return state, ERROR_COMPACTED
    if request.revision > state.revision:
        return state, ERROR_FUTURE_REVISION
    compacted = compact_history(state, request.revision)
    return compacted, CompactionResponse(header=_header(compacted))


def apply_lease_grant(
    state: EtcdState, request: LeaseGrantRequest, context: ApplyContext
) -> tuple[EtcdState, LeaseGrantResponse | EtcdError]:
    """Create a lease (its ID was chosen by the proposer); the revision does not move."""
    assert request.ID != 0, "the proposer chooses a lease ID before proposing a grant"
    if request.ID in state.leases:
        return state, ERROR_LEASE_EXISTS
    if request.TTL > MAX_LEASE_TTL_SECONDS:
        return state, ERROR_LEASE_TTL_TOO_LARGE
    ttl_seconds = max(request.TTL, MIN_LEASE_TTL_SECONDS)
    lease = Lease(
        ID=request.ID,
        granted_ttl_seconds=ttl_seconds,
        expiry_ms=context.now_ms + ttl_seconds * MILLISECONDS_PER_SECOND,
    )
    granted = msgspec.structs.replace(state, leases=state.leases.set(request.ID, lease))
    return granted, LeaseGrantResponse(header=_header(granted), ID=request.ID, TTL=ttl_seconds)


def apply_lease_revoke(
    state: EtcdState, request: LeaseRevokeRequest
) -> tuple[EtcdState, LeaseRevokeResponse | EtcdError]:
    """Delete the lease and its keys, all in one revision (none if it had no live keys)."""
    lease = state.leases.get(request.ID)
    if lease is None:
        return state, ERROR_LEASE_NOT_FOUND
    deletes = tuple(DeleteRangeRequest(key=key) for key in sorted(lease.keys))
    revoked, response = apply_txn(state, TxnRequest(success=deletes))
    assert not isinstance(response, EtcdError), "deleting single keys cannot fail"
    revoked = msgspec.structs.replace(revoked, leases=revoked.leases.delete(request.ID))
    return revoked, LeaseRevokeResponse(header=_header(revoked))


def apply_lease_keepalive(
    state: EtcdState, request: LeaseKeepAliveRequest, context: ApplyContext
) -> tuple[EtcdState, LeaseKeepAliveResponse]:
    """Renew for the granted TTL; an unknown lease gets TTL 0, as etcd answers."""
    lease = state.leases.get(request.ID)
    if lease is None:
        return state, LeaseKeepAliveResponse(header=_header(state), ID=request.ID, TTL=0)
    expiry_ms = context.now_ms + lease.granted_ttl_seconds * MILLISECONDS_PER_SECOND
    renewed = msgspec.structs.replace(
        state,
        leases=state.leases.set(request.ID, msgspec.structs.replace(lease, expiry_ms=expiry_ms)),
    )
    return renewed, LeaseKeepAliveResponse(
        header=_header(renewed), ID=request.ID, TTL=lease.granted_ttl_seconds
    )


def lease_time_to_live(
    state: EtcdState, request: LeaseTimeToLiveRequest, context: ApplyContext
) -> LeaseTimeToLiveResponse:
    """Whole seconds left (truncated, as etcd does), or -1 for an unknown lease."""
    lease = state.leases.get(request.ID)
    if lease is None:
        return LeaseTimeToLiveResponse(header=_header(state), ID=request.ID, TTL=-1)
    remaining_seconds = max(0, (lease.expiry_ms - context.now_ms) // MILLISECONDS_PER_SECOND)
    return LeaseTimeToLiveResponse(
        header=_header(state),
        ID=request.ID,
        TTL=remaining_seconds,
        grantedTTL=lease.granted_ttl_seconds,
        keys=tuple(sorted(lease.keys)) if request.keys else (),
    )


def lease_list(state: EtcdState, request: LeaseLeasesRequest) -> LeaseLeasesResponse:
    """Every live lease, ascending by ID."""
    del request
    return LeaseLeasesResponse(header=_header(state), leases=tuple(sorted(state.leases.keys())))


def expired_leases(state: EtcdState, now_ms: int) -> tuple[int, ...]:
    """Leases whose deadline has passed at ``now_ms``: the leader proposes their revocation."""
    return tuple(
        lease_id
        for lease_id in sorted(state.leases.keys())
        if state.leases[lease_id].expiry_ms <= now_ms
    )
