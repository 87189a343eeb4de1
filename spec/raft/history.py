"""The auxiliary history the Raft checker carries from one observation to the next.

Some properties are about time (a vote cast earlier in the term, an entry committed earlier, a
commit index seen before); the checker keeps exactly what it needs, in persistent maps, so each
step costs time proportional to what changed, not to the length of the run.
"""

from __future__ import annotations

import immutables
import msgspec

from models.raft import Entry, NodeObservation


class CommittedEntry(msgspec.Struct, frozen=True, kw_only=True):
    """An entry first seen committed by ``node_id`` when the highest term any node had
    reached was ``max_term_seen`` (every leader of a later term must hold it)."""

    entry: Entry
    node_id: int
    max_term_seen: int


class KnownEntry(msgspec.Struct, frozen=True, kw_only=True):
    """The first log seen holding entry (index, term): the entry and its predecessor's term."""

    entry: Entry
    previous_term: int
    node_id: int


class LeaderCheck(msgspec.Struct, frozen=True, kw_only=True):
    """How far a node's log, as leader of ``term``, was checked against committed entries."""

    term: int
    verified_index: int


class RaftHistory(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the checker remembers. Start with ``RaftHistory()``."""

    steps: int = 0
    previous: immutables.Map[int, NodeObservation] = immutables.Map()
    down_since_seen: frozenset[int] = frozenset()
    leaders_by_term: immutables.Map[int, int] = immutables.Map()
    votes: immutables.Map[tuple[int, int], int] = immutables.Map()
    committed: immutables.Map[int, CommittedEntry] = immutables.Map()
    max_committed_index: int = 0
    known_entries: immutables.Map[tuple[int, int], KnownEntry] = immutables.Map()
    leader_checks: immutables.Map[int, LeaderCheck] = immutables.Map()
    was_partitioned: bool = False
    commit_at_heal: int = -1
    joint_nodes: frozenset[int] = frozenset()
    sometimes_seen: frozenset[str] = frozenset()
