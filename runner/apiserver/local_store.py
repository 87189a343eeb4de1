"""The default store: the reference etcd (``impl.etcd``) in-process, one member, answering at
once.

Every range and txn is applied to the pure etcd state in arrival order, as a one-member cluster
whose log commits immediately. After each write the store's watch (``impl.etcd.watch``) delivers
the new events to the API server; a watch cancelled by compaction reads as a lost watch, as a
real etcd's would. ``compact(revision)`` drops history as kube-apiserver's compactor asks etcd
to every five minutes.
"""

from __future__ import annotations

from impl.etcd.apply import ApplyContext, apply
from impl.etcd.store import EtcdState
from impl.etcd.watch import WatchStream, deliver, on_cancel, on_create
from models.apiserver.messages import (
    StorageEvents,
    StorageRange,
    StorageResult,
    StorageTxn,
    StorageWatch,
    StorageWatchLost,
)
from models.etcd import (
    CompactionRequest,
    EtcdError,
    EtcdResponse,
    RangeResponse,
    TxnResponse,
    WatchCreateRequest,
    WatchResponse,
)
from runner.apiserver.driver import StoreCallback, WatchCallback

_WATCH_ID = 1


def _storage_result(result: EtcdResponse | EtcdError) -> StorageResult:
    if isinstance(result, RangeResponse | TxnResponse | EtcdError):
        return result
    return EtcdError(code=13, message=f"unexpected etcd answer {type(result).__name__}")


class LocalStore:
    """The pure etcd state, changed only through ``submit`` and ``compact``."""

    def __init__(self, state: EtcdState | None = None) -> None:
        self.state = state if state is not None else EtcdState()
        self._stream = WatchStream()
        self._deliver: WatchCallback | None = None

    @property
    def revision(self) -> int:
        return self.state.revision

    def submit(self, command: StorageRange | StorageTxn, done: StoreCallback) -> None:
        self.state, result = apply(self.state, command.request, ApplyContext())
        done(_storage_result(result))
        self._flush()

    def watch(self, command: StorageWatch, deliver_to: WatchCallback) -> None:
        self._stream, _ = on_cancel(self.state, self._stream, _WATCH_ID)
        end = bytearray(command.prefix)
        end[-1] += 1
        request = WatchCreateRequest(
            key=command.prefix,
            range_end=bytes(end),
            start_revision=command.start_revision,
            prev_kv=True,
            watch_id=_WATCH_ID,
        )
        self._stream, responses = on_create(self.state, self._stream, request)
        self._deliver = deliver_to
        self._hand_over(responses)

    def compact(self, revision: int) -> None:
        """Forget the history before ``revision`` (as kube-apiserver's periodic compaction)."""
        if revision > self.state.compact_revision:
            self.state, _ = apply(self.state, CompactionRequest(revision=revision), ApplyContext())
            self._flush()

    def close(self) -> None:
        self._deliver = None

    def _flush(self) -> None:
        if self._deliver is None:
            return
        self._stream, responses = deliver(self.state, self._stream)
        self._hand_over(responses)

    def _hand_over(self, responses: tuple[WatchResponse, ...]) -> None:
        target = self._deliver
        if target is None:
            return
        for response in responses:
            if response.canceled:
                self._deliver = None
                target(StorageWatchLost(reason=f"compacted at {response.compact_revision}"))
                return
            if response.events:
                target(StorageEvents(events=response.events, revision=response.header.revision))
