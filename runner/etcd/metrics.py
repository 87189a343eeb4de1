"""``GET /metrics`` of ``serve etcd``: a few of etcd 3.4's families that the reference can fill
honestly, plus the process and Python runtime collectors.

Read at scrape time from the backend: ``etcd_server_has_leader``, the committed and applied
indexes (``etcd_server_proposals_committed_total`` and ``..._applied_total``, gauges in etcd
too), ``etcd_debugging_mvcc_keys_total`` (live keys), ``etcd_mvcc_db_total_size_in_bytes`` (a
nominal size: the reference has no bbolt file) and ``etcd_debugging_mvcc_watcher_total``.
Counted as requests pass through :class:`runner.etcd.service.EtcdService`: proposals in flight
(``etcd_server_proposals_pending``), proposals that failed in consensus (no leader, timeout,
leader changed: ``etcd_server_proposals_failed_total``), and the leaders seen
(``etcd_server_leader_changes_seen_total``: one per Raft term in which a leader was observed,
sampled at each proposal and each scrape, so a leader that came and went between two samples
is missed).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Final

from prometheus_client import generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from impl.etcd.store import EtcdState, is_tombstone
from models.etcd import GRPC_DEADLINE_EXCEEDED, GRPC_UNAVAILABLE, EtcdError
from models.etcd_auth import AnyResponse
from runner.served.metrics import component_registry

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from runner.etcd.backend import Backend

CONSENSUS_FAILURES: Final = frozenset({GRPC_UNAVAILABLE, GRPC_DEADLINE_EXCEEDED})


def nominal_db_size(state: EtcdState) -> int:
    """The database size the reference reports: 64 bytes per key plus a 16 KiB base."""
    return len(state.history) * 64 + 16384


class EtcdMetrics(Collector):
    """The counters of one served member, and the collector that reports them."""

    def __init__(self, backend: Backend, watchers: Callable[[], int]) -> None:
        self.backend = backend
        self.watchers = watchers
        self.lock = threading.Lock()
        self.pending = 0
        self.failed = 0
        self.leader_terms: set[str] = set()
        self.registry = component_registry()
        self.registry.register(self)

    @contextmanager
    def proposing(self) -> Iterator[None]:
        """A proposal is in flight for the duration of the block."""
        with self.lock:
            self.pending += 1
        try:
            yield
        finally:
            with self.lock:
                self.pending -= 1

    def proposed(self, response: AnyResponse | EtcdError) -> None:
        if isinstance(response, EtcdError) and response.code in CONSENSUS_FAILURES:
            with self.lock:
                self.failed += 1
        self._sample(self.backend.status())

    def _sample(self, status: dict[str, str]) -> None:
        if status.get("leader", "0") != "0":
            with self.lock:
                self.leader_terms.add(status.get("raftTerm", "1"))

    def collect(self) -> Iterator[Metric]:
        status = self.backend.status()
        self._sample(status)
        state = self.backend.state()
        keys = sum(1 for versions in state.history.values() if not is_tombstone(versions[-1]))
        with self.lock:
            pending, failed, leaders = self.pending, self.failed, len(self.leader_terms)
        yield _gauge("etcd_server_has_leader",
                     "Whether or not a leader exists. 1 is existence, 0 is not.",
                     1 if status.get("leader", "0") != "0" else 0)  # fmt: skip
        yield _counter("etcd_server_leader_changes_seen",
                       "The number of leader changes seen.", leaders)  # fmt: skip
        yield _gauge("etcd_server_proposals_committed_total",
                     "The total number of consensus proposals committed.",
                     int(status.get("raftIndex", "0")))  # fmt: skip
        yield _gauge("etcd_server_proposals_applied_total",
                     "The total number of consensus proposals applied.",
                     int(status.get("raftAppliedIndex", "0")))  # fmt: skip
        yield _gauge("etcd_server_proposals_pending",
                     "The current number of pending proposals to commit.", pending)  # fmt: skip
        yield _counter("etcd_server_proposals_failed",
                       "The total number of failed proposals seen.", failed)  # fmt: skip
        yield _gauge("etcd_mvcc_db_total_size_in_bytes",
                     "Total size of the underlying database physically allocated in bytes "
                     "(an approximation: the reference keeps no database file; 64 bytes per "
                     "key ever written plus 16 KiB).", nominal_db_size(state))  # fmt: skip
        yield _gauge("etcd_debugging_mvcc_keys_total", "Total number of keys.", keys)
        yield _gauge("etcd_debugging_mvcc_watcher_total", "Total number of watchers.",
                     self.watchers())  # fmt: skip

    def text(self) -> bytes:
        return generate_latest(self.registry)


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, value=value)
