"""Membership changes as etcd raft makes them (``confchange`` package; paper section 6).

Theory of operation. A conf change is an ordinary log entry; it takes effect on each node when
that node APPLIES it (etcd ``ApplyConfChange``), never on append. The leader allows only one
unapplied conf change at a time (``pending_conf_index``); a proposal made while one is pending
(or one that is invalid now) is replaced by an empty normal entry, as etcd does.

Three shapes (etcd ``ConfChangeV2``):
- simple: a single change with transition ``auto``; at most one voter may change, so any two
  successive majorities intersect;
- enter joint: several changes, or transition ``implicit``/``explicit``: the old voters become
  ``voters_outgoing`` and decisions need both majorities (C_old,new); ``auto_leave`` is set for
  ``auto``/``implicit``;
- leave joint: an empty change with transition ``auto``: ``voters_outgoing`` is dropped and
  ``learners_next`` (voters being demoted) become learners.

Changes: ``add_node`` (add a voter, or promote a learner), ``add_learner_node`` (add a learner,
or demote a voter; a voter still in the outgoing half becomes ``learners_next``),
``remove_node``. A configuration without voters is refused.
"""

from __future__ import annotations

import msgspec
from returns.result import Failure, Result, Success

from impl.raft.transition import Transition
from models.raft import ConfChangeSingle, ConfChangeV2, ConfState, Progress


def _with(ids: tuple[int, ...], node_id: int) -> tuple[int, ...]:
    return ids if node_id in ids else tuple(sorted((*ids, node_id)))


def _without(ids: tuple[int, ...], node_id: int) -> tuple[int, ...]:
    return tuple(member for member in ids if member != node_id)


def _apply_single(conf: ConfState, change: ConfChangeSingle) -> ConfState:
    node_id = change.node_id
    voters = _without(conf.voters, node_id)
    learners = _without(conf.learners, node_id)
    learners_next = _without(conf.learners_next, node_id)
    if change.type == "add_node":
        voters = _with(voters, node_id)
    elif change.type == "add_learner_node":
        if node_id in conf.voters_outgoing:
            learners_next = _with(learners_next, node_id)
        else:
            learners = _with(learners, node_id)
    return ConfState(
        voters=voters,
        voters_outgoing=conf.voters_outgoing,
        learners=learners,
        learners_next=learners_next,
        auto_leave=conf.auto_leave,
    )


def _apply_changes(
    conf: ConfState, changes: tuple[ConfChangeSingle, ...]
) -> Result[ConfState, str]:
    for change in changes:
        if change.node_id <= 0:
            return Failure(f"invalid node id {change.node_id}")
        conf = _apply_single(conf, change)
    if not conf.voters:
        return Failure("removed all voters")
    return Success(conf)


def apply_conf_change(conf: ConfState, change: ConfChangeV2) -> Result[ConfState, str]:
    """The configuration after ``change``, or why it is refused (etcd ``confchange.Changer``)."""
    if change.leaves_joint():
        if not conf.is_joint():
            return Failure("not in joint state; refusing empty conf change")
        return Success(
            ConfState(
                voters=conf.voters,
                learners=tuple(sorted(set(conf.learners) | set(conf.learners_next))),
            )
        )
    if conf.is_joint():
        return Failure("must transition out of joint config first")
    if change.enters_joint():
        if not conf.voters:
            return Failure("can't make a zero-voter config joint")
        joint = ConfState(
            voters=conf.voters,
            voters_outgoing=conf.voters,
            learners=conf.learners,
            auto_leave=change.auto_leave(),
        )
        return _apply_changes(joint, change.changes)
    result = _apply_changes(conf, change.changes)
    if isinstance(result, Success):
        changed = set(conf.voters) ^ set(result.unwrap().voters)
        if len(changed) > 1:
            return Failure("more than one voter changed without entering joint config")
    return result


def switch_to_config(transition: Transition, conf_state: ConfState) -> None:
    """Adopt ``conf_state``; a leader also keeps the progress of continuing members, adds
    fresh progress for new ones (probing from its last index) and drops removed ones."""
    state = transition.state
    if state.role != "leader":
        transition.update(conf_state=conf_state)  # only a leader tracks progress
        return
    last_index = state.persisted.last_index()
    # learners_next are still voters of the outgoing half: they replicate as voters.
    learners = set(conf_state.learners)
    existing = {progress.node_id: progress for progress in state.progress}
    members: list[Progress] = []
    for node_id in conf_state.members():
        is_learner = node_id in learners
        previous = existing.get(node_id)
        if previous is None:
            # etcd ``initProgress``: a new member is probed from the last index and counts as
            # recently active, so CheckQuorum does not fire before it had a chance to answer.
            members.append(
                Progress(
                    node_id=node_id,
                    match_index=0,
                    next_index=max(last_index, 1),
                    recent_active=True,
                    is_learner=is_learner,
                )
            )
        else:
            members.append(msgspec.structs.replace(previous, is_learner=is_learner))
    transition.update(conf_state=conf_state, progress=tuple(members))


def is_voter(conf_state: ConfState, node_id: int) -> bool:
    """Voter in either half (so it may campaign: etcd ``promotable``)."""
    return node_id in conf_state.voters or node_id in conf_state.voters_outgoing
