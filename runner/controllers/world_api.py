"""The API server machine on the reference etcd as one immutable value, for the controllers'
simulation world: ``ApiValue`` holds both states and the storage watch, ``request`` answers one
request and returns the new value with every watch line the machine emitted.

It mirrors ``runner.apiserver.driver.Driver`` on ``runner.apiserver.local_store.LocalStore``
(events queued while one is handled; a storage write answered at once, then the storage watch
fed the new events) but keeps nothing outside the value, so a simulation step can be replayed
from the previous state alone. Entropy (time, UIDs, name suffixes) is derived from the seed and
a counter in the value, so it replays too.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Final, assert_never

import msgspec

from impl.apiserver.context import Config
from impl.apiserver.machine import init, on_event
from impl.apiserver.state import ApiServerState
from impl.etcd.apply import ApplyContext, apply
from impl.etcd.store import EtcdState
from impl.etcd.watch import WatchStream, deliver, on_cancel, on_create
from models.apiserver.messages import (
    ApiRequest,
    ApiResponse,
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
    StorageTxn,
    StorageWatch,
    StorageWatchLost,
    Tick,
)
from models.etcd import EtcdError, RangeRequest, RangeResponse, TxnResponse, WatchCreateRequest
from runner.apiserver.bootstrap import bootstrap_requests
from runner.apiserver.entropy import counted_entropy

START_SECONDS: Final = 1_767_225_600
_WATCH_ID: Final = 1
_SUFFIX_LENGTH: Final = 5
_ATTEMPTS: Final = 8


class ApiValue(msgspec.Struct, frozen=True, kw_only=True):
    api: ApiServerState
    etcd: EtcdState
    stream: WatchStream
    watching: bool = False
    seed: int = 0
    draws: int = 0
    now_seconds: int = START_SECONDS
    next_request: int = 1


class Answered(msgspec.Struct, frozen=True, kw_only=True):
    """What one request produced: its answer (None for a watch) and the watch lines sent."""

    response: ApiResponse | None
    lines: tuple[tuple[int, bytes], ...]
    ended: tuple[int, ...]


def _entropy(value: ApiValue) -> Entropy:
    return counted_entropy(value.seed, value.draws, value.now_seconds)


def boot(config: Config, seed: int) -> ApiValue:
    """A fresh server on an empty etcd, with kube-apiserver's start-up objects created."""
    first = init(config)
    value = ApiValue(api=first.state, etcd=EtcdState(), stream=WatchStream(), seed=seed)
    value, _ = _pump(config, value, deque(), first.commands)
    for request in bootstrap_requests(config):
        value, _ = send(config, value, request)
    return value


def send(config: Config, value: ApiValue, request: ApiRequest) -> tuple[ApiValue, Answered]:
    """Hand ``request`` to the machine; the new value and what came out."""
    event = RequestReceived(request_id=value.next_request, request=request, entropy=_entropy(value))
    value = msgspec.structs.replace(
        value, next_request=value.next_request + 1, draws=value.draws + 1
    )
    return _pump(config, value, deque([event]), (), event.request_id)


def tick(config: Config, value: ApiValue, seconds: int) -> tuple[ApiValue, Answered]:
    value = msgspec.structs.replace(value, now_seconds=value.now_seconds + seconds)
    return _pump(config, value, deque([Tick(now_seconds=value.now_seconds)]), ())


def _pump(
    config: Config,
    value: ApiValue,
    queue: deque[ApiServerEvent],
    commands: tuple[Any, ...],
    request_id: int = 0,
) -> tuple[ApiValue, Answered]:
    api, etcd, stream, watching = value.api, value.etcd, value.stream, value.watching
    response: ApiResponse | None = None
    lines: list[tuple[int, bytes]] = []
    ended: list[int] = []
    pending = deque(commands)
    while pending or queue:
        if not pending:
            step = on_event(config, api, queue.popleft())
            api = step.state
            pending.extend(step.commands)
            continue
        command = pending.popleft()
        match command:
            case Respond():
                if command.request_id == request_id:
                    response = command.response
            case StartWatch():
                pass
            case SendWatch():
                lines.append((command.watch_id, command.line))
            case EndWatch():
                ended.append(command.watch_id)
            case StorageRange() | StorageTxn():
                etcd, result = apply(etcd, command.request, ApplyContext())
                if not isinstance(result, RangeResponse | TxnResponse | EtcdError):
                    result = EtcdError(code=13, message="unexpected etcd answer")
                queue.append(StorageReplied(operation_id=command.operation_id, result=result))
                if watching:
                    stream = _flush(etcd, stream, queue)
            case StorageWatch():
                stream, _ = on_cancel(etcd, stream, _WATCH_ID)
                end = bytearray(command.prefix)
                end[-1] += 1
                create = WatchCreateRequest(
                    key=command.prefix,
                    range_end=bytes(end),
                    start_revision=command.start_revision,
                    prev_kv=True,
                    watch_id=_WATCH_ID,
                )
                stream, responses = on_create(etcd, stream, create)
                watching = True
                for answer in responses:
                    if answer.events:
                        queue.append(
                            StorageEvents(events=answer.events, revision=answer.header.revision)
                        )
            case _:
                assert_never(command)
    value = msgspec.structs.replace(value, api=api, etcd=etcd, stream=stream, watching=watching)
    return value, Answered(response=response, lines=tuple(lines), ended=tuple(ended))


def _flush(etcd: EtcdState, stream: WatchStream, queue: deque[ApiServerEvent]) -> WatchStream:
    stream, responses = deliver(etcd, stream)
    for answer in responses:
        if answer.canceled:
            queue.append(StorageWatchLost(reason=f"compacted at {answer.compact_revision}"))
        elif answer.events:
            queue.append(StorageEvents(events=answer.events, revision=answer.header.revision))
    return stream


def stored_objects(value: ApiValue) -> tuple[dict[str, Any], ...]:
    """Every object in etcd under ``/registry/``, decoded."""
    _, result = apply(
        value.etcd, RangeRequest(key=b"/registry/", range_end=b"/registry0"), ApplyContext()
    )
    assert isinstance(result, RangeResponse)
    return tuple(msgspec.json.decode(kv.value) for kv in result.kvs)
