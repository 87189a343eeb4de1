"""``conform etcd --workload lock``: etcd's lock recipe against a real etcd, with the holder
paused (SIGSTOP) longer than its lease's TTL, judged by ``spec.etcd.recipes``.

Theory of operation. ``clients`` lock client processes (:mod:`runner.etcd.lock_client`) compete
for one lock with short leases; each holder writes to a resource served here on a Unix socket,
which applies every write, in the order it arrives, to a fenced resource (refusing a token
older than one it accepted) and to an unfenced one (``impl.etcd.recipes.fenced``). A watch on
the lock's prefix records when each key was created and deleted (by revision). At seeded times
the run pauses the client that is holding the lock (it said it acquired it and has not said it
released it), for the TTL plus :data:`PAUSE_BEYOND_TTL_SECONDS` and until another client
acquired the lock (at most :data:`MAX_PAUSE_SECONDS`), then resumes it.

The judgement (:func:`judge`): at each acquisition, the clients that believe they hold the lock
are those whose acquisition came before it and whose release did not; the leases still alive
are those whose key exists at the acquisition's revision (a key lives exactly as long as its
lease or its holder's unlock). ``lock_mutual_exclusion_while_lease_live`` and
``fenced_resource_writes_in_token_order`` must hold (else the verdict is a violation);
``lock_mutual_exclusion_unconditional`` is expected to fail when a pause outlived the TTL, and
the report says why (Jepsen's result on etcd 3.4).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Final

from impl.etcd.recipes.fenced import write
from models.etcd import WatchCreateRequest, WatchResponse, prefix_range_end
from models.etcd_recipes import Holder, LockObservation, ResourceObservation, ResourceWrite
from runner.etcd.grpc_client import GrpcWatchStreamReader
from spec.etcd import recipes as spec

LOCK_NAME: Final = "kubeoracle-lock"
LEASE_TTL_SECONDS: Final = 2
PAUSE_BEYOND_TTL_SECONDS: Final = 2.0
MAX_PAUSE_SECONDS: Final = 15.0
STOP_GRACE_SECONDS: Final = 5.0


@dataclass
class Resource:
    """The fenced and the unfenced resource, fed the same writes in arrival order."""

    fenced: ResourceObservation = field(default_factory=ResourceObservation)
    unfenced: ResourceObservation = field(default_factory=ResourceObservation)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def offer(self, client: int, token: int) -> bool:
        attempt = ResourceWrite(client=client, token=token)
        with self.lock:
            self.unfenced, _ = write(self.unfenced, attempt, fenced=False)
            self.fenced, accepted = write(self.fenced, attempt, fenced=True)
        return accepted


def serve_resource(path: str, resource: Resource, stop: threading.Event) -> socket.socket:
    """Serve ``resource`` on the Unix socket ``path`` from a thread until ``stop``."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    listener.settimeout(0.2)

    def loop() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            with connection:
                connection.settimeout(5)
                try:
                    client, token = connection.recv(64).split()
                    accepted = resource.offer(int(client), int(token))
                    connection.sendall(b"accepted\n" if accepted else b"refused\n")
                except (OSError, ValueError):
                    continue

    threading.Thread(target=loop, daemon=True, name="resource").start()
    return listener


@dataclass
class KeyLog:
    """The lives of each lock key, ``[created, deleted)`` by revision (from a watch); a
    client that locks again on the same lease creates the same key again."""

    lives: dict[bytes, list[list[int]]] = field(default_factory=dict)

    def created(self, key: bytes, revision: int) -> None:
        self.lives.setdefault(key, []).append([revision, 1 << 62])

    def deleted(self, key: bytes, revision: int) -> None:
        lives = self.lives.get(key)
        if lives:
            lives[-1][1] = revision

    def alive_at(self, key: bytes, revision: int) -> bool:
        return any(start <= revision < end for start, end in self.lives.get(key, []))


def watch_keys(endpoint: str, log: KeyLog) -> GrpcWatchStreamReader:
    """Record the lock's keys from revision 1 in ``log`` from a thread."""
    scope = f"{LOCK_NAME}/".encode()
    request = WatchCreateRequest(key=scope, range_end=prefix_range_end(scope), start_revision=1)
    reader = GrpcWatchStreamReader(endpoint, request, timeout_seconds=0)

    def follow() -> None:
        for message in reader.responses():
            if not isinstance(message, WatchResponse):
                continue
            for event in message.events:
                if event.type == "PUT" and event.kv.version == 1:
                    log.created(event.kv.key, event.kv.mod_revision)
                elif event.type == "DELETE":
                    log.deleted(event.kv.key, event.kv.mod_revision)

    threading.Thread(target=follow, daemon=True, name="lock-watch").start()
    return reader


@dataclass
class ClientProcess:
    number: int
    process: subprocess.Popen[str]
    lines: list[dict[str, Any]] = field(default_factory=list)


def start_clients(
    endpoints: tuple[str, ...], clients: int, resource_path: str
) -> list[ClientProcess]:
    started = []
    for number in range(1, clients + 1):
        endpoint = endpoints[number % len(endpoints)]
        command = [
            sys.executable, "-m", "runner.etcd.lock_client", "--endpoint", endpoint,
            "--name", LOCK_NAME, "--client", str(number), "--ttl", str(LEASE_TTL_SECONDS),
            "--resource", resource_path,
        ]  # fmt: skip
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        started.append(ClientProcess(number=number, process=process))
    return started


def read_lines(seconds: float, selector: selectors.BaseSelector) -> None:
    """Collect the clients' JSON lines for ``seconds``."""
    deadline = time.monotonic() + seconds
    while (remaining := deadline - time.monotonic()) > 0:
        for key, _ in selector.select(timeout=min(remaining, 0.1)):
            owner: ClientProcess = key.data
            stream = owner.process.stdout
            assert stream is not None
            line = stream.readline()
            if not line:
                selector.unregister(key.fileobj)
                continue
            with contextlib.suppress(ValueError):
                owner.lines.append(json.loads(line))


def current_holder(clients: list[ClientProcess]) -> ClientProcess | None:
    """The client whose last word was that it acquired the lock (it is holding it now)."""
    for client in clients:
        events = [line.get("event") for line in client.lines]
        if "acquired" in events and events[-1] in ("acquired", "write"):
            return client
    return None


def wait_for_successor(
    clients: list[ClientProcess],
    paused: ClientProcess,
    start_ns: int,
    selector: selectors.BaseSelector,
) -> None:
    """Keep ``paused`` stopped for the TTL plus :data:`PAUSE_BEYOND_TTL_SECONDS`, and longer
    (up to :data:`MAX_PAUSE_SECONDS`) until another client acquired the lock meanwhile, so that
    a slow lease expiry on a loaded machine still shows what a long pause does."""
    minimum = LEASE_TTL_SECONDS + PAUSE_BEYOND_TTL_SECONDS
    while True:
        read_lines(0.1, selector)
        elapsed = (time.monotonic_ns() - start_ns) / 1e9
        succeeded = any(
            line.get("event") == "acquired" and line["time_ns"] > start_ns
            for client in clients
            if client is not paused
            for line in client.lines
        )
        if (elapsed >= minimum and succeeded) or elapsed >= MAX_PAUSE_SECONDS:
            return


def stop_clients(clients: list[ClientProcess]) -> None:
    for client in clients:
        with contextlib.suppress(ProcessLookupError):
            client.process.send_signal(signal.SIGCONT)
            client.process.send_signal(signal.SIGTERM)
    for client in clients:
        try:
            client.process.wait(timeout=STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            client.process.kill()
            client.process.wait()


@dataclass
class LockRun:
    """What a lock run recorded."""

    lines: list[dict[str, Any]]
    keys: KeyLog
    resource: Resource
    pauses: list[dict[str, Any]]


def run_lock_workload(
    endpoints: tuple[str, ...], *, seed: int, duration_seconds: float, clients: int
) -> LockRun:
    """Run the lock clients against ``endpoints``, pausing holders at seeded times."""
    rng = random.Random(seed)
    resource = Resource()
    log = KeyLog()
    pauses: list[dict[str, Any]] = []
    stop = threading.Event()
    with tempfile.TemporaryDirectory(prefix="kubeoracle-lock-") as directory:
        path = os.path.join(directory, "resource.sock")
        listener = serve_resource(path, resource, stop)
        reader = watch_keys(endpoints[0], log)
        processes = start_clients(endpoints, clients, path)
        selector = selectors.DefaultSelector()
        for client in processes:
            assert client.process.stdout is not None
            selector.register(client.process.stdout, selectors.EVENT_READ, client)
        try:
            deadline = time.monotonic() + duration_seconds
            read_lines(rng.uniform(1.0, 2.0), selector)
            while time.monotonic() < deadline:
                holder = current_holder(processes)
                if holder is None:
                    read_lines(0.05, selector)
                    continue
                start = time.monotonic_ns()
                holder.process.send_signal(signal.SIGSTOP)
                wait_for_successor(processes, holder, start, selector)
                holder.process.send_signal(signal.SIGCONT)
                pauses.append(
                    {"client": holder.number, "start_ns": start, "end_ns": time.monotonic_ns()}
                )
                read_lines(rng.uniform(2.0, 3.0), selector)
        finally:
            stop_clients(processes)
            read_lines(0.5, selector)
            reader.close()
            stop.set()
            listener.close()
    lines = sorted(
        (line for client in processes for line in client.lines), key=lambda line: line["time_ns"]
    )
    return LockRun(lines=lines, keys=log, resource=resource, pauses=pauses)


def observations(run: LockRun) -> list[LockObservation]:
    """At each acquisition: the believed holders, and the leases whose key was alive at the
    acquisition's revision."""
    holding: dict[int, dict[str, Any]] = {}
    seen: list[LockObservation] = []
    for line in run.lines:
        client = int(line.get("client", 0))
        if line["event"] == "released" and client in holding:
            del holding[client]
        if line["event"] != "acquired":
            continue
        holding[client] = line
        revision = int(line["revision"])
        live = frozenset(
            int(held["lease"])
            for held in holding.values()
            if run.keys.alive_at(str(held["key"]).encode(), revision)
        )
        holders = tuple(
            Holder(client=number, lease=int(held["lease"]), token=int(held["token"]))
            for number, held in sorted(holding.items())
        )
        seen.append(LockObservation(holders=holders, live_leases=live))
    return seen


def judge(run: LockRun) -> tuple[bool, dict[str, Any]]:
    """(passed, report): the guarantees must hold; the unconditional version is reported."""
    seen = observations(run)
    exclusion = all(spec.MUTUAL_EXCLUSION.holds(item) for item in seen)
    fenced = spec.FENCED_WRITES_IN_TOKEN_ORDER.holds(run.resource.fenced)
    two_holders = [item for item in seen if spec.TWO_BELIEVED_HOLDERS.holds(item)]
    explanation = [
        violation.reason
        for item in two_holders[:3]
        if (violation := spec.explain_holders(item)) is not None
    ]
    properties = {
        spec.MUTUAL_EXCLUSION.name: exclusion,
        spec.UNCONDITIONAL_MUTUAL_EXCLUSION.name: not two_holders,
        spec.TWO_BELIEVED_HOLDERS.name: bool(two_holders),
        spec.FENCED_WRITES_IN_TOKEN_ORDER.name: fenced,
        "unfenced_resource_writes_in_token_order": spec.FENCED_WRITES_IN_TOKEN_ORDER.holds(
            run.resource.unfenced
        ),
        spec.STALE_WRITE_REFUSED.name: spec.STALE_WRITE_REFUSED.holds(run.resource.fenced),
    }
    counts = {
        "acquisitions": len(seen),
        "writes_accepted_fenced": len(run.resource.fenced.accepted),
        "writes_refused_fenced": len(run.resource.fenced.refused),
        "writes_unfenced": len(run.resource.unfenced.accepted),
        "pauses": len(run.pauses),
        "client_failures": sum(1 for line in run.lines if line["event"] == "failed"),
    }
    report = {"properties": properties, "counts": counts, "explanation": explanation}
    return exclusion and fenced, report
