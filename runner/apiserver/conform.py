"""``kubeoracle conform apiserver``: drive any API server with a seeded concurrent workload and
watches, record what it answers, and check the history.

Theory of operation. The run owns a fresh namespace. ``clients`` threads, each with its own
connection and a PRNG seeded from the run's seed, act on a few ConfigMaps: creates (some holding
a finalizer), gets, updates conditioned on the resourceVersion they read, deletes conditioned the
same way, releases of finalizers, and lists without resourceVersion. Every write puts a unique
token in the data, so any later read names the write it shows. Watch threads list the namespace
and watch from the list's resourceVersion. Calls and returns take ticks of one logical clock. At
the end the history is checked by the API properties (``spec.apiserver.properties``) and, object
by object, by the linearizability checker (``spec.apiserver.registers``). The interleaving is not
seeded: one seed gives the same operation mixes, not the same history.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any, Final

from models.apiserver.history import ApiHistory, ApiOperation, Seen, WatchEvent, WatchStream
from runner.apiserver.client import ApiClient, Endpoint, WatchReader

FINALIZER: Final = "kubeoracle.io/conform-hold"
OBJECTS: Final = 4


class Clock:
    """The logical clock every call and return reads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.value = 0

    def tick(self) -> int:
        with self.lock:
            self.value += 1
            return self.value


def seen_of(obj: Any) -> Seen | None:
    """The object an answer or event showed (None if it is not a ConfigMap)."""
    if not isinstance(obj, dict) or not isinstance(obj.get("metadata"), dict):
        return None
    meta = obj["metadata"]
    raw = obj.get("data")
    data: dict[str, Any] = raw if isinstance(raw, dict) else {}
    return Seen(
        name=str(meta.get("name", "")),
        resource_version=int(meta.get("resourceVersion") or 0),
        token=str(data.get("token", "")),
        uid=str(meta.get("uid", "")),
        deleting=bool(meta.get("deletionTimestamp")),
        finalized=bool(meta.get("finalizers")),
    )


class Worker:
    """One client thread's state: its PRNG, connection and what it last read of each object."""

    def __init__(self, number: int, seed: int, endpoint: Endpoint, run: Run) -> None:
        self.number = number
        self.rng = random.Random(seed * 1000 + number)
        self.client = ApiClient(endpoint)
        self.run = run
        self.writes = 0

    def token(self) -> str:
        self.writes += 1
        return f"c{self.number}-{self.writes}"

    def call(
        self, kind: str, name: str, method: str, path: str, body: Any = None, **extra: Any
    ) -> ApiOperation:
        query = extra.pop("query", None)
        removal = extra.pop("removal", False)
        started = self.run.clock.tick()
        status, answer = self.client.request(method, path, body, query)
        returned = self.run.clock.tick() if status else None
        objects: tuple[Seen, ...] = ()
        if kind == "list" and status == 200 and isinstance(answer, dict):
            items = answer.get("items") or []
            objects = tuple(seen for seen in map(seen_of, items) if seen is not None)
            extra["list_revision"] = int((answer.get("metadata") or {}).get("resourceVersion", 0))
        elif 200 <= status < 300 and not removal:
            found = seen_of(answer)
            objects = (found,) if found is not None and found.resource_version else ()
        reason = str(answer.get("reason", "")) if isinstance(answer, dict) else ""
        operation = ApiOperation(
            client=self.number,
            call_time=started,
            return_time=returned,
            kind=kind,  # type: ignore[arg-type]
            name=name,
            status=status,
            reason=reason,
            objects=objects,
            **extra,
        )
        self.run.record(operation)
        return operation

    def step(self) -> None:
        run, rng = self.run, self.rng
        name = rng.choice(run.names)
        path = f"{run.collection}/{name}"
        choice = rng.random()
        if choice < 0.15:
            self.call("list", "", "GET", run.collection)
            return
        if choice < 0.35:
            token = self.token()
            meta: dict[str, Any] = {"name": name}
            if rng.random() < 0.3:
                meta["finalizers"] = [FINALIZER]
            body = {"metadata": meta, "data": {"token": token}}
            self.call("create", name, "POST", run.collection, body, token=token)
            return
        read = self.call("get", name, "GET", path)
        if not read.objects or choice < 0.5:
            return
        current = read.objects[0]
        if choice < 0.8 or current.deleting:
            self._update(name, path, current)
        else:
            options = {"preconditions": {"resourceVersion": str(current.resource_version)}}
            self.call(
                "delete",
                name,
                "DELETE",
                path,
                options,
                precondition=current.resource_version,
                expected_token=current.value,
                marks=current.finalized,
            )

    def _update(self, name: str, path: str, current: Seen) -> None:
        if current.deleting:
            self._release(name, path, current)
            return
        token = self.token()
        body: dict[str, Any] = {
            "metadata": {"name": name, "resourceVersion": str(current.resource_version)},
            "data": {"token": token},
        }
        if self.rng.random() < 0.5:
            body["metadata"]["finalizers"] = [FINALIZER]
        self.call(
            "update",
            name,
            "PUT",
            path,
            body,
            token=token,
            precondition=current.resource_version,
            expected_token=current.value,
        )

    def _release(self, name: str, path: str, current: Seen) -> None:
        """Empty the finalizers of an object being deleted: the update removes it
        (``ShouldDeleteDuringUpdate``), so it is recorded as the delete it is."""
        body = {
            "metadata": {"name": name, "resourceVersion": str(current.resource_version)},
            "data": {"token": current.token},
        }
        self.call(
            "delete",
            name,
            "PUT",
            path,
            body,
            precondition=current.resource_version,
            expected_token=current.value,
            removal=True,
        )

    def loop(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                self.step()
        finally:
            self.client.close()


class Run:
    """One conformance run's shared state."""

    def __init__(self, namespace: str, objects: int) -> None:
        self.namespace = namespace
        self.collection = f"/api/v1/namespaces/{namespace}/configmaps"
        self.names = tuple(f"object-{index}" for index in range(objects))
        self.clock = Clock()
        self.lock = threading.Lock()
        self.operations: list[ApiOperation] = []
        self.watches: list[WatchStream] = []

    def record(self, operation: ApiOperation) -> None:
        with self.lock:
            self.operations.append(operation)

    def history(self) -> ApiHistory:
        with self.lock:
            return ApiHistory(
                namespace=self.namespace,
                names=self.names,
                operations=tuple(sorted(self.operations, key=lambda op: op.call_time)),
                watches=tuple(self.watches),
            )


def _event(raw: dict[str, Any]) -> WatchEvent | None:
    kind, obj = raw.get("type"), raw.get("object")
    if kind == "ERROR":
        code = int(obj.get("code", 0)) if isinstance(obj, dict) else 0
        return WatchEvent(type="ERROR", code=code)
    if kind == "BOOKMARK" and isinstance(obj, dict):
        version = int((obj.get("metadata") or {}).get("resourceVersion") or 0)
        return WatchEvent(type="BOOKMARK", resource_version=version)
    seen = seen_of(obj)
    if kind in ("ADDED", "MODIFIED", "DELETED") and seen is not None:
        return WatchEvent(type=kind, object=seen)
    return None


def watch_loop(run: Run, endpoint: Endpoint, number: int, stop: threading.Event) -> None:
    """List, then watch from the list's revision until ``stop``; record what arrived."""
    client = ApiClient(endpoint)
    started = run.clock.tick()
    status, answer = client.request("GET", run.collection)
    client.close()
    if status != 200 or not isinstance(answer, dict):
        return
    revision = int((answer.get("metadata") or {}).get("resourceVersion", 0))
    query = {"watch": "true", "resourceVersion": str(revision), "allowWatchBookmarks": "true"}
    reader = WatchReader(endpoint, run.collection, query)
    events: list[WatchEvent] = []

    def close_when_stopped() -> None:
        stop.wait()
        reader.close()

    closer = threading.Thread(target=close_when_stopped, daemon=True)
    closer.start()
    for raw in reader.events():
        event = _event(raw)
        if event is not None:
            events.append(event)
    with run.lock:
        run.watches.append(
            WatchStream(
                watch_id=number, start_revision=revision, call_time=started, events=tuple(events)
            )
        )


def run_workload(
    endpoint: Endpoint, namespace: str, seed: int, duration: float, clients: int, watchers: int
) -> ApiHistory:
    """Drive the server for ``duration`` seconds; the recorded history."""
    run = Run(namespace, OBJECTS)
    stop_writes, stop_watches = threading.Event(), threading.Event()
    watch_threads = [
        threading.Thread(target=watch_loop, args=(run, endpoint, n, stop_watches), daemon=True)
        for n in range(watchers)
    ]
    for thread in watch_threads:
        thread.start()
    time.sleep(0.2)  # let the watches start before the writes
    workers = [Worker(number, seed, endpoint, run) for number in range(clients)]
    worker_threads = [
        threading.Thread(target=worker.loop, args=(stop_writes,), daemon=True) for worker in workers
    ]
    for thread in worker_threads:
        thread.start()
    time.sleep(duration)
    stop_writes.set()
    for thread in worker_threads:
        thread.join(timeout=15)
    time.sleep(0.5)  # the watches catch up with the last writes
    stop_watches.set()
    for thread in watch_threads:
        thread.join(timeout=15)
    return run.history()
