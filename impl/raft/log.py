"""Operations on the replicated log (etcd ``raftLog``): matching, conflicts, appending.

The log is ``PersistedState.log``: the consecutive entries after the snapshot. These functions
read it directly or write it through ``Transition.set_log``, which records what to persist.
"""

from __future__ import annotations

from impl.raft.transition import Transition
from models.raft import Entry, PersistedState


def match_term(persisted: PersistedState, index: int, term: int) -> bool:
    """True when the log holds an entry (or the snapshot point) at ``index`` with ``term``."""
    return persisted.term_at(index) == term


def is_up_to_date(persisted: PersistedState, last_index: int, last_term: int) -> bool:
    """Paper section 5.4.1: a log is at least as up-to-date as ours if its last term is
    greater, or equal with an index at least as large."""
    our_term = persisted.last_term()
    return last_term > our_term or (last_term == our_term and last_index >= persisted.last_index())


def find_conflict(persisted: PersistedState, entries: tuple[Entry, ...]) -> int:
    """The index of the first entry whose term differs from ours (or is beyond our log);
    0 when every entry is already present (etcd ``findConflict``)."""
    for entry in entries:
        if not match_term(persisted, entry.index, entry.term):
            return entry.index
    return 0


def find_conflict_by_term(persisted: PersistedState, index: int, term: int) -> int:
    """The largest index <= ``index`` whose term is <= ``term`` (etcd ``findConflictByTerm``);
    stops at the first index whose term is unknown (compacted)."""
    snapshot_index = persisted.snapshot.metadata.index
    # Bounded: walks at most down to the snapshot index.
    while index > snapshot_index:
        our_term = persisted.term_at(index)
        if our_term is None or our_term <= term:
            return index
        index -= 1
    return index


def entries_between(persisted: PersistedState, low: int, high: int) -> tuple[Entry, ...]:
    """Entries with low <= index < high (both within the log)."""
    first = persisted.first_index()
    assert low >= first, f"entries from {low} are compacted (first index {first})"
    return persisted.log[low - first : high - first]


def append_after(transition: Transition, entries: tuple[Entry, ...]) -> None:
    """Write ``entries``, deleting any existing entry at or after the first one's index
    (paper Figure 2, AppendEntries step 3-4)."""
    if not entries:
        return
    persisted = transition.state.persisted
    first_new = entries[0].index
    assert persisted.first_index() <= first_new <= persisted.last_index() + 1, (
        f"append at {first_new} outside [{persisted.first_index()}, {persisted.last_index() + 1}]"
    )
    kept = persisted.log[: first_new - persisted.first_index()]
    transition.set_log((*kept, *entries), dirty_from=first_new)
