"""Log replication: AppendEntries, heartbeats, proposals (paper section 5.3; etcd ``raft.go``).

Theory of operation. The leader appends each proposal to its own log and sends MsgApp to every
member with the entries after ``next_index - 1`` and that entry's term (prev_log_index,
prev_log_term). A follower accepts only if its log holds an entry at prev_log_index with
prev_log_term (the consistency check); it then deletes any conflicting suffix, appends, raises
its commit index to min(leader commit, last new index) and answers with its new last index. On
rejection it answers with a hint: the largest index <= min(prev_log_index, its last index)
whose term is <= prev_log_term, and that term; the leader skips back over a whole term at once
(etcd fast back-off) rather than one entry per round trip. Heartbeats carry
min(match_index, commit_index) so a follower never commits an entry it may not hold. Whether a
member is probed, pipelined or sent a snapshot is the ``progress`` module's business.
"""

from __future__ import annotations

import msgspec

from impl.raft import log as log_ops
from impl.raft import progress as progress_ops
from impl.raft.commitment import commit_to, maybe_commit
from impl.raft.membership import apply_conf_change
from impl.raft.snapshot import send_snapshot
from impl.raft.transition import Transition
from models.raft import (
    ConfChangeV2,
    Entry,
    MsgApp,
    MsgAppResp,
    MsgHeartbeat,
    MsgHeartbeatResp,
    ProposalAccepted,
    ProposalRejected,
    RaftMutant,
    UnreachableReported,
)


def send_append(transition: Transition, to_id: int, send_if_empty: bool = True) -> bool:
    """Leader: send ``to_id`` the entries it needs, or a snapshot if they are compacted (etcd
    ``maybeSendAppend``). False when nothing was sent (paused, or nothing to send)."""
    progress = transition.progress_of(to_id)
    config = transition.config
    if progress is None or progress_ops.is_paused(progress, config.max_inflight_appends):
        return False
    state = transition.state
    persisted = state.persisted
    last_index = persisted.last_index()
    if progress.next_index > last_index + 1:
        progress = msgspec.structs.replace(progress, next_index=last_index + 1)
    prev_index = progress.next_index - 1
    prev_term = persisted.term_at(prev_index)
    if prev_term is None:
        return send_snapshot(transition, progress)
    high = min(last_index + 1, progress.next_index + config.max_entries_per_append)
    entries = log_ops.entries_between(persisted, progress.next_index, high)
    if not entries and not send_if_empty:
        return False
    transition.send(
        MsgApp(
            from_id=state.node_id,
            to_id=to_id,
            term=persisted.term,
            prev_log_index=prev_index,
            prev_log_term=prev_term,
            entries=entries,
            commit_index=persisted.commit_index,
        )
    )
    if entries:
        progress = progress_ops.sent_entries(progress, entries[-1].index)
    transition.set_progress(progress)
    return True


def bcast_append(transition: Transition) -> None:
    """Leader: send MsgApp to every other member, in node id order."""
    for progress in transition.state.progress:
        if progress.node_id != transition.state.node_id:
            send_append(transition, progress.node_id)


def bcast_heartbeat(transition: Transition, context: bytes) -> None:
    """Leader: MsgHeartbeat to every other member (paper section 5.2, etcd ``bcastHeartbeat``);
    the commit index sent is capped at the member's match index."""
    state = transition.state
    for progress in state.progress:
        if progress.node_id == state.node_id:
            continue
        transition.send(
            MsgHeartbeat(
                from_id=state.node_id,
                to_id=progress.node_id,
                term=state.persisted.term,
                commit_index=min(progress.match_index, state.persisted.commit_index),
                context=context,
            )
        )


def append_as_leader(transition: Transition, entries: tuple[Entry, ...]) -> None:
    """Leader: append to its own log (Leader Append-Only), count itself, try to commit."""
    state = transition.state
    log_ops.append_after(transition, entries)
    own = transition.progress_of(state.node_id)
    if own is not None:
        updated, _ = progress_ops.maybe_update(own, transition.state.persisted.last_index())
        transition.set_progress(updated)
    maybe_commit(transition)


def propose(transition: Transition, data: bytes, conf_change: ConfChangeV2 | None) -> None:
    """A client proposal (etcd ``stepLeader`` MsgProp). Non-leaders reject it with the leader
    they know. A conf change proposed while another is unapplied, or invalid now, becomes an
    empty normal entry (etcd); otherwise it sets ``pending_conf_index``."""
    state = transition.state
    persisted = state.persisted
    if state.role != "leader" or transition.progress_of(state.node_id) is None:
        transition.emit(ProposalRejected(reason="not_leader", leader_hint=state.lead))
        return
    if state.lead_transferee != 0:
        transition.emit(
            ProposalRejected(reason="leadership_transfer_in_progress", leader_hint=state.node_id)
        )
        return
    index = persisted.last_index() + 1
    if index - persisted.commit_index > transition.config.max_uncommitted_entries:
        transition.emit(
            ProposalRejected(reason="too_many_uncommitted_entries", leader_hint=state.node_id)
        )
        return
    entry = Entry(term=persisted.term, index=index, data=data)
    refused = ""
    if conf_change is not None:
        if state.pending_conf_index > state.applied_index:
            refused = (
                f"possible unapplied conf change at index {state.pending_conf_index} "
                f"(applied to {state.applied_index})"
            )
        else:
            refused = apply_conf_change(state.conf_state, conf_change).swap().value_or("")
        if not refused:
            entry = Entry(
                term=persisted.term, index=index, kind="conf_change", conf_change=conf_change
            )
            transition.update(pending_conf_index=index)
    append_as_leader(transition, (entry,))
    transition.emit(ProposalAccepted(index=index, term=persisted.term, conf_change_refused=refused))
    bcast_append(transition)


def _respond(
    transition: Transition,
    to_id: int,
    index: int,
    reject: bool = False,
    reject_hint: int = 0,
    log_term: int = 0,
) -> None:
    state = transition.state
    transition.send(
        MsgAppResp(
            from_id=state.node_id,
            to_id=to_id,
            term=state.persisted.term,
            index=index,
            reject=reject,
            reject_hint=reject_hint,
            log_term=log_term,
        )
    )


def on_append_entries(transition: Transition, message: MsgApp) -> None:
    """Follower: AppendEntries receiver (paper Figure 2, section 5.3; etcd
    ``handleAppendEntries`` and ``raftLog.maybeAppend``)."""
    persisted = transition.state.persisted
    if message.prev_log_index < persisted.commit_index:
        _respond(transition, message.from_id, persisted.commit_index)
        return
    matched = log_ops.match_term(persisted, message.prev_log_index, message.prev_log_term)
    if transition.config.mutant is RaftMutant.SKIP_CONSISTENCY_CHECK:
        matched = persisted.first_index() - 1 <= message.prev_log_index <= persisted.last_index()
    if not matched:
        hint = min(message.prev_log_index, persisted.last_index())
        hint = log_ops.find_conflict_by_term(persisted, hint, message.prev_log_term)
        hint_term = persisted.term_at(hint) or 0
        _respond(transition, message.from_id, message.prev_log_index, True, hint, hint_term)
        return
    last_new = message.prev_log_index + len(message.entries)
    conflict = log_ops.find_conflict(persisted, message.entries)
    if conflict != 0:
        if conflict <= persisted.commit_index:
            # etcd panics here; only a mutant can get here, and the overwrite is its bug.
            assert transition.config.mutant is not None, (
                f"entry {conflict} conflicts with committed entries (commit "
                f"{persisted.commit_index})"
            )
        offset = conflict - (message.prev_log_index + 1)
        log_ops.append_after(transition, message.entries[offset:])
        persisted = transition.state.persisted
        if persisted.commit_index > persisted.last_index():
            transition.update_persisted(commit_index=persisted.last_index())
    elif (
        transition.config.mutant is RaftMutant.TRUNCATE_WITHOUT_CONFLICT
        and last_new < persisted.last_index()
    ):
        # The mutant's bug: nothing conflicts, yet the entries after the message's go. The
        # last kept entry is written again, so storage drops what follows it too.
        kept = persisted.log[: last_new + 1 - persisted.first_index()]
        transition.set_log(kept, dirty_from=max(last_new, persisted.first_index()))
        if persisted.commit_index > last_new:
            transition.update_persisted(commit_index=last_new)
    commit_to(transition, min(message.commit_index, last_new))
    _respond(transition, message.from_id, last_new)


def on_heartbeat(transition: Transition, message: MsgHeartbeat) -> None:
    """Follower: learn the commit index, answer with the ReadIndex context (etcd
    ``handleHeartbeat``)."""
    state = transition.state
    commit_to(transition, min(message.commit_index, state.persisted.last_index()))
    transition.send(
        MsgHeartbeatResp(
            from_id=state.node_id,
            to_id=message.from_id,
            term=state.persisted.term,
            context=message.context,
        )
    )


def _send_while_possible(transition: Transition, to_id: int) -> None:
    # Bounded: each MsgApp either fills an inflight slot or marks the probe as sent.
    for _ in range(transition.config.max_inflight_appends):
        if not send_append(transition, to_id, send_if_empty=False):
            return


def on_append_response(transition: Transition, message: MsgAppResp) -> None:
    """Leader: a MsgAppResp (etcd ``stepLeader``). A rejection moves ``next_index`` back using
    the follower's hint; an acceptance raises ``match_index``, may commit, and lets more
    entries flow."""
    progress = transition.progress_of(message.from_id)
    if progress is None:
        return
    progress = msgspec.structs.replace(progress, recent_active=True)
    persisted = transition.state.persisted
    if message.reject:
        next_probe = message.reject_hint
        if message.log_term > 0:
            next_probe = log_ops.find_conflict_by_term(
                persisted, message.reject_hint, message.log_term
            )
        decreased = progress_ops.maybe_decrease_to(progress, message.index, next_probe)
        if decreased is None:
            transition.set_progress(progress)
            return
        if decreased.state == "replicate":
            decreased = progress_ops.become_probe(decreased)
        transition.set_progress(decreased)
        send_append(transition, message.from_id)
        return
    was_paused = progress_ops.is_paused(progress, transition.config.max_inflight_appends)
    updated, grew = progress_ops.maybe_update(progress, message.index)
    # etcd also lets an answer that repeats match_index move a probed member to replicate;
    # not when the entries after match are compacted: the member needs a snapshot, and a
    # member that refused one (it is not in the snapshot's configuration) answers exactly so,
    # which would otherwise resend the snapshot at once, forever. It waits for a heartbeat.
    recovers = (
        progress.state == "probe"
        and progress.match_index == message.index
        and progress.match_index + 1 >= persisted.first_index()
    )
    if not grew and not recovers:
        transition.set_progress(updated)
        return
    if updated.state == "probe":
        updated = progress_ops.become_replicate(updated)
    elif updated.state == "snapshot" and updated.match_index + 1 >= persisted.first_index():
        updated = progress_ops.become_replicate(progress_ops.become_probe(updated))
    elif updated.state == "replicate":
        updated = progress_ops.free_inflight_up_to(updated, message.index)
    transition.set_progress(updated)
    if maybe_commit(transition):
        bcast_append(transition)
    elif was_paused:
        send_append(transition, message.from_id)
    _send_while_possible(transition, message.from_id)


def on_heartbeat_response(transition: Transition, message: MsgHeartbeatResp) -> None:
    """Leader: the member is alive; unblock a probe, free a slot of a full window, and send
    what it is missing (etcd ``stepLeader`` MsgHeartbeatResp)."""
    progress = transition.progress_of(message.from_id)
    if progress is None:
        return
    progress = msgspec.structs.replace(progress, recent_active=True, probe_sent=False)
    if progress.state == "replicate" and progress_ops.is_paused(
        progress, transition.config.max_inflight_appends
    ):
        progress = progress_ops.free_first_inflight(progress)
    transition.set_progress(progress)
    if progress.match_index < transition.state.persisted.last_index():
        send_append(transition, message.from_id)


def on_unreachable(transition: Transition, event: UnreachableReported) -> None:
    """Leader: a member could not be reached; stop pipelining to it (etcd MsgUnreachable)."""
    if transition.state.role != "leader":
        return
    progress = transition.progress_of(event.node_id)
    if progress is not None and progress.state == "replicate":
        transition.set_progress(progress_ops.become_probe(progress))
