"""Three ``impl.raft`` nodes driven by tests, every step handed to a checker; and a patch that
hands every node step of a simulator run to a checker.

The tie tests (``test_tie_to_impl.py`` for the bounded model's handler relations,
``test_safety_tie.py`` for the unbounded model's node relations) drive the same cluster and
differ only in the checker.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

import pytest
from hypothesis import strategies as st

import impl.raft
from models.raft import (
    ConfState,
    Event,
    Message,
    MessageReceived,
    Propose,
    RaftConfig,
    RaftMutant,
    RaftNodeState,
    RandomDrawn,
    RequestRandom,
    SendMessage,
    Tick,
)

VOTERS = (1, 2, 3)


class Check(Protocol):
    """What a checker says about one step."""

    @property
    def holds(self) -> bool: ...

    @property
    def failed(self) -> tuple[str, ...]: ...


CheckT = TypeVar("CheckT", bound=Check)
StepChecker = Callable[
    [tuple[int, ...], RaftNodeState, Event, RaftNodeState, tuple[object, ...]], CheckT
]
RestartChecker = Callable[[tuple[int, ...], RaftNodeState, RaftNodeState], CheckT]


@dataclass
class Run(Generic[CheckT]):
    """Three nodes, one bag of messages in flight, and the check of every step taken."""

    check_step: StepChecker[CheckT]
    check_restart: RestartChecker[CheckT]
    mutant: RaftMutant | None = None
    pre_vote: bool = False
    states: dict[int, RaftNodeState] = field(default_factory=dict)
    in_flight: list[Message] = field(default_factory=list)
    checks: list[CheckT] = field(default_factory=list)

    def __post_init__(self) -> None:
        for node in VOTERS:
            step = impl.raft.init(self.config(node), None, ConfState(voters=VOTERS))
            self.states[node] = step.state
            self.absorb(node, step.commands)

    def config(self, node: int) -> RaftConfig:
        return RaftConfig(
            node_id=node, election_timeout_ticks=3, mutant=self.mutant, pre_vote=self.pre_vote
        )

    def absorb(self, node: int, commands: tuple[object, ...]) -> None:
        for command in commands:
            if isinstance(command, SendMessage):
                self.in_flight.append(command.message)
            elif isinstance(command, RequestRandom):
                # Node n waits n extra ticks, so timeouts differ and elections settle.
                self.step(node, RandomDrawn(value=min(command.low + node - 1, command.high - 1)))

    def step(self, node: int, event: Event) -> None:
        before = self.states[node]
        result = impl.raft.on_event(self.config(node), before, event)
        self.checks.append(
            self.check_step(VOTERS, before, event, result.state, tuple(result.commands))
        )
        self.states[node] = result.state
        self.absorb(node, result.commands)

    def restart(self, node: int) -> None:
        before = self.states[node]
        result = impl.raft.init(self.config(node), before.persisted, ConfState(voters=VOTERS))
        self.checks.append(self.check_restart(VOTERS, before, result.state))
        self.in_flight = [m for m in self.in_flight if m.to_id != node]
        self.states[node] = result.state
        self.absorb(node, result.commands)

    def act(self, kind: str, number: int) -> None:
        node = VOTERS[number % len(VOTERS)]
        if kind == "tick":
            # One tick of the shared clock: every node's election and heartbeat timers advance.
            for ticked in VOTERS:
                self.step(ticked, Tick())
        elif kind == "propose":
            self.step(node, Propose(data=b"x"))
        elif kind == "restart":
            self.restart(node)
        elif self.in_flight:
            message = self.in_flight.pop(number % len(self.in_flight))
            if kind == "duplicate":
                self.in_flight.append(message)
            if kind in ("deliver", "duplicate"):
                self.step(message.to_id, MessageReceived(message=message))

    def settle(self, ticks: int) -> None:
        """``ticks`` ticks, each followed by delivering everything in flight in order."""
        for _ in range(ticks):
            self.act("tick", 0)
            while self.in_flight:
                self.act("deliver", 0)


def actions(*, duplicates: bool) -> st.SearchStrategy[list[tuple[str, int]]]:
    """Random actions: ticks, deliveries in any order, drops, proposals, restarts."""
    kinds = ["tick"] * 3 + ["deliver"] * 4 + ["drop", "propose", "restart"]
    if duplicates:
        kinds.append("duplicate")
    return st.lists(st.tuples(st.sampled_from(kinds), st.integers(0, 50)), max_size=60)


@contextmanager
def checking_node_steps(
    patch: pytest.MonkeyPatch,
    voters: tuple[int, ...],
    check: StepChecker[CheckT],
    check_restart: RestartChecker[CheckT],
) -> Iterator[list[CheckT]]:
    """While active, every ``impl.raft`` step (and restart) the runner makes is checked."""
    checks: list[CheckT] = []
    last: dict[int, RaftNodeState] = {}
    on_event_real, init_real = impl.raft.on_event, impl.raft.init

    def on_event(config: RaftConfig, state: RaftNodeState, event: Event):  # type: ignore[no-untyped-def]
        step = on_event_real(config, state, event)
        checks.append(check(voters, state, event, step.state, tuple(step.commands)))
        last[config.node_id] = step.state
        return step

    def init(config: RaftConfig, persisted: object, conf: ConfState):  # type: ignore[no-untyped-def]
        step = init_real(config, persisted, conf)  # type: ignore[arg-type]
        if config.node_id in last:
            checks.append(check_restart(voters, last[config.node_id], step.state))
        last[config.node_id] = step.state
        return step

    patch.setattr(impl.raft, "on_event", on_event)
    patch.setattr(impl.raft, "init", init)
    yield checks
