"""The API server and etcd on Raft inside the cluster world: requests in, answers and watch
lines out, storage operations carried over the etcd members.

Theory of operation. An action's effects are worked off in one :class:`Work`: a queue of API
server events and of answers for components. A component's request reaches the API server at
once when it is up and the component is not cut off (otherwise the component is answered
status 0 at once: no connection). Each command the machine emits is carried out:

- ``Respond``: the answer goes to the caller waiting on that request id;
- ``StartWatch``/``SendWatch``/``EndWatch``: the informer that asked follows the watch, its
  lines queue there until ``Inform`` hands them over; an ended watch makes it list again;
- ``StorageRange``/``StorageTxn``: a ``ClientRequest`` to the member the server talks to
  (``runner.sim.machines.inject``); the member's ``Reply`` (after Raft commits, or a
  timeout) comes back as ``StorageReplied``. An error answer, or an operation for a member
  that is down, is parked until the next ``Advance`` (a gRPC client backs off before it
  retries), and the server moves to the next member;
- ``StorageWatch``: an etcd watch on that member (``impl.etcd.watch``); after every action
  what the member applied is delivered as ``StorageEvents``; a crashed member's watch is lost
  (``StorageWatchLost``: the server loads its cache again).

Entropy (now, UIDs, name suffixes) derives from the seed and a counter, so a step replays.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec

from impl.apiserver.context import Config
from impl.apiserver.machine import on_event
from impl.etcd import watch as etcd_watch
from impl.etcd.member_state import MemberState
from models.apiserver.messages import (
    ApiRequest,
    ApiServerEvent,
    EndWatch,
    Entropy,
    RequestReceived,
    Respond,
    SendWatch,
    StartWatch,
    StorageEvents,
    StorageRange,
    StorageReplied,
    StorageResult,
    StorageTxn,
    StorageUnavailable,
    StorageWatch,
    StorageWatchLost,
)
from models.environment import NodeId
from models.etcd import EtcdError, RangeResponse, TxnResponse, WatchCreateRequest
from models.etcd_member import ClientRequest, Reply
from runner.apiserver.entropy import counted_entropy
from runner.cluster.world_state import (
    START_SECONDS,
    ApiSlot,
    Caller,
    ClusterState,
    EtcdCall,
)
from runner.sim import machines
from runner.sim.machines import MachinesConfig
from runner.sim.world import NotEnabled

WORK_ITEMS_MAX: Final = 20_000
"""A bound on what one action can set off."""
_STORAGE_WATCH_ID: Final = 1


@dataclass(slots=True)
class Answer:
    """An answer for a component: status 0 and no body when no answer came."""

    caller: Caller
    status: int
    body: bytes


@dataclass(slots=True)
class Work:
    """One action's scratch: the state so far, what is queued, and what happened (outputs)."""

    state: ClusterState
    queue: deque[ApiServerEvent | Answer] = field(default_factory=deque)
    parked: list[tuple[int, StorageResult]] = field(default_factory=list)
    outputs: list[tuple[str, object]] = field(default_factory=list)
    handled: int = 0


def now_seconds(state: ClusterState) -> int:
    return START_SECONDS + state.now_ms // 1000


def member_state(state: ClusterState, node: NodeId) -> MemberState | None:
    slot = state.members.nodes.get(node)
    return None if slot is None else slot.state


def _entropy(state: ClusterState, seed: int) -> Entropy:
    return counted_entropy(seed, state.api.draws, now_seconds(state))


def with_api(work: Work, api: ApiSlot) -> None:
    work.state = msgspec.structs.replace(work.state, api=api)


@dataclass(frozen=True, slots=True)
class ApiEngine:
    """The API server's half of the cluster engine (see the module docstring)."""

    config: Config
    network: MachinesConfig
    seed: int

    def send(self, work: Work, request: ApiRequest, caller: Caller) -> None:
        """A component's request: to the server, or answered 0 at once when it cannot get
        there."""
        state = work.state
        if state.api.state is None or caller.component in state.cut:
            work.queue.append(Answer(caller, 0, b""))
            return
        request_id = state.next_request
        event = RequestReceived(
            request_id=request_id, request=request, entropy=_entropy(state, self.seed)
        )
        work.state = msgspec.structs.replace(
            state,
            next_request=request_id + 1,
            calls=state.calls.set(request_id, caller),
            api=msgspec.structs.replace(state.api, draws=state.api.draws + 1),
        )
        work.queue.append(event)

    def feed(self, work: Work, event: ApiServerEvent) -> None:
        api = work.state.api
        if api.state is None:
            return
        step = on_event(self.config, api.state, event)
        with_api(work, msgspec.structs.replace(api, state=step.state))
        for command in step.commands:
            self._carry_out(work, command)

    def _carry_out(self, work: Work, command: object) -> None:
        state = work.state
        match command:
            case Respond(request_id=rid, response=response):
                caller = state.calls.get(rid)
                if caller is None:
                    return
                work.state = msgspec.structs.replace(state, calls=state.calls.delete(rid))
                work.queue.append(Answer(caller, response.status, response.body))
            case StartWatch(request_id=rid):
                caller = state.calls.get(rid)
                if caller is None:
                    return
                work.state = msgspec.structs.replace(
                    state, calls=state.calls.delete(rid), watches=state.watches.set(rid, caller)
                )
            case SendWatch(watch_id=wid, line=line):
                caller = state.watches.get(wid)
                if caller is not None:
                    work.queue.append(Answer(caller, -1, line))
            case EndWatch(watch_id=wid):
                caller = state.watches.get(wid)
                if caller is not None:
                    work.state = msgspec.structs.replace(state, watches=state.watches.delete(wid))
                    work.queue.append(Answer(caller, -2, b""))
            case StorageRange() | StorageTxn():
                self._storage(work, command.operation_id, command)
            case StorageWatch():
                self._open_storage_watch(work, command)
            case _:
                raise AssertionError(f"unexpected API server command {command!r}")

    # Storage ------------------------------------------------------------------------------

    def _usable_member(self, state: ClusterState) -> NodeId | None:
        """The member the server talks to, or the next one that is up, in id order."""
        ids = self.network.node_ids
        start = ids.index(state.api.member) if state.api.member in ids else 0
        for offset in range(len(ids)):
            node = ids[(start + offset) % len(ids)]
            if member_state(state, node) is not None and node not in state.api_cut:
                return node
        return None

    def _storage(self, work: Work, operation_id: int, command: StorageRange | StorageTxn) -> None:
        state = work.state
        member = self._usable_member(state)
        if member is None:
            work.parked.append((operation_id, StorageUnavailable(reason="no etcd member")))
            return
        etcd_id = state.next_etcd_request
        applied = machines.inject(
            self.network,
            state.members,
            member,
            ClientRequest(request_id=etcd_id, request=command.request),
        )
        assert not isinstance(applied, NotEnabled), applied
        api = msgspec.structs.replace(
            state.api,
            member=member,
            operations=state.api.operations.set(
                etcd_id, EtcdCall(member=member, operation_id=operation_id)
            ),
        )
        work.state = msgspec.structs.replace(
            state, members=applied.state, api=api, next_etcd_request=etcd_id + 1
        )
        self.etcd_outputs(work, applied.outputs)

    def etcd_outputs(self, work: Work, outputs: tuple[tuple[NodeId, Any], ...]) -> None:
        """Hand the server each reply a member produced for it."""
        for node, command in outputs:
            if not isinstance(command, Reply):
                continue
            api = work.state.api
            call = api.operations.get(command.request_id)
            if call is None or call.member != node:
                continue
            with_api(work, msgspec.structs.replace(api, operations=api.operations.delete(
                command.request_id
            )))  # fmt: skip
            result = command.result
            if isinstance(result, RangeResponse | TxnResponse):
                work.queue.append(StorageReplied(operation_id=call.operation_id, result=result))
            else:
                error = (
                    result
                    if isinstance(result, EtcdError)
                    else EtcdError(code=13, message="unexpected etcd answer")
                )
                work.parked.append((call.operation_id, error))
                self._next_member(work)

    def _next_member(self, work: Work) -> None:
        ids = self.network.node_ids
        api = work.state.api
        after = ids[(ids.index(api.member) + 1) % len(ids)] if api.member in ids else ids[0]
        with_api(work, msgspec.structs.replace(api, member=after))

    def member_down(self, work: Work, node: NodeId) -> None:
        """Member ``node`` crashed or was cut off: the server's operations there fail, its
        storage watch there is lost."""
        api = work.state.api
        lost = sorted(rid for rid, call in api.operations.items() if call.member == node)
        operations = api.operations
        for rid in lost:
            work.parked.append(
                (operations[rid].operation_id, StorageUnavailable(reason=f"member {node} is gone"))
            )
            operations = operations.delete(rid)
        api = msgspec.structs.replace(api, operations=operations)
        if api.watch is not None and api.watch_member == node:
            api = msgspec.structs.replace(api, watch=None, watch_member=0)
            with_api(work, api)
            work.queue.append(StorageWatchLost(reason=f"member {node} is gone"))
        with_api(work, api)
        if api.member == node:
            self._next_member(work)

    def _open_storage_watch(self, work: Work, command: StorageWatch) -> None:
        state = work.state
        member = self._usable_member(state)
        node = member_state(state, member) if member is not None else None
        if member is None or node is None:
            with_api(work, msgspec.structs.replace(state.api, watch=None, watch_member=0))
            work.queue.append(StorageWatchLost(reason="no etcd member"))
            return
        end = bytearray(command.prefix)
        end[-1] += 1
        create = WatchCreateRequest(
            key=command.prefix,
            range_end=bytes(end),
            start_revision=command.start_revision,
            prev_kv=True,
            watch_id=_STORAGE_WATCH_ID,
        )
        stream, responses = etcd_watch.on_create(node.etcd, etcd_watch.WatchStream(), create)
        api = msgspec.structs.replace(
            state.api, watch=stream, watch_member=member, watch_prefix=command.prefix
        )
        with_api(work, api)
        self._watch_responses(work, responses)

    def deliver_storage_watch(self, work: Work) -> None:
        """What the watched member applied since the last delivery."""
        api = work.state.api
        if api.watch is None or api.state is None:
            return
        node = member_state(work.state, api.watch_member)
        if node is None:
            return
        watcher = api.watch.watchers.get(_STORAGE_WATCH_ID)
        if watcher is not None and watcher.next_revision > node.etcd.revision:
            return
        stream, responses = etcd_watch.deliver(node.etcd, api.watch)
        if stream is not api.watch:
            with_api(work, msgspec.structs.replace(api, watch=stream))
        self._watch_responses(work, responses)

    def _watch_responses(self, work: Work, responses: tuple[Any, ...]) -> None:
        for response in responses:
            if response.canceled:
                with_api(work, msgspec.structs.replace(work.state.api, watch=None, watch_member=0))
                work.queue.append(StorageWatchLost(reason="compacted"))
                return
            if response.events:
                work.queue.append(
                    StorageEvents(events=response.events, revision=response.header.revision)
                )

    def unpark(self, work: Work, parked: tuple[tuple[int, StorageResult], ...]) -> None:
        """Answer the operations parked by an earlier action."""
        for operation_id, result in parked:
            work.queue.append(StorageReplied(operation_id=operation_id, result=result))
