"""metrics-server's storage and rate (``impl.kubelet.metrics_storage``) and the metrics API's
objects (``impl.kubelet.metrics_objects``): figures worked out by hand from the rules."""

from __future__ import annotations

from impl.kubelet import metrics_objects as objects
from impl.kubelet import metrics_storage as storage

S = 1_000_000_000  # ns per second
RESOLUTION = 15 * S


def scrape(at_s: int, node_cpu_s: float, container_cpu_s: float, start_s: int) -> storage.Batch:
    labels = {"namespace": "ns", "pod": "p", "container": "app"}
    samples: list[storage.Sample] = [
        ("node_cpu_usage_seconds_total", {}, node_cpu_s, at_s * 1000),
        ("node_memory_working_set_bytes", {}, 2048.0, at_s * 1000),
        ("container_cpu_usage_seconds_total", labels, container_cpu_s, at_s * 1000),
        ("container_memory_working_set_bytes", labels, 1024.0, at_s * 1000),
        ("container_start_time_seconds", labels, float(start_s), at_s * 1000),
    ]
    return storage.batch("n", samples, 0)


def test_usage_is_the_cpu_rate_over_the_window_between_two_scrapes() -> None:
    first = storage.store(storage.Storage(), scrape(1000, 100.0, 10.0, 500), RESOLUTION)
    assert storage.node_usage(first, "n") is None
    assert storage.pod_usage(first, ("ns", "p")) is None
    second = storage.store(first, scrape(1015, 106.0, 10.75, 500), RESOLUTION)
    node = storage.node_usage(second, "n")
    # 6 core-seconds over 15 s: 0.4 cores.
    assert node == storage.Usage(
        cpu_nanocores=400_000_000, memory_bytes=2048, timestamp_ns=1015 * S, window_ns=15 * S
    )
    found = storage.pod_usage(second, ("ns", "p"))
    assert found is not None
    when, containers = found
    assert (when.timestamp_ns, when.window_ns) == (1015 * S, 15 * S)
    # 0.75 core-seconds over 15 s: 50 millicores.
    assert [(name, u.cpu_nanocores, u.memory_bytes) for name, u in containers] == [
        ("app", 50_000_000, 1024)
    ]
    assert objects.node_metrics({"metadata": {"name": "n"}}, node)["usage"] == {
        "cpu": "400m",
        "memory": "2Ki",
    }


def test_a_restarted_container_loses_its_previous_point() -> None:
    first = storage.store(storage.Storage(), scrape(1000, 100.0, 10.0, 500), RESOLUTION)
    restarted = storage.store(first, scrape(1015, 106.0, 0.5, 1010), RESOLUTION)
    assert storage.pod_usage(restarted, ("ns", "p")) is None
    assert storage.node_usage(restarted, "n") is not None


def test_a_fresh_container_gets_a_start_point_with_zero_cpu() -> None:
    # Started 12 s before its first point: at least 10 s, less than the resolution.
    fresh = storage.store(storage.Storage(), scrape(1000, 100.0, 0.6, 988), RESOLUTION)
    found = storage.pod_usage(fresh, ("ns", "p"))
    assert found is not None
    assert found[0].window_ns == 12 * S
    assert found[1][0][1].cpu_nanocores == 50_000_000
    # Started 5 s before: too young for the synthetic point.
    young = storage.store(storage.Storage(), scrape(1000, 100.0, 0.25, 995), RESOLUTION)
    assert storage.pod_usage(young, ("ns", "p")) is None


def test_zero_readings_are_dropped_and_an_older_point_keeps_the_previous() -> None:
    dropped = scrape(1000, 0.0, 0.0, 500)
    assert dropped.nodes == {}
    assert dropped.pods == {}
    first = storage.store(storage.Storage(), scrape(1000, 100.0, 10.0, 500), RESOLUTION)
    second = storage.store(first, scrape(1015, 106.0, 10.75, 500), RESOLUTION)
    # The same timestamp again: the stored previous point stays.
    again = storage.store(second, scrape(1015, 106.0, 10.75, 500), RESOLUTION)
    used = storage.node_usage(again, "n")
    assert used is not None
    assert used.window_ns == 15 * S
    # A counter that went down gives no usage.
    went_down = storage.store(second, scrape(1030, 50.0, 11.0, 500), RESOLUTION)
    assert storage.node_usage(went_down, "n") is None


def test_quantities_and_durations_as_go_writes_them() -> None:
    assert objects.cpu_quantity(1_234_567) == "1234567n"
    assert objects.cpu_quantity(5_000_000) == "5m"
    assert objects.cpu_quantity(2_000_000_000) == "2"
    assert objects.memory_quantity(50 * 1024 * 1024) == "50Mi"
    assert objects.memory_quantity(123_456) == "123456"
    assert objects.go_duration(15 * S) == "15s"
    assert objects.go_duration(15_002_000_000) == "15.002s"
    assert objects.go_duration(90 * S + S // 2) == "1m30.5s"
    assert objects.go_duration(3600 * S) == "1h0m0s"
    assert objects.go_duration(1_500_000) == "1.5ms"


def test_discovery_gains_the_group_once() -> None:
    legacy = {"kind": "APIGroupList", "apiVersion": "v1", "groups": [{"name": "apps"}]}
    added = objects.with_group(legacy)
    assert [g["name"] for g in added["groups"]] == ["apps", "metrics.k8s.io"]
    assert added["groups"][1]["preferredVersion"]["groupVersion"] == "metrics.k8s.io/v1beta1"
    assert objects.with_group(added) == added
    aggregated = {"kind": "APIGroupDiscoveryList", "items": []}
    item = objects.with_group(aggregated)["items"][0]
    assert [r["resource"] for r in item["versions"][0]["resources"]] == ["nodes", "pods"]
