"""Export a z3 counterexample execution as a simulator trace of ``impl.raft`` with the mutant.

Theory of operation. A protocol mutant's counterexample (:class:`proofs.execution.Execution`)
is a sequence of abstract steps of the bounded cluster model: a node campaigns, a candidate's
MsgVote is answered, a leader's MsgApp is answered (or arrives again late), a proposal, a
restart, a step-down. Each
becomes a directed schedule of cluster actions for ``impl.raft`` running the same mutant, on
the nodes and in the order z3 chose:

- campaign c: tick c until its term rises (a leader ignores the timeout, as in the model);
- vote c->k: if k is in a leader lease (CheckQuorum), tick k until the lease is over (its
  random election timeout is answered with the high end first, so it does not campaign; the
  model delivers vote requests outside leases); deliver c's MsgVote of the step's term to k,
  then k's answer to c;
- append c->k: deliver the oldest MsgApp from c to k whose previous index is the step's
  ``prev`` (if none, c's newest probe and its rejection, until c probes that low), then the
  following ones until k holds the step's last entry (a setup of one entry per MsgApp sends
  what the model sends); k's answers reach c unless the model lost the reply;
- redeliver c->k: the MsgApps of an earlier append step arrive again (the director kept a
  copy in flight with a Duplicate action when it first delivered them); the answer is lost;
- propose c: a client proposal at c (only at a leader); restart k: crash and restart k;
  step-down c: tick the leader until CheckQuorum makes it a follower.

Messages the model does not deliver stay in flight. Every action goes through the
simulator's own :class:`~runner.raft.simulator.Simulation` (``spec.raft`` checked after every
step, the same trace writer), and the schedule stops at the first violation. After each
abstract step every node's term, vote, role, log and commit index must equal z3's values,
so the trace follows the counterexample rather than a look-alike; a mismatch is reported.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, final

from models.raft import Command, Message, MsgApp, MsgAppResp, MsgVote, MsgVoteResp, RaftNodeState
from models.raft_world import (
    ClusterAction,
    Crash,
    Deliver,
    DrawRandom,
    Duplicate,
    Propose,
    RaftSetup,
    Restart,
    Tick,
)
from models.trace import TRACE_FORMAT, TRACE_VERSION, SwarmOptions, TraceHeader, TraceResult
from proofs.execution import AbstractStep, Execution, NodeValues
from runner.raft.checks import Violation
from runner.raft.cluster import ClusterState
from runner.raft.world import ACTION_KINDS, RAFT
from runner.sim.run import violation_result
from runner.sim.simulate import Simulation

RaftSimulation = Simulation[RaftSetup, ClusterState, ClusterAction, tuple[int, Command]]

ELECTION_TIMEOUT_TICKS: Final = 3
MAX_IN_FLIGHT: Final = 256
STEPS_MAX: Final = 1000
"""A bound on the concrete actions of one exported schedule."""
APPEND_ROUNDS_MAX: Final = 12


@final
@dataclass(frozen=True, slots=True)
class StepSpan:
    """The concrete steps ``first..last`` that carry out one abstract step."""

    number: int
    text: str
    first: int
    last: int
    actions: str
    """The actions, for people: ``random n3=3, tick n3 x3, deliver MsgVote n3->n2 (term 1)``."""


@final
@dataclass(frozen=True, slots=True)
class ExportedTrace:
    """A trace reproducing a counterexample: its bytes, result and which actions are which
    abstract step."""

    mutant: str
    content: bytes
    result: TraceResult
    spans: tuple[StepSpan, ...]


@final
@dataclass(frozen=True, slots=True)
class ExportFailure:
    """The counterexample could not be carried out on ``impl.raft``, and why."""

    reason: str


class _StuckError(Exception):
    """The concrete run cannot follow the abstract step (turned into :class:`ExportFailure`)."""


class _ViolatedError(Exception):
    """An invariant broke: the schedule ends here."""


def directed_setup(voters: int, mutant: str) -> tuple[RaftSetup, SwarmOptions]:
    """The cluster an exported schedule runs: the model's rules (CheckQuorum on, PreVote
    off), one entry per MsgApp, no random fault mix (every weight 0: the schedule is
    directed)."""
    setup = RaftSetup(
        nodes=voters,
        spare_nodes=0,
        election_timeout_ticks=ELECTION_TIMEOUT_TICKS,
        heartbeat_interval_ticks=1,
        pre_vote=False,
        check_quorum=True,
        max_entries_per_append=1,
        max_inflight_appends=4,
        mutant=mutant,
        asymmetric_partitions=False,
        max_crashed=1,
        max_in_flight=MAX_IN_FLIGHT,
    )
    swarm = SwarmOptions(faults=("crash",), weights={kind.name: 0 for kind in ACTION_KINDS})
    return setup, swarm


@final
class _Director:
    """Drives one :class:`Simulation` through the abstract steps."""

    def __init__(self, simulation: RaftSimulation, redelivered: frozenset[int]) -> None:
        self.simulation = simulation
        self.redelivered = redelivered
        """Numbers of the append steps whose MsgApps a later step delivers again."""
        self.copies: dict[int, list[int]] = {}
        self.number = 0
        self.violations: tuple[Violation, ...] = ()
        self.proposals = 0
        self.described: list[str] = []

    @property
    def steps(self) -> int:
        return self.simulation.run.steps

    def act(self, action: ClusterAction) -> None:
        if self.steps >= STEPS_MAX:
            raise _StuckError(f"more than {STEPS_MAX} actions")
        self.described.append(self.describe(action))
        outcome = self.simulation.advance(action)
        if outcome.violations:
            self.violations = outcome.violations
            raise _ViolatedError

    def describe(self, action: ClusterAction) -> str:
        match action:
            case Deliver(message=message_id):
                message = self.simulation.run.state.in_flight[message_id].message
                kind = type(message).__name__
                verdict = ""
                if isinstance(message, MsgVoteResp):
                    verdict = " reject" if message.reject else " grant"
                if isinstance(message, MsgAppResp):
                    verdict = " reject" if message.reject else f" accept up to {message.index}"
                if isinstance(message, MsgApp):
                    last = message.prev_log_index + len(message.entries)
                    verdict = f" prev {message.prev_log_index} up to {last}"
                where = f"n{message.from_id}->n{message.to_id}"
                return f"deliver {kind} {where} (term {message.term}{verdict})"
            case Duplicate(message=message_id):
                copied = self.describe(Deliver(message=message_id))
                return "duplicate" + copied.removeprefix("deliver")
            case DrawRandom(node=node_id, value=value):
                return f"random n{node_id}={value}"
            case Tick(node=node_id):
                return f"tick n{node_id}"
            case Crash(node=node_id):
                return f"crash n{node_id}"
            case Restart(node=node_id):
                return f"restart n{node_id}"
            case Propose(node=node_id, value=value):
                return f"propose {value!r} at n{node_id}"
        return type(action).__name__

    def node(self, node_id: int) -> RaftNodeState:
        state = self.simulation.run.state.nodes[node_id].state
        if state is None:
            raise _StuckError(f"n{node_id} is down")
        return state

    def draw(self, node_id: int, *, high: bool) -> None:
        request = self.simulation.run.state.nodes[node_id].random_request
        if request is not None:
            self.act(DrawRandom(node=node_id, value=request.high - 1 if high else request.low))

    def newest(self, kind: type[Message], source: int, destination: int, after: int = 0) -> int:
        """The newest in-flight message of ``kind`` from ``source`` to ``destination`` with an
        id above ``after`` (0: none)."""
        found = 0
        for message_id, flight in self.simulation.run.state.in_flight.items():
            message = flight.message
            if (
                isinstance(message, kind)
                and (message.from_id, message.to_id) == (source, destination)
                and message_id > after
            ):
                found = max(found, message_id)
        return found

    def tick_until(self, node_id: int, done: Callable[[RaftNodeState], bool], what: str) -> None:
        for _ in range(2 * ELECTION_TIMEOUT_TICKS + 1):
            if done(self.node(node_id)):
                return
            self.act(Tick(node=node_id))
        if not done(self.node(node_id)):
            raise _StuckError(f"n{node_id} did not {what}")

    # ------------------------------------------------------------------ abstract steps

    def campaign(self, step: AbstractStep) -> None:
        (c,) = step.nodes
        if self.node(c).role == "leader":
            return
        self.draw(c, high=False)
        start = self.node(c).term
        self.tick_until(c, lambda n: n.term > start, "campaign")

    def end_lease(self, k: int) -> None:
        node = self.node(k)
        if node.role != "leader":
            self.draw(k, high=True)
        term = node.term

        def outside(n: RaftNodeState) -> bool:
            return n.lead == 0 or n.election_elapsed_ticks >= ELECTION_TIMEOUT_TICKS

        self.tick_until(k, outside, "leave its leader lease")
        if self.node(k).term != term:
            raise _StuckError(f"n{k} campaigned while its leader lease ran out")

    def vote(self, step: AbstractStep) -> None:
        c, k = step.nodes
        if not step.sent:
            return  # the model's lease case: the request changes nothing
        self.end_lease(k)
        request = 0
        for message_id, flight in self.simulation.run.state.in_flight.items():
            message = flight.message
            if (
                isinstance(message, MsgVote)
                and (message.from_id, message.to_id, message.term) == (c, k, step.term)
                and message_id > request
            ):
                request = message_id
        if not request:
            raise _StuckError(f"no MsgVote of term {step.term} from n{c} to n{k} is in flight")
        self.act(Deliver(message=request))
        answer = self.newest(MsgVoteResp, k, c, after=request)
        if answer:
            self.act(Deliver(message=answer))

    def oldest(self, source: int, destination: int, prev: int) -> int:
        """The oldest in-flight MsgApp from ``source`` to ``destination`` after ``prev``."""
        found = [
            message_id
            for message_id, flight in self.simulation.run.state.in_flight.items()
            if isinstance(flight.message, MsgApp)
            and (flight.message.from_id, flight.message.to_id) == (source, destination)
            and flight.message.prev_log_index == prev
        ]
        return min(found, default=0)

    def deliver_app(self, request: int, *, keep_copy: bool) -> MsgApp:
        """Deliver a MsgApp; with ``keep_copy`` a duplicate stays in flight for a later step."""
        flight = self.simulation.run.state.in_flight[request].message
        assert isinstance(flight, MsgApp)
        if keep_copy:
            self.act(Duplicate(message=request))
            self.copies.setdefault(self.number, []).append(max(self.simulation.run.state.in_flight))
        self.act(Deliver(message=request))
        return flight

    def append(self, step: AbstractStep) -> None:
        """Deliver the leader's MsgApps from ``step.prev`` on (probing down to it first, as the
        leader does after rejections) until k holds ``step.last_sent``."""
        c, k = step.nodes
        need, covered = step.prev, -1
        keep_copy = self.number in self.redelivered
        for _ in range(APPEND_ROUNDS_MAX):
            request = self.oldest(c, k, need)
            if request:
                flight = self.deliver_app(request, keep_copy=keep_copy)
                answer = self.newest(MsgAppResp, k, c, after=request)
                if answer and step.sent and step.replied:
                    self.act(Deliver(message=answer))
                covered = flight.prev_log_index + len(flight.entries)
                if covered >= step.last_sent:
                    return
                need = covered
                continue
            probe = self.newest(MsgApp, c, k)
            if not probe:
                raise _StuckError(f"no MsgApp from n{c} to n{k} is in flight")
            probed = self.simulation.run.state.in_flight[probe].message
            assert isinstance(probed, MsgApp)
            if probed.prev_log_index <= need:
                raise _StuckError(f"n{c} sends n{k} no MsgApp after entry {need}")
            # The leader probes from a later index: its rejection makes it probe lower.
            self.act(Deliver(message=probe))
            answer = self.newest(MsgAppResp, k, c, after=probe)
            if answer:
                self.act(Deliver(message=answer))
        reason = f"n{c}'s MsgApps brought n{k} to entry {covered}, not {step.last_sent}"
        raise _StuckError(reason)

    def redeliver(self, step: AbstractStep) -> None:
        """The MsgApps of step ``step.source`` arrive again (copies kept then); no reply."""
        copies = self.copies.get(step.source, [])
        if not copies:
            raise _StuckError(f"no copy of step {step.source}'s MsgApp is in flight")
        for message_id in copies:
            self.act(Deliver(message=message_id))

    def propose(self, step: AbstractStep) -> None:
        (c,) = step.nodes
        if self.node(c).role == "leader":
            self.proposals += 1
            self.act(Propose(node=c, value=f"v{self.proposals}"))

    def restart(self, step: AbstractStep) -> None:
        (k,) = step.nodes
        self.act(Crash(node=k))
        self.act(Restart(node=k))

    def step_down(self, step: AbstractStep) -> None:
        (c,) = step.nodes
        if self.node(c).role == "leader":
            self.tick_until(c, lambda n: n.role != "leader", "step down")

    def carry_out(self, step: AbstractStep) -> None:
        handlers: dict[str, Callable[[AbstractStep], None]] = {
            "campaign": self.campaign,
            "vote": self.vote,
            "append": self.append,
            "redeliver": self.redeliver,
            "propose": self.propose,
            "restart": self.restart,
            "step-down": self.step_down,
        }
        handler = handlers.get(step.kind)
        if handler is None:
            raise _StuckError(f"no translation for a {step.kind!r} step")
        handler(step)

    def compare(self, number: int, expected: tuple[NodeValues, ...]) -> None:
        """Every node's modelled fields must equal z3's after the step."""
        for values in expected:
            node = self.node(values.node)
            got = NodeValues(
                node=values.node,
                term=node.term,
                vote=node.vote,
                lead=values.lead,
                role=node.role,
                commit=node.commit_index,
                log=tuple(entry.term for entry in node.persisted.log),
            )
            if got != values:
                raise _StuckError(f"after step {number}, impl.raft has {got}, z3 has {values}")


def _summary(described: list[str]) -> str:
    """Descriptions joined, repeats folded (``tick n3 x3``)."""
    folded: list[tuple[str, int]] = []
    for text in described:
        if folded and folded[-1][0] == text:
            folded[-1] = (text, folded[-1][1] + 1)
        else:
            folded.append((text, 1))
    return ", ".join(text if count == 1 else f"{text} x{count}" for text, count in folded)


def export_counterexample(
    execution: Execution, mutant: str, code_version: str
) -> ExportedTrace | ExportFailure:
    """Run ``execution`` on ``impl.raft`` with ``mutant`` and write it as a trace."""
    setup, swarm = directed_setup(execution.voters, mutant)
    header = TraceHeader(
        format=TRACE_FORMAT,
        version=TRACE_VERSION,
        world=RAFT.name,
        seed=0,
        code_version=code_version,
        swarm=swarm,
        setup=setup,
        safety_steps=STEPS_MAX,
        liveness_steps=0,
        checkpoint_interval_steps=0,
    )
    simulation: RaftSimulation = Simulation(RAFT, header, random.Random(0))
    director = _Director(
        simulation, frozenset(step.source for step in execution.steps if step.kind == "redeliver")
    )
    spans: list[StepSpan] = []
    try:
        for number, step in enumerate(execution.steps, start=1):
            director.number = number
            first = director.steps + 1
            try:
                director.carry_out(step)
            finally:
                actions = _summary(director.described[first - 1 :])
                spans.append(StepSpan(number, step.text, first, director.steps, actions))
            director.compare(number, step.after)
    except _StuckError as stuck:
        return ExportFailure(reason=str(stuck))
    except _ViolatedError:
        result = simulation.finish(violation_result(director.violations[0], director.steps))
        return ExportedTrace(mutant, result.trace.content(), result.result, tuple(spans))
    return ExportFailure(
        reason=f"the {director.steps} actions broke no spec.raft property with {mutant}"
    )
