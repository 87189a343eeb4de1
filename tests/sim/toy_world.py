"""A small world that is not Raft, to show the kernel runs any world: ping counters on a ring.

Each node's machine counts the pings it received; a tick makes it send a ping to the next node
on the ring; every received ping is persisted before it is acknowledged. ``forget`` is a
deliberately broken variant that does not persist, so a crash loses counts. The checker's
invariant: a node's count never goes back (across crashes too); its companion: a count rises.
Liveness: once faults stop, some node's count rises.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any, Final, TypeAlias, assert_never, final

import msgspec

from models.environment import (
    Crash,
    Deliver,
    Drop,
    Duplicate,
    Heal,
    NodeId,
    Partition,
    Restart,
    Tick,
)
from models.step import Step
from models.trace import SwarmOptions
from runner.sim import machines
from runner.sim.machines import (
    Booted,
    Effect,
    MachinesConfig,
    MachinesState,
    Persist,
    Report,
    Send,
    Slot,
)
from runner.sim.world import (
    ActionKind,
    Applied,
    Choice,
    NotEnabled,
    Violation,
    check_world_kind,
)


class Ping(msgspec.Struct, frozen=True, kw_only=True):
    source: int
    destination: int


class PingTick(msgspec.Struct, frozen=True, kw_only=True, tag="tick"):
    pass


class PingReceived(msgspec.Struct, frozen=True, kw_only=True, tag="received"):
    ping: Ping


PingEvent: TypeAlias = PingTick | PingReceived


class SendPing(msgspec.Struct, frozen=True, kw_only=True, tag="send"):
    ping: Ping


class SaveCount(msgspec.Struct, frozen=True, kw_only=True, tag="save"):
    count: int


class Counted(msgspec.Struct, frozen=True, kw_only=True, tag="counted"):
    count: int


PingCommand: TypeAlias = SendPing | SaveCount | Counted


class ToySetup(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    nodes: int
    forget: bool


ToyAction: TypeAlias = Deliver | Drop | Duplicate | Tick | Crash | Restart | Partition | Heal
ToyState: TypeAlias = MachinesState[int, int, None, Ping]
Outputs: TypeAlias = tuple[tuple[NodeId, PingCommand], ...]


@final
class Counter:
    """The machine: ``state`` and ``storage`` are both the count."""

    def __init__(self, node_id: int, nodes: int, forget: bool) -> None:
        self.node_id = node_id
        self.next = node_id % nodes + 1
        self.forget = forget

    def boot(self) -> Booted[int, int, None, PingCommand]:
        return Booted(0, 0, None, ())

    def restart(self, slot: Slot[int, int, None]) -> Booted[int, int, None, PingCommand]:
        return Booted(slot.storage, slot.storage, None, ())

    def handle(self, state: int, event: PingEvent) -> Step[int, PingCommand]:
        match event:
            case PingTick():
                ping = Ping(source=self.node_id, destination=self.next)
                return Step(state=state, commands=(SendPing(ping=ping),))
            case PingReceived():
                count = state + 1
                saved: tuple[PingCommand, ...] = () if self.forget else (SaveCount(count=count),)
                return Step(state=count, commands=(*saved, Counted(count=count)))
            case _:
                assert_never(event)

    def tick(self) -> PingEvent:
        return PingTick()

    def receive(self, message: Ping) -> PingEvent:
        return PingReceived(ping=message)

    def random(self, value: int) -> PingEvent:
        raise AssertionError("counters never ask for a random value")

    def effect(self, slot: Slot[int, int, None], command: PingCommand) -> Effect:
        match command:
            case SendPing(ping=ping):
                return Send(ping)
            case SaveCount(count=count):
                return Persist(count)
            case Counted():
                return Report()
            case _:
                assert_never(command)


@final
class CountChecker:
    """``count_never_decreases`` (always) and ``count_rises`` (sometimes)."""

    def __init__(self) -> None:
        self.highest: dict[int, int] = {}
        self.rose_at: int | None = None

    def _judge(self, state: ToyState, index: int) -> tuple[Violation, ...]:
        found = []
        for node_id, slot in sorted(state.nodes.items()):
            count = slot.state if slot.state is not None else slot.storage
            before = self.highest.get(node_id, 0)
            if count < before:
                reason = f"node {node_id}'s count went back from {before} to {count}"
                found.append(
                    Violation(
                        property_name="count_never_decreases", nodes=(node_id,), reason=reason
                    )
                )
            elif count > before and self.rose_at is None:
                self.rose_at = index
            self.highest[node_id] = max(before, count)
        return tuple(found)

    def start(self, state: ToyState) -> tuple[Violation, ...]:
        return self._judge(state, 0)

    def step(
        self, index: int, action: ToyAction, before: ToyState, after: ToyState, outputs: Outputs
    ) -> tuple[Violation, ...]:
        return self._judge(after, index)

    def finish(self, state: ToyState, index: int) -> tuple[Violation, ...]:
        return ()

    def coverage(self) -> Mapping[str, int | None]:
        return {"count_rises": self.rose_at}


@final
class CountRises:
    name = "count_rises_after_faults"

    def observe(self, state: ToyState, outputs: Outputs) -> bool:
        return any(isinstance(command, Counted) for _, command in outputs)

    def failure(self, bound: int) -> str:
        return f"no ping was counted within {bound} steps"


@final
class FairDriver:
    def __init__(self, config: MachinesConfig) -> None:
        self.config = config
        self.turn = 0

    def next_action(self, state: ToyState, index: int) -> ToyAction:
        if state.cut_links:
            return Heal()
        for node_id, slot in sorted(state.nodes.items()):
            if slot.state is None:
                return Restart(node=node_id)
        ready = machines.ready_messages(self.config, state)
        if ready:
            return Deliver(message=ready[0])
        self.turn += 1
        return Tick(node=self.turn % len(state.nodes) + 1)

    def observe(self, index: int, applied: Applied[ToyState, tuple[NodeId, PingCommand]]) -> None:
        pass


@final
class Tally:
    def __init__(self) -> None:
        self.actions = 0

    def count(self, action: ToyAction, outputs: Outputs) -> None:
        self.actions += 1

    def summary(self) -> dict[str, object]:
        return {"actions": self.actions}


@final
class ToyWorld:
    def __init__(self, setup: ToySetup) -> None:
        hosts = {n: Counter(n, setup.nodes, setup.forget) for n in range(1, setup.nodes + 1)}
        self.config = MachinesConfig(
            hosts=hosts, route=lambda ping: (ping.source, ping.destination), max_in_flight=64
        )

    def initial(self) -> Applied[ToyState, tuple[NodeId, PingCommand]]:
        return machines.start(self.config)

    def apply(
        self, state: ToyState, action: ToyAction
    ) -> Applied[ToyState, tuple[NodeId, PingCommand]] | NotEnabled:
        return machines.apply_environment(self.config, state, action)

    def choices(
        self, state: ToyState, last: Applied[ToyState, tuple[NodeId, PingCommand]]
    ) -> Sequence[Choice[ToyAction]]:
        up = machines.up_nodes(state)
        down = [n for n in sorted(state.nodes) if state.nodes[n].state is None]
        ready = machines.ready_messages(self.config, state)
        in_flight = sorted(state.in_flight)
        out: list[Choice[ToyAction]] = []
        if ready:
            out.append(Choice("deliver", lambda prng: Deliver(message=prng.choice(ready))))
        if up:
            out.append(Choice("tick", lambda prng: Tick(node=prng.choice(up))))
        if in_flight:
            out.append(Choice("drop", lambda prng: Drop(message=prng.choice(in_flight))))
        if len(up) > 1:
            out.append(Choice("crash", lambda prng: Crash(node=prng.choice(up))))
        if down:
            out.append(Choice("restart", lambda prng: Restart(node=prng.choice(down))))
        return out

    def checkers(self) -> tuple[CountChecker, ...]:
        return (CountChecker(),)

    def progress(self) -> CountRises:
        return CountRises()

    def driver(self, prng: random.Random) -> FairDriver:
        return FairDriver(self.config)

    def statistics(self) -> Tally:
        return Tally()


@final
class ToyWorldKind:
    name: Final = "toy"
    setup_type: Final = ToySetup
    action_type: Final[Any] = ToyAction
    action_kinds: Final = (
        ActionKind("deliver", None, 10, 20),
        ActionKind("tick", None, 5, 10),
        ActionKind("drop", "drop", 1, 3),
        ActionKind("crash", "crash", 1, 3),
        ActionKind("restart", "crash", 1, 3),
    )
    fault_kinds: Final = ("crash", "drop")

    def build(self, setup: ToySetup, swarm: SwarmOptions) -> ToyWorld:
        return ToyWorld(setup)


TOY: Final = ToyWorldKind()
check_world_kind(TOY)
TOY_WORLDS: Final[dict[str, Any]] = {TOY.name: TOY}
