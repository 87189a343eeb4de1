"""kube-proxy's ``/metrics`` families (v1.35 names) for ``serve proxy``, and the listener that
serves them with ``/healthz`` on ``--metrics-bind-address``.

Every mode has the sync-duration histogram, the last (queued) sync timestamps and the Service and
EndpointSlice change counters and pending gauges; as kube-proxy registers them, only the
iptables mode adds the full/partial duration histograms and the rules written in the last sync
and owned in all per table (counted from the restore inputs: ``restore_chains``), the
iptables and ipvs modes the restore failures, the nftables mode the sync failures. Histograms,
timestamps and failures carry ``ip_family`` (this proxy is single-stack IPv4). The process and
Python runtime collectors come from ``runner.served.metrics``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from models.proxy.events import (
    EndpointSliceDeleted,
    EndpointSliceUpserted,
    IptablesRestore,
    IpvsApply,
    NftablesRun,
    ProxyCommand,
    ProxyEvent,
    ServiceDeleted,
    ServiceUpserted,
)
from runner.errors import InputError
from runner.served.http import HealthApp, HealthServer
from runner.served.metrics import component_registry

# kube-proxy's sync-duration buckets: 1 ms doubling 15 times.
SYNC_BUCKETS: Final = tuple(0.001 * 2**i for i in range(15))
IP_FAMILY: Final = "IPv4"
DEFAULT_BIND_ADDRESS: Final = "127.0.0.1:10249"


def _service_of(event: ProxyEvent) -> str:
    match event:
        case EndpointSliceUpserted(endpoint_slice=s):
            meta = s.metadata
            if meta is None:
                return ""
            labels: dict[str, str] = dict(meta.labels or {})
            return f"{meta.namespace}/{labels.get('kubernetes.io/service-name', meta.name)}"
        case EndpointSliceDeleted(namespace=namespace, name=name):
            return f"{namespace}/{name}"
    return ""


def rules_by_table(text: str) -> dict[str, int]:
    """The ``-A`` rules per ``*table`` section of an ``iptables-restore`` input."""
    counts: dict[str, int] = {}
    table = ""
    for line in text.splitlines():
        if line.startswith("*"):
            table = line[1:].strip()
            counts.setdefault(table, 0)
        elif line.startswith("-A ") and table:
            counts[table] += 1
    return counts


def restore_chains(chains: dict[tuple[str, str], int], text: str) -> None:
    """Apply an ``iptables-restore --noflush`` input to per-(table, chain) rule counts: a
    declared ``:CHAIN`` is flushed, ``-A CHAIN`` adds a rule, ``-X CHAIN`` deletes the chain;
    chains the input does not name keep their rules."""
    table = ""
    for line in text.splitlines():
        if line.startswith("*"):
            table = line[1:].strip()
        elif line.startswith(":"):
            chains[(table, line[1:].split(" ", 1)[0])] = 0
        elif line.startswith("-A "):
            key = (table, line.split(" ", 2)[1])
            chains[key] = chains.get(key, 0) + 1
        elif line.startswith("-X "):
            chains.pop((table, line.split(" ", 2)[1]), None)


class ProxyMetrics:
    """One registry per proxy (tests run several in one process)."""

    def __init__(self, mode: str, wall_clock: Callable[[], float] = time.time) -> None:
        self.mode = mode
        self.wall_clock = wall_clock
        self.registry = registry = component_registry()
        self.duration = _histogram("sync_proxy_rules_duration_seconds", "", registry)
        self.full: Histogram | None = None
        self.partial: Histogram | None = None
        self.rules_last: Gauge | None = None
        self.rules_total: Gauge | None = None
        self.chains: dict[tuple[str, str], int] = {}
        """Rules per (table, chain) written through restore inputs (the iptables mode)."""
        if mode == "iptables":
            self.full = _histogram("sync_full_proxy_rules_duration_seconds", " for full resyncs",
                                   registry)  # fmt: skip
            self.partial = _histogram("sync_partial_proxy_rules_duration_seconds",
                                      " for partial resyncs", registry)  # fmt: skip
            self.rules_total = Gauge(
                "kubeproxy_sync_proxy_rules_iptables_total",
                "Total number of iptables rules owned by kube-proxy",
                ["ip_family", "table"],
                registry=registry,
            )
            self.rules_last = Gauge(
                "kubeproxy_sync_proxy_rules_iptables_last",
                "Number of iptables rules written by kube-proxy in last sync",
                ["ip_family", "table"],
                registry=registry,
            )
        self.last_timestamp = Gauge(
            "kubeproxy_sync_proxy_rules_last_timestamp_seconds",
            "The last time proxy rules were successfully synced",
            ["ip_family"],
            registry=registry,
        )
        self.last_queued = Gauge(
            "kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds",
            "The last time a sync of proxy rules was queued",
            ["ip_family"],
            registry=registry,
        )
        self.service_changes = Counter(
            "kubeproxy_sync_proxy_rules_service_changes",
            "Cumulative proxy rules Service changes",
            registry=registry,
        )
        self.endpoint_changes = Counter(
            "kubeproxy_sync_proxy_rules_endpoint_changes",
            "Cumulative proxy rules Endpoint changes",
            registry=registry,
        )
        self.service_pending = Gauge(
            "kubeproxy_sync_proxy_rules_service_changes_pending",
            "Pending proxy rules Service changes",
            registry=registry,
        )
        self.endpoint_pending = Gauge(
            "kubeproxy_sync_proxy_rules_endpoint_changes_pending",
            "Pending proxy rules Endpoint changes",
            registry=registry,
        )
        failures = {
            "iptables": ("iptables_restore", "Cumulative proxy iptables restore failures"),
            "ipvs": ("iptables_restore", "Cumulative proxy iptables restore failures"),
            "nftables": ("nftables_sync", "Cumulative proxy nftables sync failures"),
        }.get(mode)
        self.failures: Counter | None = None
        if failures is not None:
            self.failures = Counter(
                f"kubeproxy_sync_proxy_rules_{failures[0]}_failures",
                failures[1],
                ["ip_family"],
                registry=registry,
            )
        self.pending_services: set[str] = set()
        self.pending_endpoints: set[str] = set()

    def changed(self, event: ProxyEvent) -> None:
        """An informer event reached the machine: count it and queue a sync."""
        if isinstance(event, ServiceUpserted | ServiceDeleted):
            self.service_changes.inc()
            if isinstance(event, ServiceDeleted):
                self.pending_services.add(f"{event.namespace}/{event.name}")
            else:
                meta = event.service.metadata
                self.pending_services.add(f"{meta.namespace}/{meta.name}" if meta else "")
        elif isinstance(event, EndpointSliceUpserted | EndpointSliceDeleted):
            self.endpoint_changes.inc()
            self.pending_endpoints.add(_service_of(event))
        else:
            return
        self.service_pending.set(len(self.pending_services))
        self.endpoint_pending.set(len(self.pending_endpoints))
        self.last_queued.labels(IP_FAMILY).set(self.wall_clock())

    def synced(self, commands: Sequence[ProxyCommand], seconds: float, ok: bool) -> None:
        """A sync ran its ``commands`` in ``seconds``; ``ok`` false when the kernel refused."""
        self.duration.labels(IP_FAMILY).observe(seconds)
        full = any(getattr(c, "full", False) for c in commands)
        split = self.full if full else self.partial
        if split is not None:
            split.labels(IP_FAMILY).observe(seconds)
        if self.rules_last is not None:
            written: dict[str, int] = {}
            for command in commands:
                if isinstance(command, IptablesRestore):
                    for table, count in rules_by_table(command.text).items():
                        written[table] = written.get(table, 0) + count
            for table, count in written.items():
                self.rules_last.labels(IP_FAMILY, table).set(count)
        if self.rules_total is not None and ok:
            self._count_rules(commands)
        self.pending_services.clear()
        self.pending_endpoints.clear()
        self.service_pending.set(0)
        self.endpoint_pending.set(0)
        if ok:
            self.last_timestamp.labels(IP_FAMILY).set(self.wall_clock())
        elif self.failures is not None and any(
            isinstance(c, IptablesRestore | IpvsApply | NftablesRun) for c in commands
        ):
            self.failures.labels(IP_FAMILY).inc()

    def _count_rules(self, commands: Sequence[ProxyCommand]) -> None:
        assert self.rules_total is not None
        for command in commands:
            if isinstance(command, IptablesRestore):
                if command.full:
                    self.chains.clear()
                restore_chains(self.chains, command.text)
        totals: dict[str, int] = {}
        for (table, _chain), count in self.chains.items():
            totals[table] = totals.get(table, 0) + count
        for table, count in totals.items():
            self.rules_total.labels(IP_FAMILY, table).set(count)

    def text(self) -> bytes:
        return generate_latest(self.registry)


def _histogram(name: str, help_tail: str, registry: CollectorRegistry) -> Histogram:
    return Histogram(
        f"kubeproxy_{name}",
        f"SyncProxyRules latency in seconds{help_tail}",
        ["ip_family"],
        buckets=SYNC_BUCKETS,
        registry=registry,
    )


def parse_bind_address(value: str) -> tuple[str, int] | None:
    """``HOST:PORT`` (``[v6]:PORT`` too); ``""``, ``"0"`` or port 0 disable the server."""
    if value in ("", "0"):
        return None
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not host or int(port) > 65535:
        raise InputError(f"{value!r}: want HOST:PORT", field="--metrics-bind-address")
    return (host.strip("[]"), int(port)) if int(port) else None


def metrics_server(metrics: ProxyMetrics, address: tuple[str, int]) -> HealthServer:
    """``/metrics`` and ``/healthz`` over plain HTTP on ``address``, as kube-proxy's metrics
    server (the health check answers ``ok`` while the process runs)."""
    try:
        return HealthServer(HealthApp(metrics.text, lambda: True), address[0], 0, address[1], None)
    except OSError as error:
        raise InputError(f"cannot listen: {error}", field="--metrics-bind-address") from error
