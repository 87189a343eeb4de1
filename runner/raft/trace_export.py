"""Exporting simulator runs as per-node Raft event traces, in kubeoracle's format and etcd's.

``node_events(parsed)`` re-runs a simulator trace's actions on the cluster (the same
``apply_action`` the simulator used) and turns each action into what the nodes would log:
a delivered message is a receive at its destination, each ``SendMessage`` a send, each
``RoleChanged`` a become-* event, new entries of a leader's own term appends, ``CommitAdvanced``
a commit, ``ConfChangeApplied`` an apply-config, ``Persist*`` a persist, a restart an init.
The node's state is tracked through the action the way etcd-io/raft reports it (a receive shows
the state before handling it, a granted vote shows the vote before it is recorded, ...), so the
same events serve both writers:

- ``runner.raft.trace_writers.kubeoracle_lines``: kubeoracle's event format;
- ``runner.raft.trace_writers.etcd_lines``: etcd-io/raft's trace NDJSON.

Messages etcd-io/raft does not trace (ReadIndex, TimeoutNow, TransferLeader) are left out.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from models.environment import Deliver, Restart
from models.raft import (
    ApplySnapshot,
    Command,
    CommitAdvanced,
    ConfChangeApplied,
    ConfState,
    Entry,
    Message,
    MsgApp,
    MsgAppResp,
    MsgHeartbeat,
    MsgHeartbeatResp,
    MsgPreVote,
    MsgPreVoteResp,
    MsgSnap,
    MsgVote,
    MsgVoteResp,
    PersistEntries,
    PersistHardState,
    PersistSnapshot,
    RaftNodeState,
    RoleChanged,
    SendMessage,
)
from runner.raft.cluster import (
    Applied,
    ClusterState,
    apply_action,
    cluster_config,
    initial_state,
)
from runner.sim.trace import ParsedTrace

BECOME = {
    "follower": "BecomeFollower",
    "pre_candidate": "BecomePreCandidate",
    "candidate": "BecomeCandidate",
    "leader": "BecomeLeader",
}
TRACED_MESSAGES = (
    MsgApp,
    MsgAppResp,
    MsgHeartbeat,
    MsgHeartbeatResp,
    MsgPreVote,
    MsgPreVoteResp,
    MsgSnap,
    MsgVote,
    MsgVoteResp,
)


@dataclass(frozen=True, slots=True)
class Shown:
    """A node's state as one trace line shows it."""

    term: int
    vote: int
    role: str
    commit: int
    last_index: int
    last_term: int
    voters: tuple[int, ...]
    outgoing: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class NodeEvent:
    """One thing one node did, with the state etcd would show on its line and whether this is
    the node's last event in the action (then ``shown`` is exactly its state afterwards)."""

    step: int
    node: int
    kind: str
    shown: Shown
    last_in_action: bool = False
    final: Shown | None = None
    message: Message | None = None
    entry: Entry | None = None
    voters_after: tuple[int, ...] = ()
    outgoing_after: tuple[int, ...] = ()


def shown_state(state: RaftNodeState) -> Shown:
    """The whole state of an up node."""
    persisted = state.persisted
    return Shown(
        term=persisted.term,
        vote=persisted.vote,
        role=state.role,
        commit=persisted.commit_index,
        last_index=persisted.last_index(),
        last_term=persisted.last_term(),
        voters=state.conf_state.voters,
        outgoing=state.conf_state.voters_outgoing,
    )


class ActionEvents:
    """Builds the events of one action, tracking each node's shown state through it."""

    def __init__(self, step: int, before: ClusterState, after: ClusterState) -> None:
        self.step = step
        self.before = before
        self.after = after
        self.events: list[NodeEvent] = []
        self.shown: dict[int, Shown] = {}
        self.appends_done: set[int] = set()
        self.restarting = False

    def current(self, node: int) -> Shown:
        if node not in self.shown:
            state = self.before.nodes[node].state
            if state is None:
                state = self.after.nodes[node].state
            assert state is not None
            self.shown[node] = shown_state(state)
        return self.shown[node]

    def final(self, node: int) -> Shown | None:
        state = self.after.nodes[node].state
        return None if state is None else shown_state(state)

    def add(self, node: int, kind: str, shown: Shown, **fields: object) -> None:
        self.events.append(NodeEvent(self.step, node, kind, shown, **fields))  # type: ignore[arg-type]

    def receive(self, message: Message) -> None:
        node = message.to_id
        before = self.current(node)
        if isinstance(message, TRACED_MESSAGES):
            self.add(node, "receive", before, message=message)
        final = self.final(node)
        if final is not None and final.role != "leader":
            self.shown[node] = replace(
                before, commit=final.commit, last_index=final.last_index, last_term=final.last_term
            )

    def appends(self, node: int, up_to: int | None = None) -> None:
        """The entries a leader created in this action (up to ``up_to``), once, as appends."""
        if node in self.appends_done:
            return
        final_state = self.after.nodes[node].state
        if final_state is None or final_state.role != "leader":
            return
        if up_to is None:
            self.appends_done.add(node)
        start = self.current(node).last_index
        persisted = final_state.persisted
        last = persisted.last_index() if up_to is None else min(up_to, persisted.last_index())
        for index in range(start + 1, last + 1):
            entry = persisted.entry_at(index)
            if entry is None or entry.term != final_state.term:
                continue
            shown = self.current(node)
            self.add(node, "append", shown, entry=entry)
            self.shown[node] = replace(shown, last_index=index, last_term=entry.term)

    def command(self, node: int, command: object) -> None:
        if isinstance(command, PersistHardState | PersistEntries | PersistSnapshot):
            self.appends(node)
        elif isinstance(command, SendMessage) and isinstance(command.message, MsgApp):
            carried = command.message
            self.appends(node, carried.prev_log_index + len(carried.entries))
        elif isinstance(command, CommitAdvanced):
            self.appends(node, command.commit_index)
        shown = self.current(node)
        if isinstance(command, RoleChanged):
            vote = shown.vote if command.term == shown.term else 0
            if command.role == "candidate":
                vote = node
            shown = replace(shown, role=command.role, term=command.term, vote=vote)
            self.shown[node] = shown
            self.add(node, f"become_{command.role}", shown)
            if command.role == "leader":
                self.appends(node)
        elif isinstance(command, SendMessage):
            message = command.message
            if isinstance(message, TRACED_MESSAGES):
                self.add(node, "send", shown, message=message)
            if isinstance(message, MsgVoteResp) and not message.reject and message.to_id != node:
                self.shown[node] = replace(shown, vote=message.to_id)
        elif isinstance(command, CommitAdvanced):
            shown = replace(shown, commit=command.commit_index)
            self.shown[node] = shown
            self.add(node, "commit", shown)
        elif isinstance(command, ApplySnapshot) and not self.restarting:
            conf = command.snapshot.metadata.conf_state
            self.add(
                node,
                "apply_config",
                shown,
                voters_after=conf.voters,
                outgoing_after=conf.voters_outgoing,
            )
            self.shown[node] = apply_conf(shown, conf)
        elif isinstance(command, ConfChangeApplied):
            self.add(
                node,
                "apply_config",
                shown,
                voters_after=command.conf_state.voters,
                outgoing_after=command.conf_state.voters_outgoing,
            )
            self.shown[node] = apply_conf(shown, command.conf_state)
        elif isinstance(command, PersistHardState | PersistEntries | PersistSnapshot):
            if isinstance(command, PersistHardState):
                shown = replace(shown, vote=command.vote, term=command.term)
                self.shown[node] = shown
            self.add(node, "persist", shown)

    def finish(self) -> list[NodeEvent]:
        """Mark each node's last event and give it the node's exact final state."""
        seen: set[int] = set()
        for position in range(len(self.events) - 1, -1, -1):
            event = self.events[position]
            if event.node in seen:
                continue
            seen.add(event.node)
            final = self.final(event.node)
            if final is not None:
                self.events[position] = replace(event, last_in_action=True, final=final)
        return self.events


def restart_state(before: ClusterState, after: ClusterState, node: int) -> Shown:
    """A restarted node's state as it starts: its storage, with the configuration of its
    snapshot (committed configuration entries after it are applied again afterwards)."""
    storage = before.nodes[node].storage
    restarted = after.nodes[node].state
    assert restarted is not None
    conf = storage.snapshot.metadata.conf_state
    return Shown(
        term=restarted.term,
        vote=restarted.vote,
        role="follower",
        commit=storage.commit_index,
        last_index=storage.last_index(),
        last_term=storage.last_term(),
        voters=conf.voters,
        outgoing=conf.voters_outgoing,
    )


def apply_conf(shown: Shown, conf: ConfState) -> Shown:
    return replace(shown, voters=conf.voters, outgoing=conf.voters_outgoing)


def node_events(parsed: ParsedTrace) -> list[NodeEvent]:
    """Every node event of the run recorded in ``parsed``, in order."""
    config = cluster_config(parsed.header.setup)
    start = initial_state(config)
    events = [
        NodeEvent(0, node, "init", shown_state(slot.state))
        for node, slot in sorted(start.state.nodes.items())
        if slot.state is not None
    ]
    state = start.state
    for number, (_, record) in enumerate(parsed.steps, start=1):
        applied = apply_action(config, state, record.action)
        assert isinstance(applied, Applied), "the simulator's own trace replays"
        builder = ActionEvents(number, state, applied.state)
        action = record.action
        if isinstance(action, Deliver):
            builder.receive(state.in_flight[action.message].message)
        if isinstance(action, Restart):
            started = restart_state(state, applied.state, action.node)
            builder.shown[action.node] = started
            builder.restarting = True
            builder.add(action.node, "init", started)
        persists: list[tuple[int, Command]] = []
        for node, command in commit_first(applied.outputs):
            if applied.state.nodes[node].state is None:
                continue
            if isinstance(command, PersistHardState | PersistEntries | PersistSnapshot):
                persists.append((node, command))  # what was persisted reflects the whole step
            else:
                builder.command(node, command)
        for node, command in persists:
            builder.command(node, command)
        for node in sorted(applied.state.nodes.keys()):
            if builder.shown.get(node) is not None:
                builder.appends(node)
        events.extend(builder.finish())
        state = applied.state
    return events


def commit_first(commands: tuple[tuple[int, Command], ...]) -> list[tuple[int, Command]]:
    """The commands with each ``CommitAdvanced`` moved before the node's sends of the same
    handling: the node advanced its commit index before sending (its messages carry it)."""
    ordered = list(commands)
    for position in range(len(ordered)):
        node, command = ordered[position]
        if not isinstance(command, CommitAdvanced):
            continue
        target = position
        for earlier in range(position - 1, -1, -1):
            other_node, other = ordered[earlier]
            if other_node != node:
                continue
            if isinstance(other, RoleChanged | ConfChangeApplied | CommitAdvanced):
                break
            if isinstance(other, SendMessage):
                target = earlier
        if target < position:
            ordered.insert(target, ordered.pop(position))
    return ordered
