"""The API server's Prometheus metrics, with kube-apiserver's (v1.35) family names, buckets and
labels, served on ``/metrics``.

Requests: ``apiserver_request_total`` (verb, dry_run, group, version, resource, subresource,
scope, component, code) and ``apiserver_request_duration_seconds`` (the same but code), with
kube's reported verbs (GET, LIST, WATCH, POST, PUT, PATCH, APPLY, DELETE); a watch is counted
when it ends. ``apiserver_current_inflight_requests{request_kind}`` (readOnly, mutating) and
``apiserver_longrunning_requests`` (open watches) are gauges; ``apiserver_watch_events_total
{group,version,kind}`` counts the events written to watchers. Storage:
``etcd_request_duration_seconds`` and ``etcd_requests_total`` by operation (get, list, create,
update, delete, txn) and type (the resource, ``pods`` or ``deployments.apps``), timed around the
store (:class:`TimedStore`); ``apiserver_storage_objects{resource}`` counts the watch cache's
objects per resource when scraped. Process and Python runtime metrics come from
prometheus_client's collectors.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Final

from prometheus_client import Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from impl.apiserver.catalog import Catalog, all_resources, find
from impl.apiserver.routing import request_info
from impl.apiserver.state import ApiServerState
from models.apiserver.messages import (
    ApiRequest,
    StorageEvents,
    StorageRange,
    StorageResult,
    StorageTxn,
    StorageWatch,
    StorageWatchLost,
)
from models.etcd import DeleteRangeRequest, PutRequest, TxnRequest
from runner.apiserver.driver import Store, StoreCallback
from runner.served.metrics import component_registry

# kube-apiserver's request and etcd latency buckets.
LATENCY_BUCKETS: Final = (
    0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0,
    10.0, 15.0, 20.0, 30.0, 45.0, 60.0,
)  # fmt: skip
REQUEST_LABELS: Final = (
    "verb", "dry_run", "group", "version", "resource", "subresource", "scope", "component"
)  # fmt: skip
COMPONENT: Final = "apiserver"
READ_ONLY: Final = frozenset({"GET", "HEAD", "OPTIONS"})
KNOWN_METHODS: Final = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"}
)

StateSource = Callable[[], ApiServerState | None]


def request_labels(request: ApiRequest, catalog: Catalog | None) -> tuple[str, ...]:
    """``REQUEST_LABELS`` of a request, as kube-apiserver's ``MonitorRequest`` reports them.
    Label values come only from bounded sets, so that no request grows the metrics: a method
    outside HTTP's is ``other``, and a path that names no served resource (or subresource)
    is reported as a non-resource request, without group, version or resource."""
    info = request_info(request)
    method = request.method.upper()
    verb = "GET" if method == "HEAD" else method if method in KNOWN_METHODS else "other"
    served = find(catalog, info.group, info.version, info.resource) if catalog else None
    subresource = info.subresource
    if served is not None and subresource and served.subresource(subresource) is None:
        served = None
    if info.is_resource and served is not None:
        if info.verb == "watch":
            verb = "WATCH"
        elif info.verb == "list":
            verb = "LIST"
        elif verb == "PATCH" and request.content_type.startswith("application/apply-patch"):
            verb = "APPLY"
        scope = "resource" if info.name else "namespace" if info.namespace else "cluster"
        group, version, resource = info.group, info.version, info.resource
    else:
        scope, group, version, resource, subresource = "", "", "", "", ""
    dry_run = "All" if request.param("dryRun") else ""
    return (verb, dry_run, group, version, resource, subresource, scope, COMPONENT)


class _StorageCollector(Collector):
    """``apiserver_storage_objects`` from the watch cache, when scraped."""

    def __init__(self, state: StateSource) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "apiserver_storage_objects",
            "Number of stored objects at the time of last check split by kind. In case of a "
            "fetching error, the value will be -1.",
            labels=["resource"],
        )
        state = self.state()
        if state is not None:
            prefixes = sorted(
                ((r.key_prefix + "/", r.qualified) for r in all_resources(state.catalog)),
                key=lambda pair: -len(pair[0]),
            )
            counts = dict.fromkeys(sorted({name for _, name in prefixes}), 0)
            for key in state.cache.objects:
                for prefix, name in prefixes:
                    if key.startswith(prefix):
                        counts[name] += 1
                        break
            for name, count in counts.items():
                family.add_metric([name], count)
        yield family


class ApiServerMetrics:
    """One registry per API server."""

    def __init__(self, state: StateSource) -> None:
        self.state = state
        self.registry = component_registry()
        self.registry.register(_StorageCollector(state))
        self.requests = Counter(
            "apiserver_request",
            "Counter of apiserver requests broken out for each verb, dry run value, group, "
            "version, resource, scope, component, and HTTP response code.",
            [*REQUEST_LABELS, "code"],
            registry=self.registry,
        )
        self.request_duration = Histogram(
            "apiserver_request_duration_seconds",
            "Response latency distribution in seconds for each verb, dry run value, group, "
            "version, resource, subresource, scope and component.",
            list(REQUEST_LABELS),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.inflight = Gauge(
            "apiserver_current_inflight_requests",
            "Maximal number of currently used inflight request limit of this apiserver per "
            "request kind in last second.",
            ["request_kind"],
            registry=self.registry,
        )
        for kind in ("readOnly", "mutating"):
            self.inflight.labels(kind).set(0)
        self.longrunning = Gauge(
            "apiserver_longrunning_requests",
            "Gauge of all active long-running apiserver requests broken out by verb, group, "
            "version, resource, scope and component. Not all requests are tracked this way.",
            list(REQUEST_LABELS),
            registry=self.registry,
        )
        self.watch_events = Counter(
            "apiserver_watch_events",
            "Number of events sent in watch clients",
            ["group", "version", "kind"],
            registry=self.registry,
        )
        self.etcd_duration = Histogram(
            "etcd_request_duration_seconds",
            "Etcd request latency in seconds for each operation and object type.",
            ["operation", "type"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.etcd_requests = Counter(
            "etcd_requests",
            "Etcd request counts for each operation and object type.",
            ["operation", "type"],
            registry=self.registry,
        )

    def text(self) -> bytes:
        return generate_latest(self.registry)

    def request_kind(self, request: ApiRequest) -> str:
        return "readOnly" if request.method.upper() in READ_ONLY else "mutating"

    def finished(self, labels: tuple[str, ...], code: int, seconds: float) -> None:
        """A request was answered (a watch: ended) with ``code`` after ``seconds``."""
        self.requests.labels(*labels, str(code)).inc()
        self.request_duration.labels(*labels).observe(seconds)

    def watch_kind(self, labels: tuple[str, ...]) -> tuple[str, str, str]:
        """``(group, version, kind)`` of a watch's resource, for ``apiserver_watch_events``."""
        group, version, resource = labels[2], labels[3], labels[4]
        state = self.state()
        found = find(state.catalog, group, version, resource) if state is not None else None
        return group, version, found.kind if found is not None else resource

    def storage(self, operation: str, kind: str, seconds: float) -> None:
        self.etcd_duration.labels(operation, kind).observe(seconds)
        self.etcd_requests.labels(operation, kind).inc()


def _key_of(command: StorageRange | StorageTxn) -> bytes:
    if isinstance(command, StorageRange):
        return command.request.key
    for op in command.request.success:
        if isinstance(op, PutRequest | DeleteRangeRequest):
            return op.key
    return command.request.compare[0].key if command.request.compare else b""


def storage_operation(command: StorageRange | StorageTxn) -> str:
    """kube's etcd operation name: get, list, create, update, delete or txn."""
    if isinstance(command, StorageRange):
        return "list" if command.request.range_end else "get"
    txn: TxnRequest = command.request
    if any(isinstance(op, DeleteRangeRequest) for op in txn.success):
        return "delete"
    if any(isinstance(op, PutRequest) for op in txn.success):
        creating = any(c.target == "MOD" and c.mod_revision == 0 for c in txn.compare)
        return "create" if creating else "update"
    return "txn"


class TimedStore:
    """A store whose ranges and txns are timed into ``etcd_request_*`` (``type`` from the key's
    resource, found among the catalog's key prefixes)."""

    def __init__(self, store: Store, metrics: ApiServerMetrics) -> None:
        self.store = store
        self.metrics = metrics
        self.types: dict[str, str] = {}
        """Resource by key folder (a key without its last segment)."""

    def _type(self, key: bytes) -> str:
        text = key.decode("utf-8", "replace")
        folder = text.rsplit("/", 1)[0]
        known = self.types.get(folder)
        if known is not None:
            return known
        state = self.metrics.state()
        found = ""
        if state is not None:
            for resource in all_resources(state.catalog):
                if text.startswith(resource.key_prefix + "/"):
                    found = resource.qualified
                    break
        if not found:
            parts = text.split("/")
            return parts[2] if len(parts) > 2 else text
        self.types[folder] = found
        return found

    def submit(self, command: StorageRange | StorageTxn, done: StoreCallback) -> None:
        started = time.perf_counter()
        operation, kind = storage_operation(command), self._type(_key_of(command))

        def timed(result: StorageResult) -> None:
            self.metrics.storage(operation, kind, time.perf_counter() - started)
            done(result)

        self.store.submit(command, timed)

    def watch(
        self, command: StorageWatch, deliver: Callable[[StorageEvents | StorageWatchLost], None]
    ) -> None:
        self.store.watch(command, deliver)

    def close(self) -> None:
        self.store.close()
