"""A world of machines: component state machines in node slots, and the network between them.

Theory of operation. :class:`MachinesState` holds every node slot (up with its machine's state,
or down), what each node's storage holds (written only through its machine's persist
commands, so a machine that forgets to persist loses that on a crash), the random draw each
node waits for, each node's application state, the messages in flight (by id) and the
directed links a partition cuts. It is data: a world's state, fingerprinted and traced whole.

What is specific to a component is its :class:`Host`: how to start it (fresh or from storage),
how to hand it an event, which events stand for a tick, a message, a random value, and what
each of its commands does to the world (:data:`Effect`: send a message, write the storage,
update the application, ask for a random value, or only report). A world may mix hosts of
several components (etcd members and clients): :class:`MachinesConfig` gives each node id its
host. :func:`apply_environment` carries out every :data:`models.environment.EnvironmentAction`
for any hosts, and :func:`inject` hands a world's client action to a node as an event; both
are deterministic and return :class:`~runner.sim.world.NotEnabled` for an action that cannot
happen in the state (so replaying an edited trace reports it instead of crashing).

Network semantics: a message sent on a cut link, to a down node or to a full network is lost;
a partition also loses the messages in flight on the links it cuts; a crash loses the messages
in flight to and from the crashed node (a transport's queues live in the process). Anything
else in flight can be delivered in any order (delay, reordering), dropped, or duplicated. A
host may ask for a transport report to the sender when a message arrives or is lost (etcd's
``ReportSnapshot``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Generic, Protocol, TypeAlias, TypeVar, assert_never, final

import immutables
import msgspec

from models.environment import (
    Crash,
    Deliver,
    DrawRandom,
    Drop,
    Duplicate,
    EnvironmentAction,
    Heal,
    Link,
    NodeId,
    Partition,
    Restart,
    Tick,
)
from models.step import Step
from runner.sim.world import Applied, NotEnabled

EVENTS_PER_ACTION_MAX: Final = 64
"""A bound on the events one action can cause (the action's own plus transport reports)."""

StateT = TypeVar("StateT")
StorageT = TypeVar("StorageT")
ApplicationT = TypeVar("ApplicationT")
EventT = TypeVar("EventT")
CommandT = TypeVar("CommandT")
MessageT = TypeVar("MessageT")
MessageT_contra = TypeVar("MessageT_contra", contravariant=True)


class RandomRequest(msgspec.Struct, frozen=True, kw_only=True):
    """A node waits for a uniform random integer in ``[low, high)``."""

    low: int
    high: int


class Slot(msgspec.Struct, Generic[StateT, StorageT, ApplicationT], frozen=True, kw_only=True):
    """One node: its machine's state while up (``None`` while down), its storage, the random
    draw it waits for, and its application state."""

    node_id: NodeId
    state: StateT | None
    storage: StorageT
    random_request: RandomRequest | None = None
    application: ApplicationT


class InFlight(msgspec.Struct, Generic[MessageT], frozen=True, kw_only=True):
    """A message the network holds."""

    message: MessageT


class MachinesState(
    msgspec.Struct, Generic[StateT, StorageT, ApplicationT, MessageT], frozen=True, kw_only=True
):
    """Every node and the network."""

    nodes: immutables.Map[NodeId, Slot[StateT, StorageT, ApplicationT]]
    in_flight: immutables.Map[int, InFlight[MessageT]]
    next_message_id: int = 1
    cut_links: tuple[Link, ...] = ()


@final
@dataclass(frozen=True, slots=True)
class Send(Generic[MessageT]):
    """Put ``message`` on the network."""

    message: MessageT


@final
@dataclass(frozen=True, slots=True)
class Persist(Generic[StorageT]):
    """The node's storage now holds ``storage``."""

    storage: StorageT


@final
@dataclass(frozen=True, slots=True)
class Update(Generic[ApplicationT]):
    """The node's application state is now ``application``."""

    application: ApplicationT


@final
@dataclass(frozen=True, slots=True)
class AwaitRandom:
    """The node waits for a random integer in ``[low, high)`` (a ``random`` action)."""

    low: int
    high: int


@final
@dataclass(frozen=True, slots=True)
class Report:
    """Nothing for the world to do: the command informs observers (checkers, statistics)."""


Effect: TypeAlias = Send[Any] | Persist[Any] | Update[Any] | AwaitRandom | Report


@final
@dataclass(frozen=True, slots=True)
class Booted(Generic[StateT, StorageT, ApplicationT, CommandT]):
    """A machine that just started: its state, storage and application, and its first
    commands."""

    state: StateT
    storage: StorageT
    application: ApplicationT
    commands: tuple[CommandT, ...]


class Host(Protocol[StateT, StorageT, ApplicationT, EventT, CommandT, MessageT_contra]):
    """How the machines world drives one component machine."""

    def boot(self) -> Booted[StateT, StorageT, ApplicationT, CommandT]:
        """Start with empty storage."""
        ...

    def restart(
        self, slot: Slot[StateT, StorageT, ApplicationT]
    ) -> Booted[StateT, StorageT, ApplicationT, CommandT]:
        """Start again from the slot's storage after a crash."""
        ...

    def handle(self, state: StateT, event: EventT) -> Step[StateT, CommandT]:
        """The machine's ``on_event``."""
        ...

    def tick(self) -> EventT:
        """The event for one unit of logical time."""
        ...

    def receive(self, message: MessageT_contra) -> EventT:
        """The event for a message that arrived."""
        ...

    def random(self, value: int) -> EventT:
        """The event answering the machine's request for a random value."""
        ...

    def effect(self, slot: Slot[StateT, StorageT, ApplicationT], command: CommandT) -> Effect:
        """What ``command`` does to the world, given the slot as it is when it runs."""
        ...


Route: TypeAlias = Callable[[Any], Link]
"""A message's ``(source, destination)``."""
TransportReport: TypeAlias = Callable[[Any, bool], tuple[NodeId, Any] | None]
"""Given a message and whether it arrived (or was lost), the event its sender's transport
reports to it (``(sender, event)``), if any."""


def no_transport_report(message: object, delivered: bool) -> tuple[NodeId, Any] | None:
    """The default: transports report nothing."""
    del message, delivered
    return None


@final
@dataclass(frozen=True, slots=True)
class MachinesConfig:
    """The fixed shape of a world of machines: each node id's host, how messages are routed,
    what transports report, and the network's capacity."""

    hosts: Mapping[NodeId, Host[Any, Any, Any, Any, Any, Any]]
    route: Route
    max_in_flight: int
    transport_report: TransportReport = no_transport_report

    @property
    def node_ids(self) -> tuple[NodeId, ...]:
        return tuple(sorted(self.hosts))


AnyState: TypeAlias = MachinesState[Any, Any, Any, Any]
Outputs: TypeAlias = tuple[tuple[NodeId, Any], ...]
"""Every command each node produced during an action, in order, with the node's id."""


@dataclass(slots=True)
class _Work:
    """The mutable scratch of one action: the state so far, commands, pending events."""

    state: AnyState
    commands: list[tuple[NodeId, Any]] = field(default_factory=list)
    events: list[tuple[NodeId, Any]] = field(default_factory=list)


def start(config: MachinesConfig) -> Applied[AnyState, tuple[NodeId, Any]]:
    """Every node booted fresh."""
    assert config.max_in_flight >= 1
    work = _Work(MachinesState(nodes=immutables.Map(), in_flight=immutables.Map()))
    for node_id in config.node_ids:
        booted = config.hosts[node_id].boot()
        slot = Slot(
            node_id=node_id,
            state=booted.state,
            storage=booted.storage,
            application=booted.application,
        )
        work.state = _with_slot(work.state, slot)
        _carry_out(config, work, node_id, booted.commands)
    _drain(config, work)
    return Applied(work.state, tuple(work.commands))


def _with_slot(state: AnyState, slot: Slot[Any, Any, Any]) -> AnyState:
    return msgspec.structs.replace(state, nodes=state.nodes.set(slot.node_id, slot))


def deliverable(config: MachinesConfig, state: AnyState, message_id: int) -> bool:
    """Whether the message can arrive now: its destination is up and its link is not cut."""
    flight = state.in_flight.get(message_id)
    if flight is None:
        return False
    link = config.route(flight.message)
    slot = state.nodes.get(link[1])
    return slot is not None and slot.state is not None and link not in state.cut_links


def ready_messages(config: MachinesConfig, state: AnyState) -> list[int]:
    """The ids of the in-flight messages that can arrive now, in id order."""
    cut = set(state.cut_links)
    up = {node for node, slot in state.nodes.items() if slot.state is not None}
    route = config.route
    in_flight = state.in_flight
    ready = []
    for message_id in sorted(in_flight.keys()):
        link = route(in_flight[message_id].message)
        if link[1] in up and link not in cut:
            ready.append(message_id)
    return ready


def up_nodes(state: AnyState) -> list[NodeId]:
    """The ids of the nodes that are up, sorted."""
    return [node for node in sorted(state.nodes.keys()) if state.nodes[node].state is not None]


def apply_environment(
    config: MachinesConfig, state: AnyState, action: EnvironmentAction
) -> Applied[AnyState, tuple[NodeId, Any]] | NotEnabled:
    """Apply one environment action (see the module docstring for the semantics)."""
    work = _Work(state)
    refusal = _start_action(config, work, action)
    if refusal is not None:
        return NotEnabled(refusal)
    _drain(config, work)
    return Applied(work.state, tuple(work.commands))


def inject(
    config: MachinesConfig, state: AnyState, node_id: NodeId, event: object
) -> Applied[AnyState, tuple[NodeId, Any]] | NotEnabled:
    """Hand ``event`` (a client's request) to an up node and carry out what follows."""
    work = _Work(state)
    refusal = _queue(work, node_id, event)
    if refusal is not None:
        return NotEnabled(refusal)
    _drain(config, work)
    return Applied(work.state, tuple(work.commands))


def up_node_refusal(state: AnyState, node_id: NodeId) -> str | None:
    """Why ``node_id`` cannot take an event now (it does not exist or is down), or None."""
    slot = state.nodes.get(node_id)
    if slot is None:
        return f"node {node_id} does not exist"
    if slot.state is None:
        return f"node {node_id} is down"
    return None


def _start_action(config: MachinesConfig, work: _Work, action: EnvironmentAction) -> str | None:
    """Begin ``action``: queue its events or change the environment; a reason if not enabled."""
    match action:
        case Deliver(message=message_id):
            return _deliver(config, work, message_id)
        case Drop(message=message_id):
            return _drop(config, work, message_id)
        case Duplicate(message=message_id):
            return _duplicate(config, work, message_id)
        case Tick(node=node_id):
            refusal = up_node_refusal(work.state, node_id)
            if refusal is None:
                work.events.append((node_id, config.hosts[node_id].tick()))
            return refusal
        case Crash(node=node_id):
            return _crash(config, work, node_id)
        case Restart(node=node_id):
            return _restart(config, work, node_id)
        case Partition(links=links):
            return _partition(config, work, links)
        case Heal():
            work.state = msgspec.structs.replace(work.state, cut_links=())
            return None
        case DrawRandom(node=node_id, value=value):
            return _draw_random(config, work, node_id, value)
        case _:
            assert_never(action)


def _queue(work: _Work, node_id: NodeId, event: object) -> str | None:
    refusal = up_node_refusal(work.state, node_id)
    if refusal is None:
        work.events.append((node_id, event))
    return refusal


def _deliver(config: MachinesConfig, work: _Work, message_id: int) -> str | None:
    flight = work.state.in_flight.get(message_id)
    if flight is None:
        return f"message {message_id} is not in flight"
    if not deliverable(config, work.state, message_id):
        destination = config.route(flight.message)[1]
        return f"message {message_id} cannot arrive: node {destination} is down or cut off"
    in_flight = work.state.in_flight.delete(message_id)
    work.state = msgspec.structs.replace(work.state, in_flight=in_flight)
    message = flight.message
    destination = config.route(message)[1]
    work.events.append((destination, config.hosts[destination].receive(message)))
    _transport_report(config, work, message, delivered=True)
    return None


def _transport_report(
    config: MachinesConfig, work: _Work, message: object, *, delivered: bool
) -> None:
    report = config.transport_report(message, delivered)
    if report is not None and up_node_refusal(work.state, report[0]) is None:
        work.events.append(report)


def _drop(config: MachinesConfig, work: _Work, message_id: int) -> str | None:
    flight = work.state.in_flight.get(message_id)
    if flight is None:
        return f"message {message_id} is not in flight"
    in_flight = work.state.in_flight.delete(message_id)
    work.state = msgspec.structs.replace(work.state, in_flight=in_flight)
    _transport_report(config, work, flight.message, delivered=False)
    return None


def _duplicate(config: MachinesConfig, work: _Work, message_id: int) -> str | None:
    flight = work.state.in_flight.get(message_id)
    if flight is None:
        return f"message {message_id} is not in flight"
    if len(work.state.in_flight) >= config.max_in_flight:
        return "the network is full"
    _add_in_flight(work, flight.message)
    return None


def _add_in_flight(work: _Work, message: object) -> None:
    state = work.state
    message_id = state.next_message_id
    work.state = msgspec.structs.replace(
        state,
        in_flight=state.in_flight.set(message_id, InFlight(message=message)),
        next_message_id=message_id + 1,
    )


def _crash(config: MachinesConfig, work: _Work, node_id: NodeId) -> str | None:
    refusal = up_node_refusal(work.state, node_id)
    if refusal is not None:
        return refusal
    slot = work.state.nodes[node_id]
    down = msgspec.structs.replace(slot, state=None, random_request=None)
    lost = [
        message_id
        for message_id, flight in work.state.in_flight.items()
        if node_id in config.route(flight.message)
    ]
    in_flight = work.state.in_flight
    for message_id in sorted(lost):
        in_flight = in_flight.delete(message_id)
    work.state = msgspec.structs.replace(
        work.state, nodes=work.state.nodes.set(node_id, down), in_flight=in_flight
    )
    return None


def _restart(config: MachinesConfig, work: _Work, node_id: NodeId) -> str | None:
    slot = work.state.nodes.get(node_id)
    if slot is None:
        return f"node {node_id} does not exist"
    if slot.state is not None:
        return f"node {node_id} is up"
    booted = config.hosts[node_id].restart(slot)
    restarted = msgspec.structs.replace(
        slot, state=booted.state, storage=booted.storage, application=booted.application
    )
    work.state = _with_slot(work.state, restarted)
    _carry_out(config, work, node_id, booted.commands)
    return None


def _partition(config: MachinesConfig, work: _Work, links: tuple[Link, ...]) -> str | None:
    nodes = set(config.node_ids)
    for source, destination in links:
        if source not in nodes or destination not in nodes or source == destination:
            return f"link {source}->{destination} is not a link between two nodes"
    cut = tuple(sorted(set(links)))
    if cut != links:
        return "links must be sorted and distinct"
    cut_set = set(cut)
    lost = [
        (message_id, flight.message)
        for message_id, flight in work.state.in_flight.items()
        if config.route(flight.message) in cut_set
    ]
    in_flight = work.state.in_flight
    for message_id, message in sorted(lost, key=lambda pair: pair[0]):
        in_flight = in_flight.delete(message_id)
        _transport_report(config, work, message, delivered=False)
    work.state = msgspec.structs.replace(work.state, in_flight=in_flight, cut_links=cut)
    return None


def _draw_random(config: MachinesConfig, work: _Work, node_id: NodeId, value: int) -> str | None:
    refusal = up_node_refusal(work.state, node_id)
    if refusal is not None:
        return refusal
    slot = work.state.nodes[node_id]
    request = slot.random_request
    if request is None:
        return f"node {node_id} has not asked for a random value"
    if not request.low <= value < request.high:
        return f"value {value} is outside [{request.low}, {request.high})"
    work.state = _with_slot(work.state, msgspec.structs.replace(slot, random_request=None))
    work.events.append((node_id, config.hosts[node_id].random(value)))
    return None


def _drain(config: MachinesConfig, work: _Work) -> None:
    """Feed the queued events to their nodes, in order, carrying out the commands."""
    handled = 0
    while work.events:
        handled += 1
        assert handled <= EVENTS_PER_ACTION_MAX, "an action caused too many events"
        node_id, event = work.events.pop(0)
        slot = work.state.nodes[node_id]
        if slot.state is None:
            continue
        step = config.hosts[node_id].handle(slot.state, event)
        work.state = _with_slot(work.state, msgspec.structs.replace(slot, state=step.state))
        _carry_out(config, work, node_id, step.commands)


def _carry_out(
    config: MachinesConfig, work: _Work, node_id: NodeId, commands: Iterable[object]
) -> None:
    """Do what a node asked, in order: send, persist, update its application, await a
    random value."""
    host = config.hosts[node_id]
    slot = work.state.nodes[node_id]
    for command in commands:
        work.commands.append((node_id, command))
        effect = host.effect(slot, command)
        match effect:
            case Send(message=message):
                work.state = _with_slot(work.state, slot)
                _send(config, work, message)
                slot = work.state.nodes[node_id]
            case Persist(storage=storage):
                slot = msgspec.structs.replace(slot, storage=storage)
            case Update(application=application):
                slot = msgspec.structs.replace(slot, application=application)
            case AwaitRandom(low=low, high=high):
                assert low < high, "an empty random range"
                request = RandomRequest(low=low, high=high)
                slot = msgspec.structs.replace(slot, random_request=request)
            case Report():
                pass
            case _:
                assert_never(effect)
    work.state = _with_slot(work.state, slot)


def _send(config: MachinesConfig, work: _Work, message: object) -> None:
    link = config.route(message)
    destination = work.state.nodes.get(link[1])
    lost = (
        destination is None
        or destination.state is None
        or link in work.state.cut_links
        or len(work.state.in_flight) >= config.max_in_flight
    )
    if lost:
        _transport_report(config, work, message, delivered=False)
    else:
        _add_in_flight(work, message)
