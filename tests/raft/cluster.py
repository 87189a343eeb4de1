"""A minimal, deterministic message pump for Raft scenario tests (not the simulator).

Messages wait in one FIFO queue; the test decides when to deliver them, which links are cut,
which nodes are down, and what each node's random draw is. Every command a node emits is kept,
so tests can assert on sends, persistence, applications and read states.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from impl.raft import init, on_event
from models.raft import (
    ApplyEntries,
    ApplySnapshot,
    ClusterObservation,
    Command,
    ConfState,
    Entry,
    Event,
    Message,
    MessageReceived,
    NodeObservation,
    PersistedState,
    RaftConfig,
    RaftNodeState,
    RandomDrawn,
    RequestRandom,
    SendMessage,
    Tick,
    observe_down_node,
    observe_node,
)
from models.step import Step
from spec.property import Violation
from spec.raft import RaftHistory, check_step


class Checker:
    """Runs ``check_step`` on every observation a cluster makes."""

    def __init__(self) -> None:
        self.history = RaftHistory()
        self.violations: list[Violation] = []

    def __call__(self, observation: ClusterObservation) -> None:
        self.history, violations = check_step(self.history, observation)
        self.violations.extend(violations)

    def broken(self) -> set[str]:
        return {violation.property_name for violation in self.violations}


@dataclass
class Cluster:
    """Nodes by id, their configs, states (None when down) and persisted states."""

    configs: dict[int, RaftConfig]
    states: dict[int, RaftNodeState | None] = field(default_factory=dict)
    persisted: dict[int, PersistedState] = field(default_factory=dict)
    queue: list[Message] = field(default_factory=list)
    commands: dict[int, list[object]] = field(default_factory=dict)
    applied: dict[int, list[Entry]] = field(default_factory=dict)
    cut: set[tuple[int, int]] = field(default_factory=set)
    random_values: dict[int, int] = field(default_factory=dict)
    observer: Callable[[ClusterObservation], None] | None = None

    @classmethod
    def create(
        cls,
        node_ids: Iterable[int],
        voters: Iterable[int] | None = None,
        learners: Iterable[int] = (),
        confs: dict[int, ConfState] | None = None,
        persisted: dict[int, PersistedState] | None = None,
        **config: object,
    ) -> Cluster:
        """Start fresh nodes; ``config`` holds RaftConfig overrides for every node. Node n
        draws election timeout ``election_timeout + n - 1`` unless ``random_values`` says.
        ``confs`` overrides a node's initial configuration, ``persisted`` starts a node from
        stored state (a restart)."""
        ids = sorted(node_ids)
        conf = ConfState(
            voters=tuple(sorted(voters if voters is not None else ids)),
            learners=tuple(sorted(learners)),
        )
        configs = {node_id: RaftConfig(node_id=node_id, **config) for node_id in ids}  # type: ignore[arg-type]
        cluster = cls(configs=configs)
        for node_id in ids:
            stored = (persisted or {}).get(node_id)
            cluster.start(node_id, stored, (confs or {}).get(node_id, conf))
        return cluster

    # -- running nodes ------------------------------------------------------------------------

    def start(self, node_id: int, persisted: PersistedState | None, conf: ConfState) -> None:
        self.commands.setdefault(node_id, [])
        self.applied.setdefault(node_id, [])
        self._absorb(node_id, init(self.configs[node_id], persisted, conf))

    def step(self, node_id: int, event: Event) -> Step[RaftNodeState, Command]:
        state = self.states[node_id]
        assert state is not None, f"node {node_id} is down"
        result = on_event(self.configs[node_id], state, event)
        self._absorb(node_id, result)
        return result

    def _absorb(self, node_id: int, result: Step[RaftNodeState, Command]) -> None:
        self.states[node_id] = result.state
        self.persisted[node_id] = result.state.persisted
        self.commands[node_id].extend(result.commands)
        for command in result.commands:
            if isinstance(command, SendMessage):
                self.queue.append(command.message)
            elif isinstance(command, ApplyEntries):
                self.applied[node_id].extend(command.entries)
            elif isinstance(command, ApplySnapshot):
                self.applied[node_id] = []
        for command in result.commands:
            if isinstance(command, RequestRandom):
                low = command.low
                value = self.random_values.get(node_id, min(low + node_id - 1, command.high - 1))
                self.step(node_id, RandomDrawn(value=value))
        if self.observer is not None:
            self.observer(self.observation())

    def checked(self) -> Checker:
        """Check every later observation against ``spec.raft``; returns the checker."""
        checker = Checker()
        self.observer = checker
        return checker

    def crash(self, node_id: int) -> None:
        """Drop volatile state; messages to the node are lost while it is down."""
        self.states[node_id] = None
        if self.observer is not None:
            self.observer(self.observation())

    def restart(self, node_id: int) -> None:
        self.start(node_id, self.persisted[node_id], ConfState())

    def state(self, node_id: int) -> RaftNodeState:
        state = self.states[node_id]
        assert state is not None, f"node {node_id} is down"
        return state

    # -- time and network ---------------------------------------------------------------------

    def tick(self, node_id: int, times: int = 1) -> None:
        for _ in range(times):
            self.step(node_id, Tick())

    def isolate(self, node_id: int) -> None:
        for other in self.configs:
            if other != node_id:
                self.cut |= {(node_id, other), (other, node_id)}

    def heal(self) -> None:
        self.cut.clear()

    def deliver_one(self, position: int = 0) -> Message | None:
        """Deliver (or lose) the message at ``position`` (default: the oldest); None when the
        queue is empty. A position past the end means the newest."""
        if not self.queue:
            return None
        message = self.queue.pop(min(position, len(self.queue) - 1))
        if (message.from_id, message.to_id) in self.cut or self.states.get(message.to_id) is None:
            return message
        self.step(message.to_id, MessageReceived(message=message))
        return message

    def deliver_all(self, limit: int = 10_000) -> int:
        """Deliver until the queue is empty (at most ``limit`` messages); returns the count."""
        for count in range(limit):
            if self.deliver_one() is None:
                return count
        raise AssertionError("message storm: queue did not drain")

    def pump(self, limit: int) -> None:
        """Deliver at most ``limit`` messages, without requiring the queue to drain (a broken
        mutant may make two nodes argue forever)."""
        for _ in range(limit):
            if self.deliver_one() is None:
                return

    def deliver_all_until(self, done: Callable[[], bool], limit: int = 10_000) -> None:
        """Deliver one message at a time until ``done()`` or the queue is empty."""
        for _ in range(limit):
            if done() or self.deliver_one() is None:
                return
        raise AssertionError("message storm: queue did not drain")

    def take(self, predicate: Callable[[Message], bool]) -> list[Message]:
        """Remove and return the queued messages matching ``predicate`` (undelivered)."""
        taken = [message for message in self.queue if predicate(message)]
        self.queue = [message for message in self.queue if not predicate(message)]
        return taken

    def drop_all(self) -> None:
        self.queue.clear()

    def elect(self, node_id: int) -> None:
        """Let ``node_id`` time out first and deliver everything."""
        state = self.state(node_id)
        self.tick(node_id, state.randomized_election_timeout_ticks)
        self.deliver_all()

    def leaders(self) -> list[int]:
        return [
            node_id
            for node_id, state in sorted(self.states.items())
            if state is not None and state.role == "leader"
        ]

    def observation(self) -> ClusterObservation:
        nodes: list[NodeObservation] = []
        for node_id in sorted(self.configs):
            state = self.states.get(node_id)
            if state is not None:
                nodes.append(observe_node(state))
            elif node_id in self.persisted:
                nodes.append(observe_down_node(node_id, self.persisted[node_id]))
        return ClusterObservation(nodes=tuple(nodes))

    def sent(self, node_id: int) -> list[Message]:
        return [c.message for c in self.commands[node_id] if isinstance(c, SendMessage)]
