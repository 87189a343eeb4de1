"""Applying committed entries, and what a conf change does when it is applied.

Theory of operation. After every event the dispatcher calls ``apply_committed``: entries
between ``applied_index`` and ``commit_index`` are handed to the application
(``CommitAdvanced``, ``ApplyEntries``) and ``applied_index`` catches up. This is where a
membership change takes effect (etcd ``ApplyConfChange``): the configuration and the leader's
progress set switch, and the leader re-evaluates commitment under the new quorum. Then:
- a leader that is no longer a voter steps down (etcd ``StepDownOnRemoval``);
- a leader transfer to a node that is no longer a voter is aborted;
- a leader whose joint configuration has ``auto_leave`` proposes the empty conf change that
  leaves it, once the entering change is applied (etcd ``appliedTo``).
Applying may commit more (a smaller quorum), so the loop repeats; each round applies at least
one entry, so it ends.
"""

from __future__ import annotations

from returns.result import Success

from impl.raft.commitment import maybe_commit
from impl.raft.election import become_follower
from impl.raft.membership import apply_conf_change, is_voter, switch_to_config
from impl.raft.replication import append_as_leader, bcast_append, send_append
from impl.raft.transition import Transition
from models.raft import (
    NO_NODE,
    ApplyEntries,
    CommitAdvanced,
    ConfChangeApplied,
    ConfChangeV2,
    Entry,
)


def _apply_conf_entry(transition: Transition, entry: Entry) -> None:
    assert entry.conf_change is not None
    current = transition.state.conf_state
    result = apply_conf_change(current, entry.conf_change)
    # A change that is invalid now is a no-op: the leader validated it when it was proposed,
    # and at most one is unapplied at a time, so this only happens with foreign logs.
    conf_state = result.unwrap() if isinstance(result, Success) else current
    switch_to_config(transition, conf_state)
    transition.emit(ConfChangeApplied(index=entry.index, conf_state=conf_state))
    state = transition.state
    if state.role != "leader":
        return
    if not is_voter(conf_state, state.node_id):
        become_follower(transition, state.persisted.term, NO_NODE)
        return
    if maybe_commit(transition):
        bcast_append(transition)
    else:
        for progress in state.progress:
            if progress.node_id != state.node_id:
                send_append(transition, progress.node_id, send_if_empty=False)
    if state.lead_transferee != NO_NODE and not is_voter(conf_state, state.lead_transferee):
        transition.update(lead_transferee=NO_NODE)


def _maybe_auto_leave(transition: Transition, old_applied: int) -> None:
    state = transition.state
    conf = state.conf_state
    if (
        state.role == "leader"
        and conf.auto_leave
        and conf.is_joint()
        and old_applied <= state.pending_conf_index <= state.applied_index
    ):
        index = state.persisted.last_index() + 1
        leave = Entry(
            term=state.persisted.term,
            index=index,
            kind="conf_change",
            conf_change=ConfChangeV2(),
        )
        transition.update(pending_conf_index=index)
        append_as_leader(transition, (leave,))
        bcast_append(transition)


def apply_committed(transition: Transition) -> None:
    """Hand committed entries to the application, in log order; apply conf changes."""
    # Bounded: each round applies at least one entry of a finite log.
    for _ in range(transition.state.persisted.last_index() + 1):
        state = transition.state
        persisted = state.persisted
        old_applied = state.applied_index
        if persisted.commit_index <= old_applied:
            return
        first = persisted.first_index()
        entries = persisted.log[old_applied + 1 - first : persisted.commit_index + 1 - first]
        transition.update(applied_index=persisted.commit_index)
        transition.emit(CommitAdvanced(commit_index=persisted.commit_index))
        transition.emit(ApplyEntries(entries=entries))
        for entry in entries:
            if entry.kind == "conf_change" and entry.conf_change is not None:
                _apply_conf_entry(transition, entry)
        _maybe_auto_leave(transition, old_applied)
