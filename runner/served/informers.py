"""Reflectors: list then watch one resource through the API server, forever, as client-go does.

Each reflector runs in its own thread and puts what it learns on one queue shared by the
component (:class:`Informers` drains it): ``Listed`` after a full list (the cache is
replaced), then one ``Observed`` per watch event. A watch that ends (server timeout, dropped
connection) is resumed from the last resourceVersion seen, bookmarks included; a watch the
server refuses (410 Gone: the version was compacted) or an ERROR event makes it list again.
Failures back off for a second, as client-go's reflector does (``backoffManager`` initial
800 ms, capped).
"""

from __future__ import annotations

import json
import queue
import random
import threading
from collections.abc import Callable, Iterable
from typing import Any, Final

from models.controllers.messages import ControllerEvent, Listed, Observed
from models.controllers.resources import RESOURCES, Resource
from runner.apiserver.client import ApiClient, Endpoint, WatchReader

RETRY_SECONDS: Final = 1.0
WATCH_TIMEOUT_MIN_SECONDS: Final = 300
"""client-go asks each watch for a random timeout in [5 min, 10 min)."""

Feed = queue.Queue[tuple[str, ControllerEvent]]


class Reflector:
    """Keeps ``feed`` told about one resource until ``stop``."""

    def __init__(self, endpoint: Endpoint, resource: Resource, feed: Feed) -> None:
        self.endpoint, self.resource, self.feed = endpoint, resource, feed
        self.stopped = threading.Event()
        self._reader: WatchReader | None = None
        self._lock = threading.Lock()
        self.thread = threading.Thread(
            target=self._run, daemon=True, name=f"reflector-{resource.name}"
        )

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        with self._lock:
            reader = self._reader
        if reader is not None:
            reader.close()
        self.thread.join(timeout=5)

    def _run(self) -> None:
        client = ApiClient(self.endpoint)
        try:
            while not self.stopped.is_set():
                revision = self._list(client)
                while revision and not self.stopped.is_set():
                    revision = self._watch(revision)
                if not self.stopped.is_set():
                    self.stopped.wait(RETRY_SECONDS)
        finally:
            client.close()

    def _list(self, client: ApiClient) -> str:
        status, body = client.request("GET", self.resource.collection_path())
        if status != 200 or not isinstance(body, dict):
            return ""
        items = tuple(json.dumps(item).encode() for item in body.get("items") or ())
        self.feed.put((self.resource.name, Listed(resource=self.resource.name, items=items)))
        return str((body.get("metadata") or {}).get("resourceVersion") or "")

    def _watch(self, revision: str) -> str:
        """Follow one watch; the revision to resume from, or "" to list again."""
        timeout = random.randrange(WATCH_TIMEOUT_MIN_SECONDS, 2 * WATCH_TIMEOUT_MIN_SECONDS)
        query = {
            "watch": "true",
            "resourceVersion": revision,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(timeout),
        }
        reader = WatchReader(self.endpoint, self.resource.collection_path(), query)
        with self._lock:
            if self.stopped.is_set():
                return ""
            self._reader = reader
        received = False
        for event in reader.events():
            received = True
            revision = self._deliver(event)
            if not revision:
                return ""
        with self._lock:
            self._reader = None
        # A watch refused at once (410 Gone, or no server) lists again after a pause.
        return revision if received else ""

    def _deliver(self, event: dict[str, Any]) -> str:
        kind = event.get("type")
        obj = event.get("object") if isinstance(event.get("object"), dict) else {}
        assert isinstance(obj, dict)
        revision = str((obj.get("metadata") or {}).get("resourceVersion") or "")
        if kind in ("ADDED", "MODIFIED", "DELETED"):
            change = Observed(
                resource=self.resource.name, change=kind, raw=json.dumps(obj).encode()
            )
            self.feed.put((self.resource.name, change))
            return revision
        if kind == "BOOKMARK":
            return revision
        return ""


class Informers:
    """Reflectors on several resources (by plural name) feeding one queue, drained by one
    driver thread."""

    def __init__(self, endpoint: Endpoint, names: Iterable[str]) -> None:
        self.feed: Feed = queue.Queue()
        self.reflectors = [
            Reflector(endpoint, RESOURCES[name], self.feed) for name in sorted(names)
        ]

    def drive(
        self,
        stop: threading.Event,
        handle: Callable[[str, ControllerEvent], None],
        then: Callable[[], None],
        idle_seconds: float,
    ) -> None:
        """Until ``stop``: wait up to ``idle_seconds`` for a change, ``handle`` every change
        that has come, then call ``then``. The reflectors run meanwhile and stop at the end."""
        for reflector in self.reflectors:
            reflector.start()
        try:
            while not stop.is_set():
                try:
                    resource, change = self.feed.get(timeout=idle_seconds)
                except queue.Empty:
                    pass
                else:
                    handle(resource, change)
                    while not self.feed.empty():
                        resource, change = self.feed.get_nowait()
                        handle(resource, change)
                then()
        finally:
            for reflector in self.reflectors:
                reflector.stopped.set()
            for reflector in self.reflectors:
                reflector.stop()
