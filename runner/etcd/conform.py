"""``kubeoracle conform etcd``: drive an etcd cluster, inject faults, record and check the history.

Theory of operation. ``clients`` threads each own one connection (etcd's JSON gateway or its gRPC
API: ``protocol``) and a PRNG seeded from the run's seed; they issue a mix of gets, ranges, puts,
deletes, txns (compare-and-set on mod_revision, multi-key writes), lease grant/revoke/keepalive and
compactions over a small key space, with unique values so that every write is identifiable. Each
operation is recorded with call and return times from one monotonic clock; an answer that leaves
the outcome unknown is recorded as not definite. Watch threads keep streams open from several start
revisions and record every message; a broken stream is resumed from the revision after the last
event it delivered. A fault thread (only for members this command started) SIGKILLs and restarts,
or SIGSTOPs and SIGCONTs, members at seeded times. The run ends by waiting for progress
notifications so the watch checker knows how far each stream was complete. The thread interleaving
is not seeded: two runs with one seed issue the same operation mixes but not the same history.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any

import msgspec

from models import history as h
from models.etcd import (
    CompactionRequest,
    DeleteRangeRequest,
    EtcdError,
    LeaseGrantRequest,
    LeaseRevokeRequest,
    PutRequest,
    RangeRequest,
    TxnRequest,
    WatchCreateRequest,
    prefix_range_end,
)
from runner.etcd.client import EtcdGatewayClient, Indeterminate, WatchStreamReader
from runner.etcd.conform_record import WorkloadRequest, WorkloadResponse, watch_message
from runner.etcd.grpc_client import EtcdGrpcClient, GrpcWatchStreamReader
from runner.etcd.workload import (
    KEY_PREFIX,
    ClientKnowledge,
    called,
    key_name,
    learn,
    next_request,
)

KEY_COUNT = 6
LEASE_TTL_SECONDS = 600
"""Long enough never to expire during a run: expiry depends on wall time, not on the history."""
MAX_OPERATIONS_PER_CLIENT = 100_000
MAX_WATCH_RESUMES = 50
SETTLE_SECONDS = 1.5
"""After the workload, how long watches stay open to receive progress notifications."""
PROTOCOLS = ("gateway", "grpc")
"""How clients reach the endpoints: etcd's v3 JSON gateway, or its v3 gRPC API."""
Client = EtcdGatewayClient | EtcdGrpcClient


def make_client(protocol: str, endpoint: str) -> Client:
    """A unary client of ``endpoint`` over ``protocol``."""
    if protocol == "grpc":
        return EtcdGrpcClient(endpoint, timeout_seconds=2.0)
    return EtcdGatewayClient(endpoint, timeout_seconds=2.0)


def make_watch_reader(
    protocol: str, endpoint: str, request: WatchCreateRequest
) -> WatchStreamReader | GrpcWatchStreamReader:
    """One watch stream on ``endpoint`` over ``protocol``."""
    if protocol == "grpc":
        return GrpcWatchStreamReader(endpoint, request, timeout_seconds=30.0)
    return WatchStreamReader(endpoint, request, timeout_seconds=30.0)


class FaultRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One injected fault: its kind, the member, and when it started and ended (ns)."""

    kind: str
    member: str
    start_time: int
    end_time: int


class Recorder:
    """Thread-safe collection of operation and watch records, timed from one origin."""

    def __init__(self) -> None:
        self.origin_ns = time.monotonic_ns()
        self.lock = threading.Lock()
        self.operations: list[h.OperationRecord] = []
        self.watches: list[h.WatchRecord] = []
        self.faults: list[FaultRecord] = []
        self.errors: list[str] = []

    def now(self) -> int:
        return time.monotonic_ns() - self.origin_ns

    def add(self, record: h.OperationRecord) -> None:
        with self.lock:
            self.operations.append(record)

    def history(self) -> h.History:
        with self.lock:
            operations = sorted(self.operations, key=lambda record: record.call_time)
            return h.History(
                header=h.HistoryHeader(model="etcd"),
                operations=tuple(operations),
                watches=tuple(self.watches),
            )


class ClientWorker:
    """One client: a connection, a PRNG, and what it has learned (revisions, leases)."""

    def __init__(
        self,
        client_id: int,
        endpoints: tuple[str, ...],
        seed: int,
        recorder: Recorder,
        protocol: str = "gateway",
    ) -> None:
        self.client_id = client_id
        self.endpoints = endpoints
        self.endpoint_index = client_id % len(endpoints)
        self.random = random.Random(seed * 1_000_003 + client_id)
        self.recorder = recorder
        self.protocol = protocol
        self.client = make_client(protocol, endpoints[self.endpoint_index])
        self.knows = ClientKnowledge(client=client_id)

    def next_request(self) -> WorkloadRequest:
        request = next_request(self.random, self.knows, KEY_COUNT, LEASE_TTL_SECONDS)
        self.knows = called(self.knows, request)
        return request

    def send(self, request: WorkloadRequest) -> WorkloadResponse | EtcdError | Indeterminate:
        if isinstance(request, RangeRequest):
            return self.client.range(request)
        if isinstance(request, PutRequest):
            return self.client.put(request)
        if isinstance(request, DeleteRangeRequest):
            return self.client.delete_range(request)
        if isinstance(request, TxnRequest):
            return self.client.txn(request)
        if isinstance(request, CompactionRequest):
            return self.client.compact(request)
        if isinstance(request, LeaseGrantRequest):
            return self.client.lease_grant(request)
        if isinstance(request, LeaseRevokeRequest):
            return self.client.lease_revoke(request)
        return self.client.lease_keepalive(request)

    def switch_endpoint(self) -> None:
        self.client.close()
        self.endpoint_index = (self.endpoint_index + 1) % len(self.endpoints)
        self.client = make_client(self.protocol, self.endpoints[self.endpoint_index])

    def run(self, stop: threading.Event) -> None:
        for _ in range(MAX_OPERATIONS_PER_CLIENT):
            if stop.is_set():
                break
            self.step()
        self.client.close()

    def step(self) -> None:
        request = self.next_request()
        call_time = self.recorder.now()
        response = self.send(request)
        return_time = self.recorder.now()
        if isinstance(response, Indeterminate):
            if response.reason.startswith("ConnectionRefusedError"):
                # Never reached a server: not an operation at all.
                self.switch_endpoint()
                time.sleep(0.05)
                return
            self.recorder.add(
                h.OperationRecord(
                    client_id=self.client_id,
                    call_time=call_time,
                    return_time=None,
                    operation=request,
                    definite=False,
                )
            )
            # A client that did not learn the outcome continues as a new client (one pending
            # operation per client id at a time).
            self.client_id += 1000
            self.switch_endpoint()
            time.sleep(0.05)
            return
        if not isinstance(response, EtcdError):
            self.knows = learn(self.knows, request, response)
        self.recorder.add(
            h.OperationRecord(
                client_id=self.client_id,
                call_time=call_time,
                return_time=return_time,
                operation=request,
                result=response,
            )
        )


class WatchWorker:
    """Keeps one logical watch open, resuming after the last delivered revision on breaks."""

    def __init__(
        self,
        client_id: int,
        endpoints: tuple[str, ...],
        request: WatchCreateRequest,
        recorder: Recorder,
        protocol: str = "gateway",
    ) -> None:
        self.client_id = client_id
        self.endpoints = endpoints
        self.request = request
        self.recorder = recorder
        self.protocol = protocol
        self.reader: WatchStreamReader | GrpcWatchStreamReader | None = None
        self.lock = threading.Lock()
        self.closing = False

    def run(self, stop: threading.Event) -> None:
        request = self.request
        for attempt in range(MAX_WATCH_RESUMES):
            endpoint = self.endpoints[(self.client_id + attempt) % len(self.endpoints)]
            reader = make_watch_reader(self.protocol, endpoint, request)
            with self.lock:
                if self.closing:
                    return
                self.reader = reader
            messages: list[h.WatchMessage] = []
            last_event_revision = 0
            for message in reader.responses():
                messages.append(watch_message(message, self.recorder.now()))
                if not isinstance(message, str) and message.events:
                    last_event_revision = message.events[-1].kv.mod_revision
                if not isinstance(message, str) and message.canceled:
                    break
            opened = messages[0].response if messages else None
            if opened is None or not opened.created:
                # The stream never opened (member down): nothing was watched.
                time.sleep(0.1)
                continue
            with self.recorder.lock:
                self.recorder.watches.append(
                    h.WatchRecord(
                        client_id=self.client_id + 1000 * attempt,
                        request=request,
                        messages=tuple(messages),
                    )
                )
            if self.closing or stop.is_set():
                return
            compacted = [
                m.response.compact_revision
                for m in messages
                if m.response is not None and m.response.canceled
            ]
            if compacted and compacted[-1] > 0:
                # Resume inside the history window: from the compaction revision on.
                request = msgspec.structs.replace(request, start_revision=compacted[-1])
            elif compacted:
                return
            elif last_event_revision:
                request = msgspec.structs.replace(request, start_revision=last_event_revision + 1)
            time.sleep(0.1)

    def close(self) -> None:
        with self.lock:
            self.closing = True
            reader = self.reader
        if reader is not None:
            reader.close()


def watch_requests(
    rng: random.Random, key_count: int = KEY_COUNT
) -> tuple[WatchCreateRequest, ...]:
    """Watches from the start, from revision 1, on one key, with filters, with prev_kv."""
    prefix_end = prefix_range_end(KEY_PREFIX)
    return (
        WatchCreateRequest(
            key=KEY_PREFIX, range_end=prefix_end, start_revision=1, prev_kv=True,
            progress_notify=True,
        ),
        WatchCreateRequest(key=KEY_PREFIX, range_end=prefix_end, progress_notify=True),
        WatchCreateRequest(
            key=key_name(rng.randrange(key_count)), start_revision=1, progress_notify=True
        ),
        WatchCreateRequest(
            key=KEY_PREFIX, range_end=prefix_end, filters=("NOPUT",), progress_notify=True
        ),
    )  # fmt: skip


FaultAction = Callable[[str, random.Random, Recorder], None]


def run_workload(
    endpoints: tuple[str, ...],
    *,
    seed: int,
    duration_seconds: float,
    clients: int,
    inject_fault: FaultAction | None,
    fault_kinds: tuple[str, ...],
    protocol: str = "gateway",
) -> Recorder:
    """Run clients, watches and faults for ``duration_seconds``; return what was recorded."""
    recorder = Recorder()
    rng = random.Random(seed)
    stop = threading.Event()
    watchers = [
        WatchWorker(100 + index, endpoints, request, recorder, protocol)
        for index, request in enumerate(watch_requests(rng))
    ]
    workers = [ClientWorker(index, endpoints, seed, recorder, protocol) for index in range(clients)]
    runs: list[Callable[[threading.Event], None]] = [w.run for w in watchers]
    runs.extend(worker.run for worker in workers)
    threads = [threading.Thread(target=run, args=(stop,), daemon=True) for run in runs]
    for thread in threads:
        thread.start()
    _inject_faults(recorder, rng, duration_seconds, inject_fault, fault_kinds)
    stop.set()
    for thread in threads[len(watchers) :]:
        thread.join(timeout=30)
    time.sleep(SETTLE_SECONDS)
    for watcher in watchers:
        watcher.close()
    for thread in threads[: len(watchers)]:
        thread.join(timeout=10)
    return recorder


def _inject_faults(
    recorder: Recorder,
    rng: random.Random,
    duration_seconds: float,
    inject_fault: FaultAction | None,
    fault_kinds: tuple[str, ...],
) -> None:
    deadline = time.monotonic() + duration_seconds
    if inject_fault is None or not fault_kinds:
        time.sleep(duration_seconds)
        return
    for _ in range(1000):
        wait = min(rng.uniform(0.3, 1.0), max(0.0, deadline - time.monotonic()))
        time.sleep(wait)
        if time.monotonic() >= deadline:
            return
        try:
            inject_fault(rng.choice(fault_kinds), rng, recorder)
        except RuntimeError as error:
            recorder.errors.append(str(error))
            return


def summary_counts(recorder: Recorder) -> dict[str, Any]:
    """Operation counts by type and outcome, watch and fault counts."""
    by_type: dict[str, int] = {}
    indefinite = 0
    errors = 0
    for record in recorder.operations:
        name = type(record.operation).__name__
        by_type[name] = by_type.get(name, 0) + 1
        indefinite += 0 if record.definite else 1
        errors += 1 if isinstance(record.result, EtcdError) else 0
    return {
        "operations": len(recorder.operations),
        "operations_by_type": dict(sorted(by_type.items())),
        "indefinite": indefinite,
        "errors": errors,
        "watch_streams": len(recorder.watches),
        "watch_events": sum(len(r.events) for w in recorder.watches for _, r in w.received()),
        "faults": len(recorder.faults),
    }
