"""Hand-built Raft values for tests: logs from lists of terms, stored states, single nodes."""

from __future__ import annotations

from collections.abc import Sequence

from impl.raft import init, on_event
from models.raft import (
    Command,
    ConfState,
    Entry,
    Event,
    Message,
    MessageReceived,
    MsgVoteResp,
    NodeObservation,
    PersistedState,
    RaftConfig,
    RaftNodeState,
    SendMessage,
    Snapshot,
    SnapshotMetadata,
    Tick,
)
from models.step import Step


def log_of(terms: Sequence[int], start: int = 1) -> tuple[Entry, ...]:
    """Entries with the given terms at indices start, start + 1, ..."""
    return tuple(
        Entry(term=term, index=start + offset, data=b"%d" % (start + offset))
        for offset, term in enumerate(terms)
    )


def stored(
    terms: Sequence[int],
    term: int,
    voters: Sequence[int] = (1, 2, 3),
    vote: int = 0,
    commit_index: int = 0,
) -> PersistedState:
    """A stored state with a log of the given terms (no compaction)."""
    return PersistedState(
        term=term,
        vote=vote,
        commit_index=commit_index,
        log=log_of(terms),
        snapshot=Snapshot(metadata=SnapshotMetadata(conf_state=ConfState(voters=tuple(voters)))),
    )


def node(
    node_id: int,
    persisted: PersistedState | None = None,
    voters: Sequence[int] = (1, 2, 3),
    **config: object,
) -> tuple[RaftConfig, RaftNodeState]:
    """A started node (a follower) with its config; randomized timeout = election timeout."""
    raft_config = RaftConfig(node_id=node_id, **config)  # type: ignore[arg-type]
    step = init(raft_config, persisted, ConfState(voters=tuple(voters)))
    return raft_config, step.state


def deliver(
    config: RaftConfig, state: RaftNodeState, message: Message
) -> Step[RaftNodeState, Command]:
    return on_event(config, state, MessageReceived(message=message))


def run(config: RaftConfig, state: RaftNodeState, *events: Event) -> Step[RaftNodeState, Command]:
    """Apply events in order; the result carries the commands of all of them."""
    commands: list[Command] = []
    for event in events:
        step = on_event(config, state, event)
        state = step.state
        commands.extend(step.commands)
    return Step(state=state, commands=tuple(commands))


def sent(step: Step[RaftNodeState, Command]) -> list[Message]:
    return [command.message for command in step.commands if isinstance(command, SendMessage)]


def of_type(step: Step[RaftNodeState, Command], kind: type) -> list[object]:
    return [command for command in step.commands if isinstance(command, kind)]


def observed(
    node_id: int,
    terms: Sequence[int] = (),
    term: int = 1,
    vote: int = 0,
    commit_index: int = 0,
    role: str | None = "follower",
    up: bool = True,
    applied_index: int | None = None,
    log: tuple[Entry, ...] | None = None,
    voters: Sequence[int] = (1, 2, 3),
) -> NodeObservation:
    """A hand-built observation of one node, for spec tests."""
    return NodeObservation(
        node_id=node_id,
        up=up,
        term=term,
        vote=vote,
        commit_index=commit_index,
        log=log if log is not None else log_of(terms),
        snapshot=SnapshotMetadata(),
        role=role if up else None,  # type: ignore[arg-type]
        lead=0,
        applied_index=commit_index if applied_index is None else applied_index,
        conf_state=ConfState(voters=tuple(voters)),
        pending_conf_index=0,
    )


def campaign(config: RaftConfig, state: RaftNodeState) -> Step[RaftNodeState, Command]:
    """Tick a follower through its (undrawn, so minimal) election timeout."""
    return run(config, state, *[Tick()] * state.randomized_election_timeout_ticks)


def elected(config: RaftConfig, state: RaftNodeState) -> RaftNodeState:
    """Campaign and receive a grant from every other voter: the node is leader."""
    state = campaign(config, state).state
    for voter in state.conf_state.all_voters():
        if voter != state.node_id and state.role != "leader":
            response = MsgVoteResp(
                from_id=voter, to_id=state.node_id, term=state.term, reject=False
            )
            state = deliver(config, state, response).state
    assert state.role == "leader"
    return state
