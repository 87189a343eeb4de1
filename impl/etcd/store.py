"""The MVCC keyspace as an immutable value, and reads from it at any retained revision.

Theory of operation. The store keeps, per key, the ascending tuple of its versions (a
``KeyValue`` per write; a deletion is a tombstone, a ``KeyValue`` with version 0), the sorted
tuple of every key that has history, and per revision the events that revision produced (what
watches replay). ``revision`` starts at 1 and grows by exactly one per transaction that wrote
something. ``compact_revision`` starts at -1 (etcd lets a client compact revision 0); reading
below it fails with ErrCompacted. Compaction keeps, per key, the newest version at or below the
compaction revision unless it is a tombstone, so reads at the compaction revision still work.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator

import immutables
import msgspec

from impl.etcd.auth import AuthState, Role, User, with_permissions
from models.etcd import Event, KeyValue, range_end_covers

EMPTY_KEY_HISTORY: tuple[KeyValue, ...] = ()


class Lease(msgspec.Struct, frozen=True, kw_only=True):
    """A live lease: its granted TTL, its deadline in logical milliseconds, its keys."""

    ID: int
    granted_ttl_seconds: int
    expiry_ms: int
    keys: frozenset[bytes] = frozenset()


class EtcdState(msgspec.Struct, frozen=True, kw_only=True):
    """Everything etcd's apply loop owns: keyspace history, events per revision, leases, and
    the auth store (:mod:`impl.etcd.auth`)."""

    revision: int = 1
    compact_revision: int = -1
    history: immutables.Map[bytes, tuple[KeyValue, ...]] = msgspec.field(
        default_factory=immutables.Map
    )
    sorted_keys: tuple[bytes, ...] = ()
    events: immutables.Map[int, tuple[Event, ...]] = msgspec.field(default_factory=immutables.Map)
    leases: immutables.Map[int, Lease] = msgspec.field(default_factory=immutables.Map)
    auth: AuthState = msgspec.field(default_factory=AuthState)


def is_tombstone(kv: KeyValue) -> bool:
    """A deletion marker: version 0."""
    return kv.version == 0


def version_at(versions: tuple[KeyValue, ...], revision: int) -> KeyValue | None:
    """The key's live value at ``revision``, or None if absent (never written or deleted)."""
    mod_revisions = [kv.mod_revision for kv in versions]
    index = bisect.bisect_right(mod_revisions, revision) - 1
    if index < 0:
        return None
    found = versions[index]
    return None if is_tombstone(found) else found


def current_value(state: EtcdState, key: bytes) -> KeyValue | None:
    """The key's live value at the store's current revision."""
    versions = state.history.get(key, EMPTY_KEY_HISTORY)
    if not versions or is_tombstone(versions[-1]):
        return None
    return versions[-1]


def keys_in_range(state: EtcdState, key: bytes, range_end: bytes) -> Iterator[bytes]:
    """Keys with history in ``[key, range_end)`` (etcd's conventions), ascending."""
    if range_end == b"":
        if key in state.history:
            yield key
        return
    start = bisect.bisect_left(state.sorted_keys, key)
    for candidate in state.sorted_keys[start:]:
        if not range_end_covers(key, range_end, candidate):
            return
        yield candidate


def live_values(
    state: EtcdState, key: bytes, range_end: bytes, revision: int
) -> tuple[KeyValue, ...]:
    """The live key-values of a range at ``revision`` (not checked against compaction)."""
    found = []
    for candidate in keys_in_range(state, key, range_end):
        kv = version_at(state.history[candidate], revision)
        if kv is not None:
            found.append(kv)
    return tuple(found)


def with_new_key(state: EtcdState, key: bytes) -> tuple[bytes, ...]:
    """``sorted_keys`` including ``key``."""
    if key in state.history:
        return state.sorted_keys
    index = bisect.bisect_left(state.sorted_keys, key)
    return (*state.sorted_keys[:index], key, *state.sorted_keys[index:])


def compact_history(state: EtcdState, revision: int) -> EtcdState:
    """Drop versions and events below ``revision``, keeping each key's value at ``revision``."""
    history = state.history.mutate()
    sorted_keys = []
    for key in state.sorted_keys:
        versions = state.history[key]
        kept = tuple(kv for kv in versions if kv.mod_revision > revision)
        at_revision = [kv for kv in versions if kv.mod_revision <= revision]
        if at_revision and not is_tombstone(at_revision[-1]):
            kept = (at_revision[-1], *kept)
        if kept:
            history[key] = kept
            sorted_keys.append(key)
        else:
            del history[key]
    events = state.events.mutate()
    for event_revision in sorted(state.events.keys()):
        if event_revision < revision:
            del events[event_revision]
    return msgspec.structs.replace(
        state,
        compact_revision=revision,
        history=history.finish(),
        sorted_keys=tuple(sorted_keys),
        events=events.finish(),
    )


class _Snapshot(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    """:class:`EtcdState` as plain sequences, for a Raft snapshot's data."""

    revision: int
    compact_revision: int
    history: tuple[tuple[bytes, tuple[KeyValue, ...]], ...]
    events: tuple[tuple[int, tuple[Event, ...]], ...]
    leases: tuple[Lease, ...]
    auth: _AuthSnapshot


class _AuthSnapshot(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    """:class:`AuthState` as plain sequences (users and roles by name, tokens by token)."""

    enabled: bool
    revision: int
    users: tuple[User, ...]
    roles: tuple[Role, ...]
    tokens: tuple[tuple[str, str], ...]


def _auth_snapshot(auth: AuthState) -> _AuthSnapshot:
    return _AuthSnapshot(
        enabled=auth.enabled,
        revision=auth.revision,
        users=tuple(auth.users[name] for name in sorted(auth.users)),
        roles=tuple(auth.roles[name] for name in sorted(auth.roles)),
        tokens=tuple(sorted(auth.tokens.items())),
    )


def encode_state(state: EtcdState) -> bytes:
    """The state as bytes (deterministic: every collection in sorted order)."""
    snapshot = _Snapshot(
        revision=state.revision,
        compact_revision=state.compact_revision,
        history=tuple((key, state.history[key]) for key in state.sorted_keys),
        events=tuple((revision, state.events[revision]) for revision in sorted(state.events)),
        leases=tuple(state.leases[lease_id] for lease_id in sorted(state.leases)),
        auth=_auth_snapshot(state.auth),
    )
    return msgspec.msgpack.encode(snapshot)


def decode_state(data: bytes) -> EtcdState:
    """The inverse of :func:`encode_state` (an empty snapshot is the initial state)."""
    if not data:
        return EtcdState()
    snapshot = msgspec.msgpack.decode(data, type=_Snapshot)
    return EtcdState(
        revision=snapshot.revision,
        compact_revision=snapshot.compact_revision,
        history=immutables.Map(snapshot.history),
        sorted_keys=tuple(key for key, _ in snapshot.history),
        events=immutables.Map(snapshot.events),
        leases=immutables.Map((lease.ID, lease) for lease in snapshot.leases),
        auth=with_permissions(
            AuthState(
                enabled=snapshot.auth.enabled,
                revision=snapshot.auth.revision,
                users=immutables.Map((user.name, user) for user in snapshot.auth.users),
                roles=immutables.Map((role.name, role) for role in snapshot.auth.roles),
                tokens=immutables.Map(snapshot.auth.tokens),
            )
        ),
    )
