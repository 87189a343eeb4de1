"""Every step of ``impl.raft`` satisfies the handler relation the z3 proofs use.

Hypothesis drives a three-node cluster of ``impl.raft`` (ticks, deliveries in any order,
drops, proposals, restarts); each ``on_event`` is checked by z3 against the relation of
``proofs.raft.handlers`` evaluated on the concrete values. The impl's own mutants must break a
relation, naming the handler and the field.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from impl.raft import init, on_event
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
from proofs.raft.impl_tie import StepCheck, check_restart, check_step

VOTERS = (1, 2, 3)


@dataclass
class Run:
    """Three nodes, one bag of messages in flight, and the check of every step taken."""

    mutant: RaftMutant | None = None
    states: dict[int, RaftNodeState] = field(default_factory=dict)
    in_flight: list[Message] = field(default_factory=list)
    checks: list[StepCheck] = field(default_factory=list)

    def __post_init__(self) -> None:
        for node in VOTERS:
            step = init(self.config(node), None, ConfState(voters=VOTERS))
            self.states[node] = step.state
            self.absorb(node, step.commands)

    def config(self, node: int) -> RaftConfig:
        return RaftConfig(node_id=node, election_timeout_ticks=3, mutant=self.mutant)

    def absorb(self, node: int, commands: tuple[object, ...]) -> None:
        for command in commands:
            if isinstance(command, SendMessage):
                self.in_flight.append(command.message)
            elif isinstance(command, RequestRandom):
                # Node n waits n extra ticks, so timeouts differ and elections settle.
                self.step(node, RandomDrawn(value=min(command.low + node - 1, command.high - 1)))

    def step(self, node: int, event: Event) -> None:
        before = self.states[node]
        result = on_event(self.config(node), before, event)
        self.checks.append(check_step(VOTERS, before, event, result.state, result.commands))
        self.states[node] = result.state
        self.absorb(node, result.commands)

    def restart(self, node: int) -> None:
        before = self.states[node]
        result = init(self.config(node), before.persisted, ConfState())
        self.checks.append(check_restart(VOTERS, before, result.state))
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
            if kind == "deliver":
                self.step(message.to_id, MessageReceived(message=message))

    def failures(self) -> list[str]:
        return [f"{c.handler}: {', '.join(c.failed)}" for c in self.checks if not c.holds]

    def handlers(self) -> Counter[str]:
        return Counter(check.handler for check in self.checks)


ACTIONS = st.lists(
    st.tuples(
        st.sampled_from(
            (
                "tick",
                "tick",
                "tick",
                "deliver",
                "deliver",
                "deliver",
                "deliver",
                "drop",
                "propose",
                "restart",
            )
        ),
        st.integers(0, 50),
    ),
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(ACTIONS)
def test_every_impl_step_satisfies_the_proof_relation(actions: list[tuple[str, int]]) -> None:
    run = Run()
    # Warm up: elect a leader and replicate an entry, so the random part starts from a cluster
    # with a leader and logs, not only from the empty start.
    for _ in range(5):
        run.act("tick", 0)
        while run.in_flight:
            run.act("deliver", 0)
    run.act("propose", 0)
    run.act("propose", 1)
    run.act("propose", 2)
    for kind, number in actions:
        run.act(kind, number)
    assert run.failures() == []


def _scripted(mutant: RaftMutant | None = None) -> Run:
    """Elections, proposals and replication with every message delivered in order."""
    run = Run(mutant=mutant)
    for _ in range(4):
        for _ in range(6):
            run.act("tick", 0)
            while run.in_flight:
                run.act("deliver", 0)
        run.act("propose", 0)
        run.act("propose", 1)
        while run.in_flight:
            run.act("deliver", 0)
    run.restart(1)
    for _ in range(12):
        run.act("tick", 0)
        while run.in_flight:
            run.act("deliver", 0)
    return run


def test_a_scripted_run_exercises_every_modelled_handler() -> None:
    run = _scripted()
    assert run.failures() == []
    seen = run.handlers()
    for handler in (
        "campaign",
        "on MsgVote",
        "on MsgVoteResp",
        "on MsgApp",
        "on MsgAppResp",
        "on Propose",
        "on MsgHeartbeat",
        "on MsgHeartbeatResp",
        "restart",
    ):
        assert seen[handler] > 0, f"{handler} never checked: {seen}"


def test_the_impl_double_vote_mutant_breaks_the_vote_relation() -> None:
    from models.raft import MsgVote

    run = Run(mutant=RaftMutant.VOTE_TWICE)
    # Node 1 hears candidates 2 and then 3 for term 1: etcd grants only the first.
    for candidate in (2, 3):
        request = MsgVote(from_id=candidate, to_id=1, term=1, last_log_index=0, last_log_term=0)
        run.step(1, MessageReceived(message=request))
    # Exactly the second grant breaks the relation; the unsat core names the vote field or
    # the granting reply (either contradicts etcd's canVote).
    [failure] = run.failures()
    handler, fields = failure.split(": ")
    assert handler == "on MsgVote"
    assert set(fields.split(", ")) & {"vote", "reply"}


def test_the_impl_skip_consistency_check_mutant_breaks_the_append_relation() -> None:
    from models.raft import Entry, MsgApp

    run = Run(mutant=RaftMutant.SKIP_CONSISTENCY_CHECK)
    # Node 1 stores (index 1, term 1) from the leader of term 1 ...
    first = MsgApp(
        from_id=2,
        to_id=1,
        term=1,
        prev_log_index=0,
        prev_log_term=0,
        entries=(Entry(term=1, index=1),),
        commit_index=0,
    )
    run.step(1, MessageReceived(message=first))
    assert run.failures() == []
    # ... then the leader of term 2 sends entries after (index 1, term 2), which node 1 lacks.
    second = MsgApp(
        from_id=3,
        to_id=1,
        term=2,
        prev_log_index=1,
        prev_log_term=2,
        entries=(Entry(term=2, index=2),),
        commit_index=0,
    )
    run.step(1, MessageReceived(message=second))
    [failure] = run.failures()
    handler, fields = failure.split(": ")
    assert handler == "on MsgApp"
    assert set(fields.split(", ")) & {"log", "reply"}
