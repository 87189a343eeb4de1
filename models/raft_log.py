"""Raft log vocabulary: entries, membership configurations, conf changes, snapshots and the
state a node keeps on stable storage. Re-exported by ``models.raft``, where most code imports
these names from.
"""

from __future__ import annotations

from typing import Literal

import msgspec

NodeId = int
NO_NODE: NodeId = 0

EntryKind = Literal["normal", "conf_change"]
ConfChangeType = Literal["add_node", "remove_node", "add_learner_node"]
ConfChangeTransition = Literal["auto", "implicit", "explicit"]


class ConfChangeSingle(msgspec.Struct, frozen=True, kw_only=True):
    """One membership change (etcd ``ConfChangeSingle``). Promoting a learner is ``add_node``
    on a node that is currently a learner."""

    type: ConfChangeType
    node_id: NodeId


class ConfChangeV2(msgspec.Struct, frozen=True, kw_only=True):
    """A membership change (etcd ``ConfChangeV2``).

    - One change with ``transition="auto"`` is a simple change (etcd ``ConfChange`` v1): it
      takes effect directly, without a joint configuration.
    - Several changes (or ``transition`` ``implicit``/``explicit``) enter a joint configuration.
      ``auto``/``implicit`` leave it automatically once it is applied; ``explicit`` waits for a
      ``ConfChangeV2`` with no changes, which leaves the joint configuration.
    """

    transition: ConfChangeTransition = "auto"
    changes: tuple[ConfChangeSingle, ...] = ()
    context: bytes = b""

    def leaves_joint(self) -> bool:
        """True for the empty change that leaves a joint configuration (etcd ``LeaveJoint``)."""
        return self.transition == "auto" and len(self.changes) == 0

    def enters_joint(self) -> bool:
        """True when applying this change enters a joint configuration (etcd ``EnterJoint``)."""
        return self.transition != "auto" or len(self.changes) > 1

    def auto_leave(self) -> bool:
        """Whether a joint configuration entered by this change is left automatically."""
        return self.transition in ("auto", "implicit")


class Entry(msgspec.Struct, frozen=True, kw_only=True):
    """A log entry. ``kind="conf_change"`` entries carry ``conf_change``; an empty normal entry
    (``data=b""``) is what a new leader appends at the start of its term."""

    term: int
    index: int
    kind: EntryKind = "normal"
    data: bytes = b""
    conf_change: ConfChangeV2 | None = None


class ConfState(msgspec.Struct, frozen=True, kw_only=True):
    """A membership configuration (etcd ``ConfState``); all id tuples are sorted.

    ``voters_outgoing`` is non-empty exactly in a joint configuration (C_old of C_old,new).
    ``learners_next`` are voters of the outgoing half that become learners when the joint
    configuration is left. ``auto_leave``: leave the joint configuration automatically.
    """

    voters: tuple[NodeId, ...] = ()
    voters_outgoing: tuple[NodeId, ...] = ()
    learners: tuple[NodeId, ...] = ()
    learners_next: tuple[NodeId, ...] = ()
    auto_leave: bool = False

    def is_joint(self) -> bool:
        return len(self.voters_outgoing) > 0

    def all_voters(self) -> tuple[NodeId, ...]:
        """Voters of either half, sorted."""
        return tuple(sorted(set(self.voters) | set(self.voters_outgoing)))

    def members(self) -> tuple[NodeId, ...]:
        """Every node that receives replication: voters of either half and learners, sorted."""
        return tuple(
            sorted(
                set(self.voters)
                | set(self.voters_outgoing)
                | set(self.learners)
                | set(self.learners_next)
            )
        )


class SnapshotMetadata(msgspec.Struct, frozen=True, kw_only=True):
    """The last entry a snapshot covers and the configuration as of that entry."""

    index: int = 0
    term: int = 0
    conf_state: ConfState = ConfState()


class Snapshot(msgspec.Struct, frozen=True, kw_only=True):
    """Application state up to ``metadata.index`` (opaque to Raft)."""

    metadata: SnapshotMetadata = SnapshotMetadata()
    data: bytes = b""


class PersistedState(msgspec.Struct, frozen=True, kw_only=True):
    """What a node keeps on stable storage (etcd ``HardState`` + log + snapshot).

    ``log`` holds the entries after ``snapshot.metadata.index``, consecutive, ascending.
    ``commit_index`` is persisted as etcd persists ``HardState.Commit``.
    """

    term: int = 0
    vote: NodeId = NO_NODE
    commit_index: int = 0
    log: tuple[Entry, ...] = ()
    snapshot: Snapshot = Snapshot()

    def first_index(self) -> int:
        """Index of the first entry that may be in ``log`` (snapshot index + 1)."""
        return self.snapshot.metadata.index + 1

    def last_index(self) -> int:
        return self.log[-1].index if self.log else self.snapshot.metadata.index

    def last_term(self) -> int:
        return self.log[-1].term if self.log else self.snapshot.metadata.term

    def term_at(self, index: int) -> int | None:
        """Term of the entry at ``index``; the snapshot's term at its index; ``None`` when the
        index is compacted away or beyond the log."""
        snapshot_index = self.snapshot.metadata.index
        if index == snapshot_index:
            return self.snapshot.metadata.term
        if index < snapshot_index or index > self.last_index():
            return None
        return self.log[index - snapshot_index - 1].term

    def entry_at(self, index: int) -> Entry | None:
        """The entry at ``index`` if it is in ``log`` (not compacted, not beyond the end)."""
        offset = index - self.snapshot.metadata.index - 1
        if offset < 0 or offset >= len(self.log):
            return None
        return self.log[offset]
