"""The simulated runtime's stats (scripted cpu integrated over run time, the node's system
share, a counter that never goes down when a container ends) and ``/metrics/cadvisor``
parsed back with prometheus_client's parser, with cAdvisor's label set."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from models.kubelet.events import RemoveSandbox, StartContainer
from runner.kubelet import simulated
from runner.kubelet.exposition import cadvisor_metrics
from runner.kubelet.simulated import SYSTEM_CPU_MILLIS, SYSTEM_MEMORY_BYTES, Runtime
from tests.kubelet.harness import T0, make_pod

POD = make_pod(
    "web",
    {"containers": [{"name": "app", "image": "nginx:1.27"}]},
    {"sim.kubeoracle.io/app.cpu-millis": "200", "sim.kubeoracle.io/app.memory-bytes": "1048576"},
)
CONTAINER = (POD.pod_spec.containers or ())[0]


def started() -> Runtime:
    command = StartContainer(uid="uid-web", pod=POD, container=CONTAINER, attempt=0)
    return simulated.on_command(Runtime(boot_ms=T0), command, T0 + 1000)


def test_cpu_is_the_scripted_rate_integrated_over_run_time() -> None:
    runtime = started()
    stats = simulated.stats(runtime, T0 + 11_000, "node-0", {"uid-web": POD})
    (app,) = stats.containers
    # 200 millicores for 10 s: 2 core-seconds.
    assert app.cpu_core_ns == 2_000_000_000
    assert (app.namespace, app.pod, app.container, app.image) == (
        "default",
        "web",
        "app",
        "nginx:1.27",
    )
    assert app.start_ms == T0 + 1000
    assert app.memory_working_set_bytes == 1_048_576
    # The node: 11 s of the system share plus the container.
    assert stats.cpu_core_ns == SYSTEM_CPU_MILLIS * 11 * 1_000_000 + 2_000_000_000
    assert stats.memory_working_set_bytes == SYSTEM_MEMORY_BYTES + 1_048_576


def test_the_node_counter_keeps_the_cpu_of_a_container_that_ended() -> None:
    runtime = started()
    before = simulated.stats(runtime, T0 + 11_000, "node-0", {"uid-web": POD})
    runtime = simulated.on_command(runtime, RemoveSandbox(uid="uid-web"), T0 + 11_000)
    after = simulated.stats(runtime, T0 + 12_000, "node-0", {"uid-web": POD})
    assert after.containers == ()
    assert after.cpu_core_ns == before.cpu_core_ns + SYSTEM_CPU_MILLIS * 1_000_000


def test_cadvisor_page_parses_with_cadvisor_labels() -> None:
    stats = simulated.stats(started(), T0 + 11_000, "node-0", {"uid-web": POD})
    text = cadvisor_metrics(stats, {"uid-web": "BestEffort"}).decode()
    series = {
        (s.name, s.labels["id"]): (s.labels, s.value, s.timestamp)
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    names = {name for name, _ in series}
    assert names == {
        "container_cpu_usage_seconds_total",
        "container_memory_working_set_bytes",
        "container_memory_rss",
        "container_start_time_seconds",
    }
    pod_cgroup = "/kubepods/besteffort/poduid-web"
    ids = {cgroup for _, cgroup in series}
    container_ids = ids - {"/", pod_cgroup}
    assert len(container_ids) == 1
    (container_cgroup,) = container_ids
    assert container_cgroup.startswith(pod_cgroup + "/")
    labels, value, timestamp = series[("container_cpu_usage_seconds_total", container_cgroup)]
    assert set(labels) == {"container", "id", "image", "name", "namespace", "pod"}
    assert (labels["container"], labels["image"], labels["namespace"], labels["pod"]) == (
        "app",
        "nginx:1.27",
        "default",
        "web",
    )
    assert len(labels["name"]) == 64
    assert container_cgroup.endswith(labels["name"])
    assert (value, timestamp) == (2.0, (T0 + 11_000) / 1000)
    assert series[("container_start_time_seconds", container_cgroup)][1] == (T0 + 1000) / 1000
    assert series[("container_memory_rss", pod_cgroup)][1] == 1_048_576
    root_labels, root_cpu, _ = series[("container_cpu_usage_seconds_total", "/")]
    assert root_labels["container"] == root_labels["pod"] == ""
    assert root_cpu == stats.cpu_core_ns / 1e9


def test_a_memory_curve_grows_from_the_start() -> None:
    leak = make_pod(
        "leak",
        {"containers": [{"name": "app", "image": "x"}]},
        {
            "sim.kubeoracle.io/app.memory-bytes": "1000",
            "sim.kubeoracle.io/app.memory-bytes-per-second": "10",
        },
    )
    container = (leak.pod_spec.containers or ())[0]
    command = StartContainer(uid="uid-leak", pod=leak, container=container, attempt=0)
    runtime = simulated.on_command(Runtime(boot_ms=T0), command, T0)
    # 1000 bytes, then 10 more each second: 1300 after 30 s.
    (app,) = simulated.stats(runtime, T0 + 30_000, "node-0", {"uid-leak": leak}).containers
    assert app.memory_working_set_bytes == 1300
    usage = simulated.usage(runtime, 10_000, T0 + 30_000)
    assert [u.memory_bytes for u in usage.pods] == [1300]
    assert usage.memory_available_bytes == 10_000 - 1300
