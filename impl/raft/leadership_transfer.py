"""Leadership transfer (Ongaro thesis section 3.10; etcd MsgTransferLeader / MsgTimeoutNow).

Theory of operation. The leader is asked to hand over to a transferee (a voter). It stops
accepting proposals, brings the transferee's log up to date (ordinary replication), and once
the transferee's match index equals its last index sends MsgTimeoutNow. The transferee then
campaigns at once (without PreVote) and its vote requests are marked as a transfer, so voters
grant them even within a leader lease. If the transfer has not completed within an election
timeout the leader aborts it (``election._tick_leader``) and accepts proposals again. Requests
reaching a follower are forwarded to its leader.
"""

from __future__ import annotations

from impl.raft.election import campaign
from impl.raft.membership import is_voter
from impl.raft.replication import send_append
from impl.raft.transition import Transition
from models.raft import NO_NODE, MsgAppResp, MsgTimeoutNow, MsgTransferLeader


def _send_timeout_now(transition: Transition, to_id: int) -> None:
    state = transition.state
    transition.send(MsgTimeoutNow(from_id=state.node_id, to_id=to_id, term=state.persisted.term))


def leader_transfer(transition: Transition, transferee: int) -> None:
    """Leader: etcd ``stepLeader`` MsgTransferLeader."""
    state = transition.state
    progress = transition.progress_of(transferee)
    if progress is None or not is_voter(state.conf_state, transferee):
        return  # learners and strangers cannot lead
    if state.lead_transferee == transferee or transferee == state.node_id:
        return
    transition.update(election_elapsed_ticks=0, lead_transferee=transferee)
    if progress.match_index == state.persisted.last_index():
        _send_timeout_now(transition, transferee)
    else:
        send_append(transition, transferee)


def on_transfer_requested(transition: Transition, transferee: int) -> None:
    """A local request: the leader starts the transfer, a follower forwards it to its leader."""
    state = transition.state
    if state.role == "leader":
        leader_transfer(transition, transferee)
    elif state.lead != NO_NODE:
        transition.send(
            MsgTransferLeader(
                from_id=state.node_id, to_id=state.lead, term=0, transferee=transferee
            )
        )


def on_transfer_message(transition: Transition, message: MsgTransferLeader) -> None:
    state = transition.state
    if state.role == "leader":
        leader_transfer(transition, message.transferee)
    elif state.lead not in (NO_NODE, message.from_id):
        transition.send(
            MsgTransferLeader(
                from_id=state.node_id,
                to_id=state.lead,
                term=0,
                transferee=message.transferee,
            )
        )


def after_append_response(transition: Transition, message: MsgAppResp) -> None:
    """Leader: the transferee has caught up; tell it to campaign now."""
    state = transition.state
    if state.role != "leader" or message.from_id != state.lead_transferee or message.reject:
        return
    progress = transition.progress_of(message.from_id)
    if progress is not None and progress.match_index == state.persisted.last_index():
        _send_timeout_now(transition, message.from_id)


def on_timeout_now(transition: Transition, message: MsgTimeoutNow) -> None:
    """Follower: campaign immediately, as a transfer (etcd ``stepFollower`` MsgTimeoutNow)."""
    del message
    state = transition.state
    if state.role == "follower" and is_voter(state.conf_state, state.node_id):
        campaign(transition, "transfer")
