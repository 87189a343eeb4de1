"""The metric families every served component has, with client-go's and component-base's names.

The REST client (``rest_client_request_duration_seconds`` by verb, ``rest_client_requests_total``
by code and method), leader election (``leader_election_master_status``), and process and Python
runtime metrics (prometheus_client's collectors: the Go components' ``go_*`` families have no
Python counterpart). Each component adds its own families to the same registry.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

# client-go's rest_client_request_duration_seconds buckets.
REST_BUCKETS: Final = (0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0)
CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"


def component_registry() -> CollectorRegistry:
    """A registry with the process and Python runtime collectors."""
    # The Kubernetes components expose no ``*_created`` series.
    disable_created_metrics()  # type: ignore[no-untyped-call]
    registry = CollectorRegistry()
    for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
        registry.register(collector)
    return registry


class ClientMetrics:
    """One registry per component instance (tests run several in one process)."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.registry = component_registry()
        self.request_duration = Histogram(
            "rest_client_request_duration_seconds",
            "Request latency in seconds. Broken down by verb, and host.",
            ["verb", "host"],
            buckets=REST_BUCKETS,
            registry=self.registry,
        )
        self.requests = Counter(
            "rest_client_requests",
            "Number of HTTP requests, partitioned by status code, method, and host.",
            ["code", "method", "host"],
            registry=self.registry,
        )
        self.leader = Gauge(
            "leader_election_master_status",
            "Gauge of if the reporting system is master of the relevant lease, 0 indicates "
            "backup, 1 indicates master. 'name' is the string used to identify the lease.",
            ["name"],
            registry=self.registry,
        )

    def observe_request(self, method: str, code: str, seconds: float) -> None:
        self.request_duration.labels(method, self.host).observe(seconds)
        self.requests.labels(code, method, self.host).inc()

    def text(self) -> bytes:
        return generate_latest(self.registry)
