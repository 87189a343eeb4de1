"""The API server world for the simulation kernel: clients, one API server machine and the
reference etcd, with faults, and the API properties judged on the recorded history.

Theory of operation. The state holds the machine's state, the etcd state, the storage
operations in flight (etcd may take them in any order) and what the clients saw. Actions: a
client call (its time, UID and name suffixes drawn by the kernel's PRNG, so a trace replays),
the delivery of one storage operation, the delivery of the store's watch events to the watch
cache, time passing (bookmarks, watch timeouts), and faults: etcd losing its leader (operations
answer "unavailable" until it recovers), an API server restart (requests in flight are lost;
their storage operations may still apply; every watch ends; the cache lists again) and a slow
watcher dropped. Each answer, watch start, watch line and storage command the machine emits is
carried out at once. The history checker judges the run at its end with ``spec.apiserver``.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from typing import Any, Final, TypeAlias

import immutables
import msgspec

from impl.apiserver.context import Config, builtin_config
from impl.apiserver.machine import init, on_event
from impl.apiserver.state import ApiServerState
from impl.etcd.apply import ApplyContext, apply
from impl.etcd.store import EtcdState
from models.apiserver.clock import rfc3339
from models.apiserver.history import ApiHistory, ApiOperation, Seen, WatchEvent, WatchStream
from models.apiserver.messages import (
    ApiRequest,
    ApiServerCommand,
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
    Tick,
    WatchClosed,
)
from models.etcd import EtcdError, PutRequest, RangeResponse, TxnResponse
from models.trace import SwarmOptions
from runner.apiserver.conform import seen_of
from runner.apiserver.entropy import NAME_ALPHABET
from runner.apiserver.mutants import SKIP_EVERY, forget_resource_versions, stale_range
from runner.apiserver.world_checks import AnswersFlow, HistoryChecker, Tally
from runner.sim.world import ActionKind, Applied, Choice, NotEnabled

COLLECTION: Final = "/api/v1/namespaces/default/configmaps"
START_SECONDS: Final = 1_767_225_600
CallKind: TypeAlias = str


class ApiSetup(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    clients: int = 3
    objects: int = 2
    watch_cache_capacity: int = 20
    mutant: str = ""
    """A deliberately broken server (``runner.apiserver.mutants``): ``stale-list``,
    ``skip-watch-event`` or ``ignore-resource-version``; empty: the reference."""


class Call(msgspec.Struct, frozen=True, kw_only=True, tag="call"):
    client: int
    kind: str
    name: str
    uid: str
    suffixes: tuple[str, ...]


class DeliverStorage(msgspec.Struct, frozen=True, kw_only=True, tag="deliver-storage"):
    position: int


class DeliverWatch(msgspec.Struct, frozen=True, kw_only=True, tag="deliver-watch"):
    pass


class Advance(msgspec.Struct, frozen=True, kw_only=True, tag="advance"):
    seconds: int


class EtcdDown(msgspec.Struct, frozen=True, kw_only=True, tag="etcd-down"):
    pass


class EtcdUp(msgspec.Struct, frozen=True, kw_only=True, tag="etcd-up"):
    pass


class Restart(msgspec.Struct, frozen=True, kw_only=True, tag="restart"):
    pass


class DropWatcher(msgspec.Struct, frozen=True, kw_only=True, tag="drop-watcher"):
    watch_id: int


ApiAction: TypeAlias = (
    Call | DeliverStorage | DeliverWatch | Advance | EtcdDown | EtcdUp | Restart | DropWatcher
)


class InFlight(msgspec.Struct, frozen=True, kw_only=True):
    incarnation: int
    command: StorageRange | StorageTxn


class OpenCall(msgspec.Struct, frozen=True, kw_only=True):
    client: int
    kind: str
    name: str
    token: str = ""
    precondition: int = 0
    expected_token: str = ""
    marks: bool = False
    call_time: int


class ApiWorldState(msgspec.Struct, frozen=True, kw_only=True):
    api: ApiServerState
    etcd: EtcdState
    etcd_up: bool = True
    incarnation: int = 0
    in_flight: tuple[InFlight, ...] = ()
    watch_from: int = 0
    seconds: int = START_SECONDS
    ticks: int = 0
    next_request: int = 1
    calls: immutables.Map[int, OpenCall] = msgspec.field(default_factory=immutables.Map)
    known: immutables.Map[str, Seen] = msgspec.field(default_factory=immutables.Map)
    """What each client last read of each object, keyed ``client/name``."""
    listed: immutables.Map[int, int] = msgspec.field(default_factory=immutables.Map)
    operations: tuple[ApiOperation, ...] = ()
    watches: immutables.Map[int, WatchStream] = msgspec.field(default_factory=immutables.Map)
    open_watches: frozenset[int] = frozenset()
    watch_lines: immutables.Map[int, int] = msgspec.field(default_factory=immutables.Map)


Outputs = tuple[ApiServerCommand, ...]


def _json(method: str, path: str, body: object) -> ApiRequest:
    return ApiRequest(
        method=method, path=path, content_type="application/json", body=msgspec.json.encode(body)
    )


def _request(state: ApiWorldState, call: Call) -> tuple[ApiRequest, OpenCall]:
    open_call = OpenCall(
        client=call.client, kind=call.kind, name=call.name, call_time=state.ticks + 1
    )
    path = f"{COLLECTION}/{call.name}"
    seen = state.known.get(f"{call.client}/{call.name}")
    token = f"c{call.client}-{state.next_request}"
    if call.kind == "create":
        meta: dict[str, Any] = {"name": call.name}
        if call.suffixes[0][0] in "bcdfg":  # about one create in five holds a finalizer
            meta["finalizers"] = ["kubeoracle.io/hold"]
        body = {"metadata": meta, "data": {"token": token}}
        return _json("POST", COLLECTION, body), msgspec.structs.replace(open_call, token=token)
    if call.kind in ("update", "delete") and seen is not None:
        meta = {"name": call.name, "resourceVersion": str(seen.resource_version)}
        conditioned = msgspec.structs.replace(
            open_call, precondition=seen.resource_version, expected_token=seen.value
        )
        if seen.deleting:  # emptying the finalizers of a deleting object removes it
            release = {"metadata": meta, "data": {"token": seen.token}}
            removal = msgspec.structs.replace(conditioned, kind="delete")
            return _json("PUT", path, release), removal
        if call.kind == "update":
            update = {"metadata": meta, "data": {"token": token}}
            return _json("PUT", path, update), msgspec.structs.replace(conditioned, token=token)
        options = {"preconditions": {"resourceVersion": str(seen.resource_version)}}
        return _json("DELETE", path, options), msgspec.structs.replace(
            conditioned, marks=seen.finalized
        )
    if call.kind == "list":
        return ApiRequest(method="GET", path=COLLECTION), msgspec.structs.replace(
            open_call, name=""
        )
    if call.kind == "watch":
        query = (("watch", "true"), ("resourceVersion", str(state.listed.get(call.client, 0))))
        return ApiRequest(method="GET", path=COLLECTION, query=query), open_call
    return ApiRequest(method="GET", path=path), msgspec.structs.replace(open_call, kind="get")


class ApiWorld:
    """One run of the API server world."""

    def __init__(self, setup: ApiSetup) -> None:
        self.setup = setup
        self.config: Config = builtin_config(watch_cache_capacity=setup.watch_cache_capacity)
        self.names = tuple(f"object-{index}" for index in range(setup.objects))

    def initial(self) -> Applied[ApiWorldState, ApiServerCommand]:
        first = init(self.config)
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}
        etcd, _ = apply(
            EtcdState(),
            PutRequest(key=b"/registry/namespaces/default", value=msgspec.json.encode(namespace)),
            ApplyContext(),
        )
        state = ApiWorldState(api=first.state, etcd=etcd)
        return self._carry_out(state, first.commands, ())

    def _feed(
        self, state: ApiWorldState, event: ApiServerEvent
    ) -> Applied[ApiWorldState, ApiServerCommand]:
        step = on_event(self.config, state.api, event)
        return self._carry_out(msgspec.structs.replace(state, api=step.state), step.commands, ())

    def _carry_out(
        self, state: ApiWorldState, commands: Outputs, done: Outputs
    ) -> Applied[ApiWorldState, ApiServerCommand]:
        for command in commands:
            state = self._effect(state, command)
        return Applied(state=state, outputs=(*done, *commands))

    def _effect(self, state: ApiWorldState, command: ApiServerCommand) -> ApiWorldState:
        match command:
            case StorageRange() | StorageTxn():
                flight = InFlight(incarnation=state.incarnation, command=command)
                return msgspec.structs.replace(state, in_flight=(*state.in_flight, flight))
            case StorageWatch():
                return msgspec.structs.replace(state, watch_from=command.start_revision)
            case Respond():
                return self._answered(state, command)
            case StartWatch():
                call = state.calls[command.request_id]
                stream = WatchStream(
                    watch_id=command.request_id,
                    start_revision=state.listed.get(call.client, 0),
                    call_time=call.call_time,
                )
                return msgspec.structs.replace(
                    state,
                    calls=state.calls.delete(command.request_id),
                    watches=state.watches.set(command.request_id, stream),
                    open_watches=state.open_watches | {command.request_id},
                )
            case SendWatch():
                return self._watch_line(state, command)
            case EndWatch():
                return msgspec.structs.replace(
                    state, open_watches=state.open_watches - {command.watch_id}
                )
        return state

    def _watch_line(self, state: ApiWorldState, command: SendWatch) -> ApiWorldState:
        stream = state.watches.get(command.watch_id)
        raw = msgspec.json.decode(command.line)
        seen = seen_of(raw.get("object"))
        kind = raw.get("type")
        if stream is None or kind not in ("ADDED", "MODIFIED", "DELETED") or seen is None:
            return state
        lines = state.watch_lines.get(command.watch_id, 0) + 1
        state = msgspec.structs.replace(
            state, watch_lines=state.watch_lines.set(command.watch_id, lines)
        )
        if self.setup.mutant == "skip-watch-event" and lines % SKIP_EVERY == 0:
            return state
        event = WatchEvent(type=kind, object=seen)
        stream = msgspec.structs.replace(stream, events=(*stream.events, event))
        return msgspec.structs.replace(state, watches=state.watches.set(command.watch_id, stream))

    def _answered(self, state: ApiWorldState, command: Respond) -> ApiWorldState:
        call = state.calls.get(command.request_id)
        if call is None:
            return state
        response = command.response
        body: Any = msgspec.json.decode(response.body) if response.body else None
        objects: tuple[Seen, ...] = ()
        known, listed = state.known, state.listed
        revision = 0
        if call.kind == "list" and response.status == 200:
            objects = tuple(s for s in map(seen_of, body.get("items") or []) if s is not None)
            revision = int(body["metadata"]["resourceVersion"])
            listed = listed.set(call.client, revision)
        elif 200 <= response.status < 300 and not call.expected_token.endswith("#deleting"):
            found = seen_of(body)
            objects = (found,) if found is not None and found.resource_version else ()
        if call.kind == "get":
            key = f"{call.client}/{call.name}"
            known = (
                known.set(key, objects[0])
                if objects
                else (known.delete(key) if key in known else known)
            )
        operation = ApiOperation(
            client=call.client, call_time=call.call_time, return_time=state.ticks + 1,
            kind=call.kind, name=call.name, token=call.token, precondition=call.precondition,  # type: ignore[arg-type]
            expected_token=call.expected_token, marks=call.marks, status=response.status,
            reason=str(body.get("reason", "")) if isinstance(body, dict) else "",
            objects=objects, list_revision=revision,
        )  # fmt: skip
        return msgspec.structs.replace(
            state,
            calls=state.calls.delete(command.request_id),
            known=known,
            listed=listed,
            operations=(*state.operations, operation),
            ticks=state.ticks + 1,
        )

    def apply(
        self, state: ApiWorldState, action: ApiAction
    ) -> Applied[ApiWorldState, ApiServerCommand] | NotEnabled:
        match action:
            case Call():
                return self._call(state, action)
            case DeliverStorage():
                return self._deliver(state, action.position)
            case DeliverWatch():
                return self._deliver_watch(state)
            case Advance():
                later = msgspec.structs.replace(state, seconds=state.seconds + action.seconds)
                return self._feed(later, Tick(now_seconds=later.seconds))
            case EtcdDown() | EtcdUp():
                return Applied(
                    state=msgspec.structs.replace(state, etcd_up=isinstance(action, EtcdUp)),
                    outputs=(),
                )
            case Restart():
                return self._restart(state)
            case DropWatcher():
                if action.watch_id not in state.open_watches:
                    return NotEnabled(reason="no such open watch")
                dropped = msgspec.structs.replace(
                    state, open_watches=state.open_watches - {action.watch_id}
                )
                return self._feed(dropped, WatchClosed(watch_id=action.watch_id))
        return NotEnabled(reason=f"unknown action {action!r}")

    def _call(
        self, state: ApiWorldState, call: Call
    ) -> Applied[ApiWorldState, ApiServerCommand] | NotEnabled:
        if any(open_call.client == call.client for open_call in state.calls.values()):
            return NotEnabled(reason=f"client {call.client} is waiting for an answer")
        request, open_call = _request(state, call)
        entropy = Entropy(
            now=rfc3339(state.seconds),
            now_seconds=state.seconds,
            uid=call.uid,
            name_suffixes=call.suffixes,
        )
        if self.setup.mutant == "ignore-resource-version":
            request = forget_resource_versions(request)
        rid = state.next_request
        started = msgspec.structs.replace(
            state,
            next_request=rid + 1,
            ticks=state.ticks + 1,
            calls=state.calls.set(rid, open_call),
        )
        return self._feed(
            started, RequestReceived(request_id=rid, request=request, entropy=entropy)
        )

    def _deliver(
        self, state: ApiWorldState, position: int
    ) -> Applied[ApiWorldState, ApiServerCommand] | NotEnabled:
        if position >= len(state.in_flight):
            return NotEnabled(reason="no such storage operation")
        flight = state.in_flight[position]
        rest = state.in_flight[:position] + state.in_flight[position + 1 :]
        etcd = state.etcd
        result: StorageResult = StorageUnavailable(reason="etcd has no leader")
        if state.etcd_up:
            command = flight.command
            if self.setup.mutant == "stale-list":
                command = stale_range(command, etcd.revision, etcd.compact_revision)
            etcd, answer = apply(state.etcd, command.request, ApplyContext())
            result = (
                answer if isinstance(answer, RangeResponse | TxnResponse | EtcdError) else result
            )
        moved = msgspec.structs.replace(state, etcd=etcd, in_flight=rest)
        if flight.incarnation != state.incarnation:
            return Applied(state=moved, outputs=())  # its server is gone: nobody hears it
        reply: StorageResult = result
        return self._feed(
            moved, StorageReplied(operation_id=flight.command.operation_id, result=reply)
        )

    def _deliver_watch(
        self, state: ApiWorldState
    ) -> Applied[ApiWorldState, ApiServerCommand] | NotEnabled:
        if not state.watch_from or state.etcd.revision < state.watch_from:
            return NotEnabled(reason="no store events to deliver")
        events = tuple(
            event
            for revision in range(state.watch_from, state.etcd.revision + 1)
            for event in state.etcd.events.get(revision, ())
            if event.kv.key.startswith(b"/registry/")
        )
        moved = msgspec.structs.replace(state, watch_from=state.etcd.revision + 1)
        return self._feed(moved, StorageEvents(events=events, revision=state.etcd.revision))

    def _restart(self, state: ApiWorldState) -> Applied[ApiWorldState, ApiServerCommand]:
        first = init(self.config)
        first = init(self.config)
        restarted = msgspec.structs.replace(
            state, api=first.state, incarnation=state.incarnation + 1, watch_from=0,
            calls=immutables.Map(), operations=(*state.operations, *_unanswered(state)),
            open_watches=frozenset(),
        )  # fmt: skip
        return self._carry_out(restarted, first.commands, ())

    def choices(
        self, state: ApiWorldState, last: Applied[ApiWorldState, ApiServerCommand]
    ) -> Sequence[Choice[ApiAction]]:
        del last
        found: list[Choice[ApiAction]] = []
        waiting = {c.client for c in state.calls.values()}
        for client in range(self.setup.clients):
            if client not in waiting:
                found.append(Choice(kind="call", make=self._maker(state, client)))
        if state.in_flight:
            count = len(state.in_flight)
            found.append(
                Choice(
                    kind="deliver-storage",
                    make=lambda prng: DeliverStorage(position=prng.randrange(count)),
                )
            )
        if state.watch_from and state.etcd.revision >= state.watch_from:
            found.append(Choice(kind="deliver-watch", make=lambda _: DeliverWatch()))
        found.append(
            Choice(kind="advance", make=lambda prng: Advance(seconds=prng.choice((1, 5, 30))))
        )
        if state.etcd_up:
            found.append(Choice(kind="etcd-down", make=lambda _: EtcdDown()))
        else:
            found.append(Choice(kind="etcd-up", make=lambda _: EtcdUp()))
        found.append(Choice(kind="restart", make=lambda _: Restart()))
        if state.open_watches:
            ids = sorted(state.open_watches)
            found.append(
                Choice(
                    kind="drop-watcher", make=lambda prng: DropWatcher(watch_id=prng.choice(ids))
                )
            )
        return found

    def _maker(self, state: ApiWorldState, client: int) -> Any:
        def make(prng: random.Random) -> Call:
            kinds = ["create", "get", "get", "update", "delete", "list"]
            if client in state.listed:
                kinds.append("watch")
            kind = prng.choice(kinds)
            if kind in ("update", "delete") and not any(
                k.startswith(f"{client}/") for k in state.known
            ):
                kind = "get"
            suffixes = tuple(
                "".join(prng.choice(NAME_ALPHABET) for _ in range(5)) for _ in range(8)
            )
            uid = str(uuid.UUID(int=prng.getrandbits(128), version=4))
            return Call(
                client=client, kind=kind, name=prng.choice(self.names), uid=uid, suffixes=suffixes
            )

        return make

    def checkers(self) -> tuple[HistoryChecker, ...]:
        return (HistoryChecker(lambda state: history_of(state, self.names)),)

    def progress(self) -> AnswersFlow:
        return AnswersFlow()

    def driver(self, prng: random.Random) -> FairDriver:
        return FairDriver(self, prng)

    def statistics(self) -> Tally:
        return Tally()


class FairDriver:
    """Heal etcd, then cycle: deliver storage, deliver the watch, let a client call."""

    def __init__(self, world: ApiWorld, prng: random.Random) -> None:
        self.world, self.prng = world, prng

    def next_action(self, state: ApiWorldState, index: int) -> ApiAction:
        if not state.etcd_up:
            return EtcdUp()
        if state.in_flight:
            return DeliverStorage(position=0)
        if state.watch_from and state.etcd.revision >= state.watch_from:
            return DeliverWatch()
        waiting = {c.client for c in state.calls.values()}
        client = index % self.world.setup.clients
        if client in waiting:
            return Advance(seconds=1)
        action: Call = self.world._maker(state, client)(self.prng)
        return action

    def observe(self, index: int, applied: Applied[ApiWorldState, ApiServerCommand]) -> None:
        del index, applied


def _unanswered(state: ApiWorldState) -> tuple[ApiOperation, ...]:
    """The calls still open, as operations whose outcome is unknown (no answer yet)."""
    return tuple(
        ApiOperation(client=c.client, call_time=c.call_time, return_time=None, kind=c.kind,  # type: ignore[arg-type]
                     name=c.name, token=c.token, precondition=c.precondition,
                     expected_token=c.expected_token, marks=c.marks)
        for _, c in sorted(state.calls.items())
    )  # fmt: skip


def history_of(state: ApiWorldState, names: tuple[str, ...]) -> ApiHistory:
    """What the clients saw so far; calls still open count as operations with no answer, so
    that every prefix of a run is judged soundly."""
    return ApiHistory(
        namespace="default", names=names, operations=(*state.operations, *_unanswered(state)),
        watches=tuple(state.watches[key] for key in sorted(state.watches.keys())),
    )  # fmt: skip


class ApiWorldKind:
    name = "apiserver"
    setup_type = ApiSetup
    action_type = ApiAction
    action_kinds = (
        ActionKind("call", None, 20, 60),
        ActionKind("deliver-storage", None, 30, 80),
        ActionKind("deliver-watch", None, 10, 30),
        ActionKind("advance", None, 1, 5),
        ActionKind("etcd-down", "etcd-leader-loss", 1, 3),
        ActionKind("etcd-up", None, 5, 15),
        ActionKind("restart", "apiserver-restart", 1, 2),
        ActionKind("drop-watcher", "slow-watcher", 1, 3),
    )
    fault_kinds = ("etcd-leader-loss", "apiserver-restart", "slow-watcher")

    def build(self, setup: ApiSetup, swarm: SwarmOptions) -> ApiWorld:
        del swarm
        return ApiWorld(setup)


APISERVER: Final = ApiWorldKind()


def draw_setup(prng: random.Random, swarm: SwarmOptions) -> ApiSetup:
    del swarm
    return ApiSetup(clients=prng.randint(2, 4), objects=prng.randint(1, 3))
