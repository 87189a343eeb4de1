"""What may happen next in the etcd world: the safety phase's enabled actions and the liveness
phase's fair schedule.

Safety phase: every enabled kind is offered once (the kernel's swarm weights pick among them):
message delivery, loss and duplication, a member's tick, an answer to a member's random draw,
a client's request (``client_call``: which idle client, which member, and the request, drawn
from the run's workload in :mod:`runner.etcd.sim_workload`), a watch reopened after a break,
partitions and healing, crashes and restarts, pauses and resumptions (with the lock workload,
a pause may stop a client, the lock's holder among them, for about the lease TTL), and three
targeted scenarios that every seed may draw (isolate, crash or pause the current leader). Nothing
depends on the mutant that runs.

Liveness phase (:class:`FairDriver`): heal, resume, restart, reopen the watches, then rounds in
which every member ticks once and messages are delivered oldest first, and an idle client
writes through a member until a write is acknowledged.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Final, final

from models.environment import (
    Crash,
    Deliver,
    DrawRandom,
    Drop,
    Duplicate,
    Heal,
    Link,
    NodeId,
    Partition,
    Restart,
    Tick,
)
from models.etcd import PutRequest
from models.etcd_world import (
    ClientCall,
    ClientPause,
    EtcdAction,
    EtcdSetup,
    OpenWatch,
    Pause,
    Resume,
)
from runner.etcd.sim_lock import holds
from runner.etcd.workload import key_name
from runner.etcd.world import (
    EtcdApplied,
    EtcdEngine,
    EtcdWorldState,
    OpenCall,
    available,
    duplicable,
    member_state,
)
from runner.sim import machines
from runner.sim.world import ActionKind, Choice

ACTION_KINDS: Final = (
    ActionKind("deliver", None, 300, 800),
    ActionKind("tick", None, 40, 160),
    ActionKind("random", None, 10, 600),
    ActionKind("client_call", None, 200, 600),
    ActionKind("watch", None, 20, 80),
    ActionKind("drop", "drop", 5, 100),
    ActionKind("duplicate", "duplicate", 5, 60),
    ActionKind("partition", "partition", 1, 3),
    ActionKind("heal", "partition", 10, 60),
    ActionKind("isolate_leader", "partition", 0, 3),
    ActionKind("crash", "crash", 1, 3),
    ActionKind("restart", "crash", 10, 80),
    ActionKind("crash_leader", "crash", 0, 2),
    ActionKind("pause", "pause", 1, 3),
    ActionKind("resume", "pause", 10, 60),
    ActionKind("pause_leader", "pause", 0, 3),
)
"""The etcd world's action kinds: the fault each injects and its weight range."""
FAULT_KINDS: Final = ("crash", "drop", "duplicate", "partition", "pause")
DELIVERIES_PER_ROUND_MAX: Final = 200
LIVENESS_PREFIX: Final = "liveness-"


def _liveness_call(call: OpenCall | None) -> bool:
    """A write the liveness phase sent and still waits for."""
    request = None if call is None else call.request
    return isinstance(request, PutRequest) and request.value.startswith(LIVENESS_PREFIX.encode())


def leader(state: EtcdWorldState) -> NodeId | None:
    """The available member that is leader with the highest term, if any."""
    best: tuple[int, NodeId] | None = None
    for node in sorted(state.members.nodes.keys()):
        member = member_state(state, node)
        if member is None or node in state.paused or member.raft.role != "leader":
            continue
        if best is None or member.raft.term > best[0]:
            best = (member.raft.term, node)
    return None if best is None else best[1]


def idle_clients(state: EtcdWorldState) -> list[int]:
    """The clients that wait for no answer and are not paused."""
    return [
        number
        for number in sorted(state.clients.keys())
        if state.clients[number].call is None and not state.clients[number].paused_until_ms
    ]


def _with_client_pauses(
    state: EtcdWorldState, found: list[Choice[EtcdAction]], idle: list[int], setup: EtcdSetup
) -> list[Choice[EtcdAction]]:
    """The lock workload's pauses: ``pause`` stops a member (if enabled) or an idle client,
    half the time each; ``pause_leader`` stops the Raft leader or an idle client that believes
    it holds the lock (the lock's leader), half the time each. A client's pause lasts between
    half the lease TTL and three times it, on the members' clock."""
    ttl_ms = setup.lease_ttl_seconds * 1000
    holders = [number for number in idle if holds(state.clients[number].knows)]

    def client_pause(prng: random.Random, among: list[int]) -> EtcdAction:
        duration = prng.randint(ttl_ms // 2, 3 * ttl_ms)
        return ClientPause(client=prng.choice(among), duration_ms=duration)

    def either(kind: str, among: list[int]) -> Choice[EtcdAction]:
        members = next((choice for choice in found if choice.kind == kind), None)

        def make(prng: random.Random) -> EtcdAction:
            if members is not None and (not among or prng.random() < 0.5):
                return members.make(prng)
            return client_pause(prng, among)

        return Choice(kind, make)

    kinds = {"pause": idle, "pause_leader": holders}
    changed = [
        either(kind, among)
        for kind, among in kinds.items()
        if among or any(choice.kind == kind for choice in found)
    ]
    return [*(choice for choice in found if choice.kind not in kinds), *changed]


def _cut(group: set[NodeId], nodes: list[NodeId]) -> tuple[Link, ...]:
    """Every link between ``group`` and the other nodes, both ways, sorted."""
    links = {(a, b) for a in group for b in nodes if b not in group}
    links |= {(b, a) for a, b in links}
    return tuple(sorted(links))


@final
class SafetyChoices:
    """The enabled actions of the safety phase (see the module docstring)."""

    def __init__(self, engine: EtcdEngine) -> None:
        self.engine = engine
        self.setup: EtcdSetup = engine.setup
        self.nodes = list(range(1, self.setup.members + 1))

    def choices(self, state: EtcdWorldState, last: EtcdApplied) -> list[Choice[EtcdAction]]:
        del last
        up = [node for node in self.nodes if available(state, node)]
        down = [node for node in self.nodes if member_state(state, node) is None]
        found: list[Choice[EtcdAction]] = []
        ready = [
            message
            for message in machines.ready_messages(self.engine.network, state.members)
            if self.engine.network.route(state.members.in_flight[message].message)[1] not in
            state.paused
        ]  # fmt: skip
        if ready:
            found.append(Choice("deliver", lambda prng: Deliver(message=prng.choice(ready))))
        if up:
            found.append(Choice("tick", lambda prng: Tick(node=prng.choice(up))))
        waiting = [n for n in up if state.members.nodes[n].random_request is not None]
        if waiting:
            found.append(Choice("random", self._draw(state, waiting)))
        idle = idle_clients(state)
        if idle and up:
            found.append(Choice("client_call", self._call(state, idle, up)))
        closed = [
            w for w in sorted(state.watches.keys())
            if not state.watches[w].member and not state.watches[w].done
        ]  # fmt: skip
        if closed and up:
            found.append(
                Choice(
                    "watch",
                    lambda prng: OpenWatch(watch=prng.choice(closed), member=prng.choice(up)),
                )
            )
        found.extend(self._faults(state, up, down))
        if self.setup.workload == "lock" and idle:
            found = _with_client_pauses(state, found, idle, self.setup)
        return found

    def _faults(
        self, state: EtcdWorldState, up: list[NodeId], down: list[NodeId]
    ) -> list[Choice[EtcdAction]]:
        found: list[Choice[EtcdAction]] = []
        flights = sorted(state.members.in_flight.keys())
        if flights:
            found.append(Choice("drop", lambda prng: Drop(message=prng.choice(flights))))
        copies = [message for message in flights if duplicable(state, message)]
        if copies and len(flights) < self.engine.network.max_in_flight:
            found.append(Choice("duplicate", lambda prng: Duplicate(message=prng.choice(copies))))
        nodes = self.nodes
        if len(nodes) > 1:
            found.append(Choice("partition", self._partition))
        if state.members.cut_links:
            found.append(Choice("heal", lambda _prng: Heal()))
        room = len(down) + len(state.paused) < self.setup.max_down
        current = leader(state)
        if room and up:
            found.append(Choice("crash", lambda prng: Crash(node=prng.choice(up))))
            found.append(Choice("pause", lambda prng: Pause(node=prng.choice(up))))
        if room and current is not None:
            found.append(Choice("crash_leader", lambda _prng: Crash(node=current)))
            found.append(Choice("pause_leader", lambda _prng: Pause(node=current)))
        if down:
            found.append(Choice("restart", lambda prng: Restart(node=prng.choice(down))))
        paused = sorted(state.paused)
        if paused:
            found.append(Choice("resume", lambda prng: Resume(node=prng.choice(paused))))
        if current is not None and len(nodes) > 1:
            isolate = Partition(links=_cut({current}, nodes))
            found.append(Choice("isolate_leader", lambda _prng: isolate))
        return found

    def _partition(self, prng: random.Random) -> EtcdAction:
        size = prng.randint(1, len(self.nodes) - 1)
        group = set(prng.sample(self.nodes, size))
        return Partition(links=_cut(group, self.nodes))

    def _draw(
        self, state: EtcdWorldState, waiting: list[NodeId]
    ) -> Callable[[random.Random], EtcdAction]:
        def make(prng: random.Random) -> EtcdAction:
            node = prng.choice(waiting)
            request = state.members.nodes[node].random_request
            assert request is not None
            return DrawRandom(node=node, value=prng.randrange(request.low, request.high))

        return make

    def _call(
        self, state: EtcdWorldState, idle: list[int], up: list[NodeId]
    ) -> Callable[[random.Random], EtcdAction]:
        def make(prng: random.Random) -> EtcdAction:
            client = prng.choice(idle)
            member = prng.choice(up)
            knows = state.clients[client].knows
            request = self.engine.workload.next_request(prng, knows, self.setup)
            return ClientCall(client=client, member=member, request=request)

        return make


@final
class FairDriver:
    """The liveness phase's schedule (see the module docstring)."""

    def __init__(self, engine: EtcdEngine, prng: random.Random) -> None:
        self.engine = engine
        self.prng = prng
        self.nodes = list(range(1, engine.setup.members + 1))
        self.ticked = 0
        self.delivered = 0

    def next_action(self, state: EtcdWorldState, index: int) -> EtcdAction:
        repair = self._repair(state)
        if repair is not None:
            return repair
        if self.ticked >= len(self.nodes) and self.delivered < DELIVERIES_PER_ROUND_MAX:
            ready = machines.ready_messages(self.engine.network, state.members)
            if ready:
                self.delivered += 1
                return Deliver(message=ready[0])
        idle = idle_clients(state)
        if idle and not any(_liveness_call(slot.call) for slot in state.clients.values()):
            target = leader(state) or self.nodes[index % len(self.nodes)]
            value = f"{LIVENESS_PREFIX}{index}".encode()
            put = PutRequest(key=key_name(0), value=value)
            return ClientCall(client=idle[0], member=target, request=put)
        if self.ticked >= len(self.nodes):
            self.ticked = 0
            self.delivered = 0
        self.ticked += 1
        return Tick(node=self.nodes[self.ticked - 1])

    def _repair(self, state: EtcdWorldState) -> EtcdAction | None:
        if state.members.cut_links:
            return Heal()
        if state.paused:
            return Resume(node=min(state.paused))
        for node in self.nodes:
            slot = state.members.nodes[node]
            if slot.state is None:
                return Restart(node=node)
            request = slot.random_request
            if request is not None:
                return DrawRandom(node=node, value=self.prng.randrange(request.low, request.high))
        for number in sorted(state.watches.keys()):
            slot_w = state.watches[number]
            if not slot_w.member and not slot_w.done:
                return OpenWatch(watch=number, member=self.nodes[number % len(self.nodes)])
        return None

    def observe(self, index: int, applied: EtcdApplied) -> None:
        del index, applied
