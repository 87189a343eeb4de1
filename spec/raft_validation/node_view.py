"""The reference's view of one Raft node: what it knows of the node's state.

A view holds the node's term, vote, role, commit index, configuration and log, plus what Raft
needs to judge its next steps: votes received, match indexes (leaders), the highest commit index
a follower may adopt, vote requests it may answer, and its persisted state. Log entries whose
term or kind the trace never revealed are unknown (term ``UNKNOWN_TERM``, kind ``"unknown"``);
a later event that reveals them pins them. The log is an ``immutables.Map`` from index to entry
plus ``last_index``: entries above ``last_index`` are stale and ignored, so truncation is O(1)
and appends O(log n), which keeps validation linear in the trace length.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

import msgspec
from immutables import Map
from msgspec import UNSET, UnsetType

from models.raft_events import ConfigChange, NodeState, Role
from spec.raft_validation.rules import Rule

UNKNOWN_TERM = -1

EntryKind: TypeAlias = Literal["normal", "unknown"] | tuple[ConfigChange, ...]
Entry: TypeAlias = tuple[int, EntryKind]
"""(term or UNKNOWN_TERM, kind): kind is "normal", "unknown", or a config entry's changes."""

UNKNOWN_ENTRY: Entry = (UNKNOWN_TERM, "unknown")

RESTARTED = -1
"""``applied_config_index`` after a restart: the node re-applies committed configuration entries
from its snapshot on, and the reference does not know where that is."""


class Failure(msgspec.Struct, frozen=True, kw_only=True):
    """Why a claimed transition is not allowed from a view: the rule and the details."""

    rule: Rule
    detail: str
    expected: str = ""
    reported: str = ""
    inconclusive: bool = False
    """The trace does not determine whether this is a violation (exit code 3)."""


class VoteRequestSeen(msgspec.Struct, frozen=True, kw_only=True):
    """A vote request the node received: may it be granted, and if not, why not."""

    term: int
    pre_vote: bool
    refusal: Failure | None


class Durable(msgspec.Struct, frozen=True, kw_only=True):
    """What the node last persisted."""

    term: int
    vote: str | None
    last_index: int


class NodeView(msgspec.Struct, frozen=True, kw_only=True):
    """The reference's knowledge of one node (see the module docstring)."""

    node: str
    term: int = 0
    vote: str | None = None
    role: Role = "follower"
    commit: int = 0
    last_index: int = 0
    log: Map[int, Entry] = msgspec.field(default_factory=Map)
    voters: frozenset[str] = frozenset()
    outgoing_voters: frozenset[str] = frozenset()
    learners: frozenset[str] = frozenset()
    applied_config_index: int = 0
    reapply_floor: int = 0
    """After a restart: entries up to here were applied before it (a snapshot's index) and are
    not applied again; the ones after may be (``RESTARTED``)."""
    config_indexes: tuple[int, ...] = ()
    votes_granted: frozenset[str] = frozenset()
    pre_votes_granted: frozenset[str] = frozenset()
    match: Map[str, int] = msgspec.field(default_factory=Map)
    commit_ceiling: int = 0
    vote_requests: Map[str, VoteRequestSeen] = msgspec.field(default_factory=Map)
    durable: Durable | None = None
    config_unknown: bool = False
    outgoing_unknown: bool = False
    """The incoming voters are known but not whether the configuration is joint (a snapshot's
    configuration known from etcd-io/raft's ``newconf``, which lists incoming voters only)."""
    append_refusal: Failure | None = None

    def key(self) -> tuple[object, ...]:
        """What distinguishes two candidate views for de-duplication."""
        return (
            self.term,
            self.vote,
            self.role,
            self.commit,
            self.last_index,
            self.voters,
            self.outgoing_voters,
            self.applied_config_index,
            self.commit_ceiling,
            self.votes_granted,
            self.config_unknown,
            self.outgoing_unknown,
        )


def entry_at(view: NodeView, index: int) -> Entry:
    """The entry at ``index`` (index 0 is the sentinel with term 0)."""
    if index == 0:
        return (0, "normal")
    if index > view.last_index:
        return UNKNOWN_ENTRY
    return view.log.get(index, UNKNOWN_ENTRY)


def term_at(view: NodeView, index: int) -> int:
    """The term of the entry at ``index``, or UNKNOWN_TERM."""
    return entry_at(view, index)[0]


def with_term_pinned(view: NodeView, index: int, term: int) -> NodeView | None:
    """The view with the entry at ``index`` known to have ``term``; None if it has another."""
    known = term_at(view, index)
    if known == term:
        return view
    if known != UNKNOWN_TERM or index > view.last_index or index == 0:
        return None
    entry = entry_at(view, index)
    return msgspec.structs.replace(view, log=view.log.set(index, (term, entry[1])))


def entries_between(view: NodeView, first: int, last: int) -> tuple[Entry, ...]:
    """Entries ``first..last`` inclusive (unknown where not known)."""
    return tuple(entry_at(view, index) for index in range(first, last + 1))


def with_appended(view: NodeView, entries: tuple[Entry, ...], after: int) -> NodeView:
    """The log with ``entries`` written at ``after+1...``, truncated after the last of them."""
    log = view.log
    config_indexes = tuple(index for index in view.config_indexes if index <= after)
    with log.mutate() as mutable:
        for offset, entry in enumerate(entries):
            index = after + 1 + offset
            if entry == UNKNOWN_ENTRY:
                if index in mutable:
                    del mutable[index]
            else:
                mutable[index] = entry
            if isinstance(entry[1], tuple):
                config_indexes = (*config_indexes, index)
        log = mutable.finish()
    return msgspec.structs.replace(
        view, log=log, last_index=after + len(entries), config_indexes=config_indexes
    )


def known_indexes(log: Map[int, object], first: int, last: int) -> list[int]:
    """The indexes in ``first..last`` that ``log`` stores an entry for, ascending. Costs the
    smaller of the span and the number of stored entries, never one step per unknown index."""
    if last < first:
        return []
    if last - first < len(log):
        return [index for index in range(first, last + 1) if index in log]
    return sorted(index for index in log if first <= index <= last)


def with_unknown_tail(view: NodeView, new_last_index: int) -> NodeView:
    """The log grown to ``new_last_index`` with entries the trace did not show. Unknown entries
    are not stored, so this costs the stale entries it clears, not the indexes it adds."""
    if new_last_index <= view.last_index:
        return view
    stale = known_indexes(view.log, view.last_index + 1, new_last_index)
    log = view.log
    if stale:
        with log.mutate() as mutable:
            for index in stale:
                del mutable[index]
            log = mutable.finish()
    return msgspec.structs.replace(view, log=log, last_index=new_last_index)


def with_unknown_log(view: NodeView, last_index: int) -> NodeView:
    """The log replaced by ``last_index`` entries the trace did not show (an unseen snapshot)."""
    return msgspec.structs.replace(view, log=Map(), last_index=last_index, config_indexes=())


class SnapshotLog(msgspec.Struct, frozen=True, kw_only=True):
    """The entries a snapshot carries: its sender's log (shared, not copied) up to ``index``."""

    log: Map[int, Entry]
    index: int
    config_indexes: tuple[int, ...]


Carried: TypeAlias = "tuple[Entry, ...] | SnapshotLog | None"
"""What a sent message carries: an append's entries, a snapshot's log, or nothing known."""


def snapshot_of(view: NodeView, index: int) -> SnapshotLog:
    """``view``'s log up to ``index`` as a snapshot, in constant time."""
    configs = tuple(config for config in view.config_indexes if config <= index)
    return SnapshotLog(log=view.log, index=index, config_indexes=configs)


def with_snapshot(view: NodeView, snapshot: SnapshotLog) -> NodeView:
    """The log replaced by ``snapshot``'s entries (entries above its index are stale)."""
    return msgspec.structs.replace(
        view, log=snapshot.log, last_index=snapshot.index, config_indexes=snapshot.config_indexes
    )


def with_overwritten(view: NodeView, entries: tuple[Entry, ...], after: int) -> NodeView:
    """``entries`` written at ``after+1...`` over matching entries; the log keeps its length
    when it was longer (no truncation: the entries agreed with what they replace)."""
    written = with_appended(view, entries, after)
    end = after + len(entries)
    if end >= view.last_index:
        return written
    kept = tuple(index for index in view.config_indexes if index > end)
    return msgspec.structs.replace(
        written, last_index=view.last_index, config_indexes=(*written.config_indexes, *kept)
    )


def is_up_to_date(
    candidate_last_term: int, candidate_last_index: int, own_last_term: int, own_last_index: int
) -> bool:
    """Raft section 5.4.1: the candidate's log is at least as up-to-date as the voter's."""
    if candidate_last_term != own_last_term:
        return candidate_last_term > own_last_term
    return candidate_last_index >= own_last_index


def majority_of(voters: frozenset[str], agreeing: frozenset[str]) -> bool:
    """Whether ``agreeing`` holds a majority of ``voters`` (the empty set has every majority)."""
    if not voters:
        return True
    return 2 * len(voters & agreeing) > len(voters)


def joint_majority(view: NodeView, agreeing: frozenset[str]) -> bool:
    """A majority of the incoming voters and of the outgoing voters (joint consensus)."""
    return majority_of(view.voters, agreeing) and majority_of(view.outgoing_voters, agreeing)


def quorum_index(view: NodeView) -> int:
    """The largest index stored (by match index) on a joint majority of the configuration."""

    def committed_by(voters: frozenset[str]) -> int:
        if not voters:
            return 1 << 62
        matched = sorted((view.match.get(voter, 0) for voter in voters), reverse=True)
        return matched[len(voters) // 2]

    return min(committed_by(view.voters), committed_by(view.outgoing_voters))


def describe_view(view: NodeView) -> str:
    """The view's state in words, as the reference expects it."""
    vote = view.vote if view.vote is not None else "none"
    last_term = term_at(view, view.last_index)
    shown_term = "?" if last_term == UNKNOWN_TERM else str(last_term)
    config = ",".join(sorted(view.voters))
    if view.outgoing_voters:
        config += " & " + ",".join(sorted(view.outgoing_voters))
    return (
        f"term={view.term} vote={vote} role={view.role} commit={view.commit} "
        f"last_log={view.last_index}/term {shown_term} voters={{{config}}}"
    )


def describe_state(state: NodeState | UnsetType) -> str:
    """A reported state in words; fields not reported are left out."""
    if state is UNSET:
        return "(no state reported)"
    parts: list[str] = []
    if state.term is not UNSET:
        parts.append(f"term={state.term}")
    if state.vote is not UNSET:
        parts.append(f"vote={state.vote if state.vote is not None else 'none'}")
    if state.role is not UNSET:
        parts.append(f"role={state.role}")
    if state.commit_index is not UNSET:
        parts.append(f"commit={state.commit_index}")
    if state.last_log_index is not UNSET:
        last_term = "" if state.last_log_term is UNSET else f"/term {state.last_log_term}"
        parts.append(f"last_log={state.last_log_index}{last_term}")
    if state.config is not UNSET:
        config = ",".join(sorted(state.config.voters))
        if state.config.outgoing_voters:
            config += " & " + ",".join(sorted(state.config.outgoing_voters))
        parts.append(f"voters={{{config}}}")
    return " ".join(parts) or "(no state reported)"


def with_leader_entry(view: NodeView, entry: Entry) -> NodeView:
    """A leader's view after it appends ``entry``: its own match index follows its log."""
    appended = with_appended(view, (entry,), view.last_index)
    return msgspec.structs.replace(
        appended, match=appended.match.set(view.node, appended.last_index)
    )
