"""The etcd world for the simulation kernel: etcd members on Raft, clients and watchers, faults.

Theory of operation. The state holds the members as a machines world (``runner.etcd.
sim_members``: Raft, apply, leases, ReadIndex and compaction in ``impl.etcd.member``), the
members whose process is paused, and what the clients and watchers saw: each client's open
call and what it knows, every operation recorded so far (``models.history`` records, as
``conform etcd`` records a real etcd), and each watcher's stream. Time is a counter: every
call, answer and watch message gets the next value, so the history's real-time order is the
order things happened in.

An action is an environment action (for the machines world, refused for a paused member), a
client's request to a member, a watch opened on a member, or a pause or resumption. After it,
the world hands each reply to the client waiting for it (an Unavailable error, "request timed
out" or "leader changed", leaves the outcome unknown, and the client goes on as a new session,
as ``conform etcd``'s clients do), notes every lease revoke a leader proposed on its own (lease
expiry: an operation of unknown outcome from its proposal on, so the history explains keys that
vanish), ends the calls and streams of a crashed member, and delivers each open stream what
its member applied (``impl.etcd.watch``). Everything is deterministic: the kernel's PRNG picks
the actions (``runner.etcd.world_choices``), the checker judges the history
(``runner.etcd.world_checks``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, TypeAlias, assert_never, final

import immutables
import msgspec

from impl.etcd import watch as etcd_watch
from impl.etcd.member_state import MemberState
from models.environment import (
    Crash,
    Deliver,
    DrawRandom,
    Drop,
    Duplicate,
    Heal,
    NodeId,
    Partition,
    Restart,
    Tick,
)
from models.etcd import (
    GRPC_UNAVAILABLE,
    EtcdError,
    LeaseRevokeRequest,
    WatchCreateRequest,
    WatchResponse,
)
from models.etcd_member import NO_CLIENT, ClientRequest, ForwardProposal, Proposal, Reply
from models.etcd_world import (
    ClientCall,
    ClientPause,
    EtcdAction,
    EtcdSetup,
    OpenWatch,
    Pause,
    Resume,
)
from models.history import (
    EtcdOperation,
    EtcdResult,
    OperationRecord,
    WatchMessage,
    WatchRecord,
)
from models.raft import PersistEntries
from runner.etcd.sim_lock import LockResources, LockWorkload, write_resources
from runner.etcd.sim_members import MemberClock, MembersState, machines_config
from runner.etcd.sim_workload import WORKLOADS, Workload
from runner.etcd.workload import ClientKnowledge
from runner.sim import machines
from runner.sim.machines import MachinesConfig
from runner.sim.world import Applied, NotEnabled

DUPLICATE_FORWARD: Final = "a forwarded proposal is never duplicated (see duplicable)"
SESSION_CLIENT_IDS: Final = 1000
"""A client's history id is ``client + SESSION_CLIENT_IDS * session``."""
WATCH_CLIENT_BASE: Final = 100
EXPIRY_CLIENT_BASE: Final = 1_000_000_000
"""History ids of lease expiries (one per lease a leader revoked on its own)."""


class OpenCall(msgspec.Struct, frozen=True, kw_only=True):
    """A request a client sent and still waits for."""

    member: NodeId
    request_id: int
    request: EtcdOperation
    call_time: int


class AbandonedCall(msgspec.Struct, frozen=True, kw_only=True):
    """A call whose outcome its client never learned, and the client's history id."""

    client_id: int
    call: OpenCall


class ClientWatch(msgspec.Struct, frozen=True, kw_only=True):
    """A lock client's watch stream (``runner.etcd.sim_lock``): its member, what it watches."""

    member: NodeId
    key: bytes
    start_revision: int
    stream: etcd_watch.WatchStream


class ClientSlot(msgspec.Struct, frozen=True, kw_only=True):
    """One client: what it knows, its session (a new one after an unknown outcome), its call,
    and until when (members' clock, ms) its process is paused (0: running)."""

    knows: ClientKnowledge
    session: int = 0
    call: OpenCall | None = None
    paused_until_ms: int = 0
    watch: ClientWatch | None = None

    @property
    def history_id(self) -> int:
        return self.knows.client + SESSION_CLIENT_IDS * self.session


class WatchSlot(msgspec.Struct, frozen=True, kw_only=True):
    """One watcher: its request (resumed after a break), the member its stream is open on (0:
    closed), the stream, the messages of this stream, how many streams it closed, the newest
    event revision it received, and whether it gave up (compacted away with no way back)."""

    request: WatchCreateRequest
    member: NodeId = 0
    stream: etcd_watch.WatchStream | None = None
    messages: immutables.Map[int, WatchMessage] = msgspec.field(default_factory=immutables.Map)
    attempt: int = 0
    last_event_revision: int = 0
    done: bool = False


class EtcdWorldState(msgspec.Struct, frozen=True, kw_only=True):
    """Everything (see the module docstring)."""

    members: MembersState
    paused: frozenset[NodeId] = frozenset()
    time: int = 0
    next_request_id: int = 1
    clients: immutables.Map[int, ClientSlot]
    operations: immutables.Map[int, OperationRecord] = msgspec.field(default_factory=immutables.Map)
    watches: immutables.Map[int, WatchSlot] = msgspec.field(default_factory=immutables.Map)
    closed_watches: immutables.Map[int, WatchRecord] = msgspec.field(default_factory=immutables.Map)
    expiries: frozenset[int] = frozenset()
    """Leases whose revoke by expiry is recorded."""
    abandoned: immutables.Map[int, AbandonedCall] = msgspec.field(default_factory=immutables.Map)
    """Calls whose outcome the client never learned, in the order they ended."""
    persisted: immutables.Map[int, int] = msgspec.field(default_factory=immutables.Map)
    """Each client request some member wrote to its log (as etcd's robustness tests read the
    members' WALs), with the time it was first written: a write no member ever logged cannot
    have taken effect."""
    resources: LockResources = LockResources()
    """What the lock workload's guarded resources accepted and refused."""


Output: TypeAlias = tuple[NodeId, object]
EtcdApplied: TypeAlias = Applied[EtcdWorldState, Output]


@dataclass(slots=True)
class _Work:
    """One action's scratch: the state so far and the next time stamp."""

    state: EtcdWorldState
    time: int
    operations: dict[int, OperationRecord] = field(default_factory=dict)

    def stamp(self) -> int:
        self.time += 1
        return self.time

    def record(self, record: OperationRecord) -> None:
        self.operations[len(self.state.operations) + len(self.operations)] = record


def duplicable(state: EtcdWorldState, message_id: int) -> bool:
    """A Raft message may arrive twice; a forwarded proposal may not: etcd's peers talk over
    TCP streams, which never duplicate, and a proposal that arrived twice would be applied
    twice (etcd does not deduplicate proposals)."""
    flight = state.members.in_flight.get(message_id)
    return flight is not None and not isinstance(flight.message, ForwardProposal)


def member_state(state: EtcdWorldState, node: NodeId) -> MemberState | None:
    slot = state.members.nodes.get(node)
    return None if slot is None else slot.state


def clock_ms(state: EtcdWorldState) -> int:
    """The members' clock: the latest ``now_ms`` of a member that is up."""
    return max(
        (slot.state.now_ms for slot in state.members.nodes.values() if slot.state is not None),
        default=0,
    )


def available(state: EtcdWorldState, node: NodeId) -> bool:
    """Member ``node`` is up and not paused."""
    return member_state(state, node) is not None and node not in state.paused


@final
class EtcdEngine:
    """Applies actions to the etcd world's state (see the module docstring)."""

    def __init__(self, setup: EtcdSetup, watch_requests: tuple[WatchCreateRequest, ...]) -> None:
        self.setup = setup
        self.network: MachinesConfig = machines_config(setup)
        self.workload: Workload = WORKLOADS[setup.workload]
        self.watch_requests = watch_requests

    def initial(self) -> EtcdApplied:
        started = machines.start(self.network)
        clients = immutables.Map(
            {c: ClientSlot(knows=ClientKnowledge(client=c)) for c in range(self.setup.clients)}
        )
        watches = immutables.Map(
            {w: WatchSlot(request=request) for w, request in enumerate(self.watch_requests)}
        )
        state = EtcdWorldState(members=started.state, clients=clients, watches=watches)
        work = _Work(state, state.time)
        for number in sorted(watches.keys()):
            self._open_watch(work, number, number % self.setup.members + 1)
        return self._settle(work, started.outputs)

    def apply(self, state: EtcdWorldState, action: EtcdAction) -> EtcdApplied | NotEnabled:
        match action:
            case Deliver() | Drop() | Duplicate() | Tick() | Partition() | Heal() | DrawRandom():
                return self._environment(state, action)
            case Crash(node=node):
                return self._crash(state, node)
            case Restart():
                return self._environment(state, action)
            case ClientCall():
                return self._call(state, action)
            case OpenWatch(watch=number, member=node):
                slot = state.watches.get(number)
                if slot is None or slot.member or slot.done:
                    return NotEnabled(f"watcher {number} does not exist or is not closed")
                if not available(state, node):
                    return NotEnabled(f"member {node} is down or paused")
                work = _Work(state, state.time)
                self._open_watch(work, number, node)
                return self._settle(work, ())
            case Pause(node=node):
                if not available(state, node):
                    return NotEnabled(f"member {node} is down or paused")
                paused = msgspec.structs.replace(state, paused=state.paused | {node})
                return self._settle(_Work(paused, state.time), ())
            case Resume(node=node):
                if node not in state.paused:
                    return NotEnabled(f"member {node} is not paused")
                resumed = msgspec.structs.replace(state, paused=state.paused - {node})
                return self._settle(_Work(resumed, state.time), ())
            case ClientPause(client=number, duration_ms=duration):
                client = state.clients.get(number)
                if client is None or client.call is not None or client.paused_until_ms:
                    return NotEnabled(f"client {number} does not exist, waits or is paused")
                until = clock_ms(state) + duration
                stopped = msgspec.structs.replace(client, paused_until_ms=until)
                paused_client = msgspec.structs.replace(
                    state, clients=state.clients.set(number, stopped)
                )
                return self._settle(_Work(paused_client, state.time), ())
            case _:
                assert_never(action)

    # ---- actions ---------------------------------------------------------------------------

    def _environment(
        self,
        state: EtcdWorldState,
        action: Deliver | Drop | Duplicate | Tick | Partition | Heal | DrawRandom | Restart,
    ) -> EtcdApplied | NotEnabled:
        target: NodeId | None = None
        if isinstance(action, Tick | DrawRandom):
            target = action.node
        elif isinstance(action, Deliver):
            flight = state.members.in_flight.get(action.message)
            target = None if flight is None else self.network.route(flight.message)[1]
        if target is not None and target in state.paused:
            return NotEnabled(f"member {target} is paused")
        if isinstance(action, Duplicate) and not duplicable(state, action.message):
            return NotEnabled(DUPLICATE_FORWARD)
        applied = machines.apply_environment(self.network, state.members, action)
        if isinstance(applied, NotEnabled):
            return applied
        moved = msgspec.structs.replace(state, members=applied.state)
        return self._settle(_Work(moved, state.time), applied.outputs)

    def _crash(self, state: EtcdWorldState, node: NodeId) -> EtcdApplied | NotEnabled:
        before = member_state(state, node)
        applied = machines.apply_environment(self.network, state.members, Crash(node=node))
        if isinstance(applied, NotEnabled) or before is None:
            return applied if isinstance(applied, NotEnabled) else NotEnabled("member is down")
        slot = applied.state.nodes[node]
        clock = msgspec.structs.replace(slot, application=MemberClock(now_ms=before.now_ms))
        members = msgspec.structs.replace(applied.state, nodes=applied.state.nodes.set(node, clock))
        moved = msgspec.structs.replace(state, members=members, paused=state.paused - {node})
        work = _Work(moved, state.time)
        self._end_member(work, node)
        return self._settle(work, applied.outputs)

    def _call(self, state: EtcdWorldState, call: ClientCall) -> EtcdApplied | NotEnabled:
        client = state.clients.get(call.client)
        if client is None or client.call is not None or client.paused_until_ms:
            return NotEnabled(f"client {call.client} does not exist, waits or is paused")
        if not available(state, call.member):
            return NotEnabled(f"member {call.member} is down or paused")
        request_id = state.next_request_id
        event = ClientRequest(request_id=request_id, request=call.request)
        applied = machines.inject(self.network, state.members, call.member, event)
        if isinstance(applied, NotEnabled):
            return applied
        work = _Work(state, state.time)
        open_call = OpenCall(
            member=call.member, request_id=request_id, request=call.request, call_time=work.stamp()
        )
        knows = self.workload.called(client.knows, call.request)
        slot = msgspec.structs.replace(client, knows=knows, call=open_call)
        work.state = msgspec.structs.replace(
            state,
            members=applied.state,
            next_request_id=request_id + 1,
            clients=state.clients.set(call.client, slot),
            resources=write_resources(state.resources, client.knows),
        )
        return self._settle(work, applied.outputs)

    def _open_watch(self, work: _Work, number: int, node: NodeId) -> None:
        member = member_state(work.state, node)
        assert member is not None
        slot = work.state.watches[number]
        stream, responses = etcd_watch.on_create(
            member.etcd, etcd_watch.WatchStream(), slot.request
        )
        opened = msgspec.structs.replace(slot, member=node, stream=stream)
        work.state = msgspec.structs.replace(
            work.state, watches=work.state.watches.set(number, opened)
        )
        self._receive(work, number, responses)

    # ---- after every action ----------------------------------------------------------------

    def _settle(self, work: _Work, outputs: tuple[Output, ...]) -> EtcdApplied:
        """Hand replies to clients, note lease expiries, deliver watch events."""
        for node, command in outputs:
            if isinstance(command, Reply):
                self._reply(work, node, command)
            elif isinstance(command, PersistEntries):
                self._note_logged(work, command)
        self._deliver_watches(work)
        if isinstance(self.workload, LockWorkload):
            self._client_watches(work, self.workload)
        self._resume_clients(work)
        state = work.state
        if work.operations:
            operations = state.operations
            for key in sorted(work.operations):
                operations = operations.set(key, work.operations[key])
            state = msgspec.structs.replace(state, operations=operations)
        if work.time != state.time:
            state = msgspec.structs.replace(state, time=work.time)
        return Applied(state, outputs)

    def _client_watches(self, work: _Work, lock: LockWorkload) -> None:
        """Open, move, close and deliver the lock clients' watches: a stream follows the key
        its client wants (closed when it wants none or another), is reopened from the
        recipe's start revision on the next available member when its member crashed, and
        delivers nothing while its member or its client is paused."""
        for number in sorted(work.state.clients.keys()):
            slot = work.state.clients[number]
            knows = slot.knows
            want, start = knows.lock.watch_key, knows.lock.watch_from
            watch = slot.watch
            if watch is not None and (
                (watch.key, watch.start_revision) != (want, start)
                or member_state(work.state, watch.member) is None
            ):
                watch = None
            if not want or slot.paused_until_ms:
                if watch is not slot.watch:
                    self._set_client(work, number, msgspec.structs.replace(slot, watch=watch))
                continue
            responses: tuple[WatchResponse, ...] = ()
            if watch is None:
                nodes = sorted(work.state.members.nodes.keys())
                offset = number % len(nodes)
                ready = [n for n in nodes[offset:] + nodes[:offset] if available(work.state, n)]
                if ready:
                    member = member_state(work.state, ready[0])
                    assert member is not None
                    request = WatchCreateRequest(key=want, start_revision=start)
                    stream, responses = etcd_watch.on_create(
                        member.etcd, etcd_watch.WatchStream(), request
                    )
                    watch = ClientWatch(
                        member=ready[0], key=want, start_revision=start, stream=stream
                    )
            elif available(work.state, watch.member):
                member = member_state(work.state, watch.member)
                assert member is not None
                stream, responses = etcd_watch.deliver(member.etcd, watch.stream)
                watch = msgspec.structs.replace(watch, stream=stream)
            for response in responses:
                if response.canceled:
                    knows = lock.compacted(knows)
                    break
                knows = lock.watched(knows, response.events, response.header.revision)
            if watch is not slot.watch or knows is not slot.knows:
                moved = msgspec.structs.replace(slot, knows=knows, watch=watch)
                self._set_client(work, number, moved)

    def _set_client(self, work: _Work, number: int, slot: ClientSlot) -> None:
        work.state = msgspec.structs.replace(
            work.state, clients=work.state.clients.set(number, slot)
        )

    def _resume_clients(self, work: _Work) -> None:
        """Paused clients whose pause the members' clock has passed run again."""
        if not any(slot.paused_until_ms for slot in work.state.clients.values()):
            return
        now = clock_ms(work.state)
        clients = work.state.clients
        for number in sorted(clients.keys()):
            slot = clients[number]
            if slot.paused_until_ms and now >= slot.paused_until_ms:
                clients = clients.set(number, msgspec.structs.replace(slot, paused_until_ms=0))
        work.state = msgspec.structs.replace(work.state, clients=clients)

    def _reply(self, work: _Work, node: NodeId, reply: Reply) -> None:
        for number in sorted(work.state.clients.keys()):
            client = work.state.clients[number]
            call = client.call
            if call is None or call.member != node or call.request_id != reply.request_id:
                continue
            result = reply.result
            unknown = isinstance(result, EtcdError) and result.code == GRPC_UNAVAILABLE
            if unknown:
                self._abandon(work, number)
                return
            assert isinstance(result, EtcdResult), "a history request gets a history answer"
            work.record(
                OperationRecord(
                    client_id=client.history_id,
                    call_time=call.call_time,
                    return_time=work.stamp(),
                    operation=call.request,
                    result=result,
                )
            )
            knows = client.knows
            if not isinstance(result, EtcdError):
                knows = self.workload.learn(knows, call.request, result)
            done = msgspec.structs.replace(client, knows=knows, call=None)
            work.state = msgspec.structs.replace(
                work.state, clients=work.state.clients.set(number, done)
            )
            return

    def _abandon(self, work: _Work, number: int) -> None:
        """The client's call has an unknown outcome: record it so, and start a new session."""
        state = work.state
        client = state.clients[number]
        call = client.call
        assert call is not None
        ended = AbandonedCall(client_id=client.history_id, call=call)
        fresh = msgspec.structs.replace(client, session=client.session + 1, call=None)
        work.state = msgspec.structs.replace(
            state,
            clients=state.clients.set(number, fresh),
            abandoned=state.abandoned.set(len(state.abandoned), ended),
        )

    def _note_logged(self, work: _Work, command: PersistEntries) -> None:
        """Note the client requests a member wrote to its log; a revoke a member proposed on
        its own (``NO_CLIENT``) is a lease expiring."""
        for entry in command.entries:
            if entry.kind != "normal" or not entry.data:
                continue
            proposal = msgspec.msgpack.decode(entry.data, type=Proposal)
            request = proposal.request
            if proposal.request_id != NO_CLIENT:
                if proposal.request_id not in work.state.persisted:
                    persisted = work.state.persisted.set(proposal.request_id, work.time)
                    work.state = msgspec.structs.replace(work.state, persisted=persisted)
                continue
            if not isinstance(request, LeaseRevokeRequest) or request.ID in work.state.expiries:
                continue
            work.record(
                OperationRecord(
                    client_id=EXPIRY_CLIENT_BASE + len(work.state.expiries),
                    call_time=work.stamp(),
                    return_time=None,
                    operation=request,
                    definite=False,
                )
            )
            work.state = msgspec.structs.replace(
                work.state, expiries=work.state.expiries | {request.ID}
            )

    def _end_member(self, work: _Work, node: NodeId) -> None:
        """Member ``node`` went down: its clients' calls end unknown, its streams break."""
        for number in sorted(work.state.clients.keys()):
            call = work.state.clients[number].call
            if call is not None and call.member == node:
                self._abandon(work, number)
        for number in sorted(work.state.watches.keys()):
            if work.state.watches[number].member == node:
                self._close_watch(work, number, f"member {node} crashed", None)

    def _deliver_watches(self, work: _Work) -> None:
        for number in sorted(work.state.watches.keys()):
            slot = work.state.watches[number]
            if not slot.member or slot.member in work.state.paused or slot.stream is None:
                continue
            member = member_state(work.state, slot.member)
            if member is None:
                continue
            watcher = slot.stream.watchers.get(0)
            if watcher is not None and watcher.next_revision > member.etcd.revision:
                continue  # nothing new: skip the work
            stream, responses = etcd_watch.deliver(member.etcd, slot.stream)
            if responses or stream is not slot.stream:
                slot = msgspec.structs.replace(slot, stream=stream)
                work.state = msgspec.structs.replace(
                    work.state, watches=work.state.watches.set(number, slot)
                )
                self._receive(work, number, responses)

    def _receive(self, work: _Work, number: int, responses: tuple[WatchResponse, ...]) -> None:
        """Record what watcher ``number``'s stream received; a cancellation ends the stream."""
        for response in responses:
            slot = work.state.watches[number]
            message = WatchMessage(time=work.stamp(), response=response)
            last = response.events[-1].kv.mod_revision if response.events else 0
            slot = msgspec.structs.replace(
                slot,
                messages=slot.messages.set(len(slot.messages), message),
                last_event_revision=max(slot.last_event_revision, last),
            )
            work.state = msgspec.structs.replace(
                work.state, watches=work.state.watches.set(number, slot)
            )
            if response.canceled:
                self._close_watch(work, number, "", response.compact_revision)
                return

    def _close_watch(
        self, work: _Work, number: int, error: str, compact_revision: int | None
    ) -> None:
        """End watcher ``number``'s stream (with ``error``, or cancelled by compaction) and
        prepare its resumption: after the last event, or from the compaction revision."""
        slot = work.state.watches[number]
        messages = tuple(slot.messages[index] for index in range(len(slot.messages)))
        if error:
            messages = (*messages, WatchMessage(time=work.stamp(), error=error))
        record = WatchRecord(
            client_id=WATCH_CLIENT_BASE + number + SESSION_CLIENT_IDS * slot.attempt,
            request=slot.request,
            messages=messages,
        )
        request, done = slot.request, False
        if compact_revision is not None and compact_revision > 0:
            request = msgspec.structs.replace(request, start_revision=compact_revision)
        elif compact_revision is not None:
            done = True
        elif slot.last_event_revision:
            request = msgspec.structs.replace(request, start_revision=slot.last_event_revision + 1)
        closed = WatchSlot(
            request=request,
            attempt=slot.attempt + 1,
            last_event_revision=slot.last_event_revision,
            done=done,
        )
        state = work.state
        work.state = msgspec.structs.replace(
            state,
            watches=state.watches.set(number, closed),
            closed_watches=state.closed_watches.set(len(state.closed_watches), record),
        )
