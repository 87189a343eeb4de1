"""One lock client process for ``conform etcd --workload lock``: etcd's mutex recipe
(``impl.etcd.recipes.lock``) over gRPC, holding the lock for a while and writing to a resource.

Theory of operation. The client grants itself a lease and keeps it alive from a thread (every
third of the TTL, as etcd's clients do); a lease found gone (TTL 0) is replaced before the next
attempt. In a loop it locks (carrying out the recipe's commands: requests through
:class:`~runner.etcd.grpc_client.EtcdGrpcClient`, the watch on the key before its own through
:class:`~runner.etcd.grpc_client.GrpcWatchStreamReader`), then, believing it holds the lock,
writes to the resource several times with its fencing token, then unlocks. Each step is one JSON
line on stdout with the time (``CLOCK_MONOTONIC``, the same clock in every process of the
machine): ``acquired`` (token, lease, the revision of the answer that completed the lock),
``write`` (accepted or refused), ``released``. The parent pauses it with SIGSTOP at will: the
whole process stops, keepalives included, which is the point. It stops on SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import queue
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from impl.etcd.recipes import lock
from impl.etcd.recipes.queue import RecipeStep
from models.etcd import (
    DeleteRangeRequest,
    EtcdError,
    LeaseGrantRequest,
    LeaseGrantResponse,
    LeaseKeepAliveRequest,
    LeaseKeepAliveResponse,
    RangeRequest,
    ResponseHeader,
    TxnRequest,
    WatchCreateRequest,
    WatchResponse,
)
from models.etcd_recipes import (
    Acquired,
    Answered,
    Failed,
    RecipeEvent,
    RecipeState,
    SendRequest,
    StopWatch,
    Watched,
    WatchKey,
)
from runner.etcd.client import Indeterminate
from runner.etcd.grpc_client import EtcdGrpcClient, GrpcWatchStreamReader

WRITES_PER_HOLD = 4
WRITE_INTERVAL_SECONDS = 0.25
PAUSE_BETWEEN_ATTEMPTS_SECONDS = 0.1
REQUEST_TIMEOUT_SECONDS = 5.0


def emit(event: str, **fields: Any) -> None:
    """One JSON line on stdout, stamped with CLOCK_MONOTONIC."""
    line = {"event": event, "time_ns": time.monotonic_ns(), **fields}
    print(json.dumps(line, sort_keys=True), flush=True)


class Stop(Exception):  # noqa: N818 (a signal, not an error)
    """SIGTERM: leave the loop."""


class LeaseKeeper:
    """The client's lease, kept alive from a thread."""

    def __init__(self, client: EtcdGrpcClient, ttl_seconds: int) -> None:
        self.client = client
        self.ttl_seconds = ttl_seconds
        self.lease = 0
        self.lock = threading.Lock()
        thread = threading.Thread(target=self._keep, daemon=True, name="keepalive")
        thread.start()

    def current(self) -> int:
        """A live lease: the current one, or a new one when etcd no longer has it."""
        with self.lock:
            if self.lease == 0:
                granted = self.client.lease_grant(LeaseGrantRequest(TTL=self.ttl_seconds))
                if not isinstance(granted, LeaseGrantResponse):
                    raise RuntimeError(f"lease grant failed: {granted}")
                self.lease = granted.ID
                emit("lease", lease=self.lease, ttl=granted.TTL)
            return self.lease

    def _keep(self) -> None:
        while True:
            time.sleep(self.ttl_seconds / 3)
            with self.lock:
                lease = self.lease
            if lease == 0:
                continue
            answer = self.client.lease_keepalive(LeaseKeepAliveRequest(ID=lease))
            if isinstance(answer, LeaseKeepAliveResponse) and answer.TTL <= 0:
                emit("lease_lost", lease=lease)
                with self.lock:
                    if self.lease == lease:
                        self.lease = 0


class RecipeRunner:
    """Carries out a recipe client's commands over gRPC, synchronously."""

    def __init__(self, endpoint: str, client: EtcdGrpcClient) -> None:
        self.endpoint = endpoint
        self.client = client
        self.events: queue.Queue[RecipeEvent] = queue.Queue()
        self.reader: GrpcWatchStreamReader | None = None
        self.last_header = ResponseHeader()
        self.acquired: Acquired | None = None
        self.failure = ""

    def _send(self, request: TxnRequest | RangeRequest | DeleteRangeRequest) -> None:
        answer: Any
        if isinstance(request, TxnRequest):
            answer = self.client.txn(request)
        elif isinstance(request, RangeRequest):
            answer = self.client.range(request)
        else:
            answer = self.client.delete_range(request)
        if isinstance(answer, Indeterminate):
            answer = EtcdError(code=14, message=answer.reason)
        if not isinstance(answer, EtcdError):
            self.last_header = answer.header
        self.events.put(Answered(answer=answer))

    def _watch(self, command: WatchKey) -> None:
        self._stop_watch()
        request = WatchCreateRequest(
            key=command.key, range_end=command.range_end, start_revision=command.start_revision
        )
        reader = GrpcWatchStreamReader(self.endpoint, request, timeout_seconds=0)
        self.reader = reader

        def follow() -> None:
            for message in reader.responses():
                if isinstance(message, WatchResponse) and message.events:
                    revision = message.header.revision
                    self.events.put(Watched(events=message.events, revision=revision))

        threading.Thread(target=follow, daemon=True, name="watch").start()

    def _stop_watch(self) -> None:
        reader, self.reader = self.reader, None
        if reader is not None:
            reader.close()

    def carry_out(self, step: RecipeStep) -> RecipeState:
        for command in step.commands:
            if isinstance(command, SendRequest):
                self._send(command.request)
            elif isinstance(command, WatchKey):
                self._watch(command)
            elif isinstance(command, StopWatch):
                self._stop_watch()
            elif isinstance(command, Acquired):
                self.acquired = command
            elif isinstance(command, Failed):
                self.failure = command.reason
        return step.state

    def run(
        self,
        step: RecipeStep,
        machine: Callable[[RecipeState, RecipeEvent], RecipeStep],
        done: Callable[[RecipeState], bool],
    ) -> RecipeState:
        state = self.carry_out(step)
        while not done(state) and not self.failure:
            state = self.carry_out(machine(state, self.events.get()))
        self._stop_watch()
        return state


def write(resource: str, client: int, token: int) -> bool:
    """Offer one write to the resource; True if it was accepted."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.settimeout(REQUEST_TIMEOUT_SECONDS)
        connection.connect(resource)
        connection.sendall(f"{client} {token}\n".encode())
        return connection.recv(64).strip() == b"accepted"


def hold_and_write(args: argparse.Namespace, runner: RecipeRunner, state: RecipeState) -> None:
    acquired = runner.acquired
    assert acquired is not None
    emit(
        "acquired",
        client=args.client,
        token=acquired.revision,
        lease=state.lease,
        key=acquired.key.decode(),
        revision=runner.last_header.revision,
    )
    for _ in range(WRITES_PER_HOLD):
        time.sleep(WRITE_INTERVAL_SECONDS)
        accepted = write(args.resource, args.client, acquired.revision)
        emit("write", client=args.client, token=acquired.revision, accepted=accepted)


def attempt(args: argparse.Namespace, client: EtcdGrpcClient, keeper: LeaseKeeper) -> None:
    """Lock, hold and write, unlock: one round."""
    runner = RecipeRunner(args.endpoint, client)
    lease = keeper.current()
    state = runner.run(
        lock.lock(args.name.encode(), lease),
        lock.on_event,
        lambda current: current.phase in ("held", "failed"),
    )
    if state.phase != "held":
        emit("failed", client=args.client, reason=runner.failure)
        return
    hold_and_write(args, runner, state)
    released = runner.run(
        lock.unlock(state), lock.on_event, lambda current: current.phase != "releasing"
    )
    emit("released", client=args.client, token=state.revision, phase=released.phase)


def _stop(signal_number: int, frame: FrameType | None) -> None:
    del signal_number, frame
    raise Stop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runner.etcd.lock_client")
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--name", required=True, help="the lock's prefix")
    parser.add_argument("--client", type=int, required=True)
    parser.add_argument("--ttl", type=int, required=True, help="lease TTL, seconds")
    parser.add_argument("--resource", required=True, help="the resource's Unix socket")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _stop)
    client = EtcdGrpcClient(args.endpoint, timeout_seconds=REQUEST_TIMEOUT_SECONDS)
    keeper = LeaseKeeper(client, args.ttl)
    try:
        while True:
            try:
                attempt(args, client, keeper)
            except (OSError, RuntimeError) as error:
                emit("failed", client=args.client, reason=str(error))
            time.sleep(PAUSE_BETWEEN_ATTEMPTS_SECONDS)
    except (Stop, KeyboardInterrupt):
        return 0
    finally:
        client.close()


if __name__ == "__main__":
    sys.exit(main())
