"""``--etcd-servers``: the API server's objects in a real etcd (3.4 or later) through its v3 JSON
gateway, with the same keys and JSON values as the in-process store.

Theory of operation. Ranges and txns run on worker threads, each thread with its own gateway
connection per endpoint (``EtcdGatewayClient`` is not shared between threads); their results
come back to the driver on the event loop's thread. A range that cannot reach the current
endpoint tries the next; a txn is not repeated elsewhere (it may have been applied) and answers
``StorageUnavailable``. The store's watch reads one ``/v3/watch`` stream on its own thread; its
events reach the driver the same way, and a broken or compacted watch answers
``StorageWatchLost`` (the machine lists again and watches anew).
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Final

from models.apiserver.messages import (
    StorageEvents,
    StorageRange,
    StorageResult,
    StorageTxn,
    StorageUnavailable,
    StorageWatch,
    StorageWatchLost,
)
from models.etcd import CompactionRequest, EtcdError, WatchCreateRequest, WatchResponse
from runner.apiserver.driver import StoreCallback, WatchCallback
from runner.etcd.client import EtcdGatewayClient, Indeterminate, WatchStreamReader

WORKER_THREADS: Final = 16
CALL_TIMEOUT_SECONDS: Final = 10.0
WATCH_IDLE_SECONDS: Final = 24 * 3600.0
"""A watch stream may stay quiet for long: no read timeout short of a day."""


def _prefix_end(prefix: bytes) -> bytes:
    end = bytearray(prefix)
    end[-1] += 1
    return bytes(end)


class RemoteStore:
    """A real etcd cluster behind ``endpoints`` (``http://host:port``)."""

    def __init__(self, endpoints: list[str], loop: asyncio.AbstractEventLoop) -> None:
        self.endpoints = endpoints
        self.loop = loop
        self.revision = 0
        self._pool = ThreadPoolExecutor(WORKER_THREADS, "etcd-store")
        self._local = threading.local()
        self._current = 0
        self._reader: WatchStreamReader | None = None

    def _client(self, index: int) -> EtcdGatewayClient:
        clients: dict[int, EtcdGatewayClient] | None = getattr(self._local, "clients", None)
        if clients is None:
            clients = {}
            self._local.clients = clients
        if index not in clients:
            clients[index] = EtcdGatewayClient(self.endpoints[index], CALL_TIMEOUT_SECONDS)
        return clients[index]

    def _call(self, command: StorageRange | StorageTxn) -> StorageResult:
        reason = "no endpoint answered"
        for attempt in range(len(self.endpoints)):
            index = (self._current + attempt) % len(self.endpoints)
            client = self._client(index)
            result = (
                client.range(command.request)
                if isinstance(command, StorageRange)
                else client.txn(command.request)
            )
            if not isinstance(result, Indeterminate):
                self._current = index
                if not isinstance(result, EtcdError):
                    self.revision = max(self.revision, result.header.revision)
                return result
            reason = result.reason
            if isinstance(command, StorageTxn):
                break
        return StorageUnavailable(reason=reason)

    def submit(self, command: StorageRange | StorageTxn, done: StoreCallback) -> None:
        future = self._pool.submit(self._call, command)

        def hand_back(finished: Future[StorageResult]) -> None:
            self.loop.call_soon_threadsafe(done, finished.result())

        future.add_done_callback(hand_back)

    def watch(self, command: StorageWatch, deliver: WatchCallback) -> None:
        self._stop_watch()
        request = WatchCreateRequest(
            key=command.prefix,
            range_end=_prefix_end(command.prefix),
            start_revision=command.start_revision,
            prev_kv=True,
        )
        reader = WatchStreamReader(self.endpoints[self._current], request, WATCH_IDLE_SECONDS)
        self._reader = reader
        thread = threading.Thread(
            target=self._read_watch, args=(reader, deliver), daemon=True, name="etcd-store-watch"
        )
        thread.start()

    def _read_watch(self, reader: WatchStreamReader, deliver: WatchCallback) -> None:
        for response in reader.responses():
            if reader is not self._reader:
                return
            event = self._watch_event(response)
            if event is not None:
                self.loop.call_soon_threadsafe(deliver, event)
                if isinstance(event, StorageWatchLost):
                    return

    def _watch_event(
        self, response: WatchResponse | str
    ) -> StorageEvents | StorageWatchLost | None:
        if isinstance(response, str):
            return StorageWatchLost(reason=response)
        if response.canceled:
            return StorageWatchLost(reason=f"compacted at {response.compact_revision}")
        if not response.events:
            return None
        self.revision = max(self.revision, response.header.revision)
        return StorageEvents(events=response.events, revision=response.header.revision)

    def compact(self, revision: int) -> None:
        """Ask etcd to forget history before ``revision`` (kube-apiserver's compactor)."""
        if revision > 0:
            self._pool.submit(
                lambda: self._client(self._current).compact(CompactionRequest(revision=revision))
            )

    def _stop_watch(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.close()

    def close(self) -> None:
        self._stop_watch()
        self._pool.shutdown(wait=False, cancel_futures=True)
