"""The kubelet API's answers: healthz, pods, containerLogs with tailLines, stats/summary and
/metrics/resource from one stats reading (parsed back with prometheus_client's parser)."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
from prometheus_client.parser import text_string_to_metric_families

from models.k8s.base import decode_hook
from models.k8s.core.pod import Pod
from models.kubelet.stats import ContainerStats, NodeStats
from runner.kubelet.api import KubeletApi

POD = msgspec.convert(
    {"metadata": {"name": "p", "namespace": "default", "uid": "u"}}, Pod, dec_hook=decode_hook
)
AT_MS = 1_700_000_000_250
STATS = NodeStats(
    node="n",
    timestamp_ms=AT_MS,
    start_ms=1_600_000_000_000,
    cpu_core_ns=7_500_000_000,
    cpu_nanocores=300_000_000,
    memory_working_set_bytes=5000,
    containers=(
        ContainerStats(
            namespace="default",
            pod="p",
            pod_uid="u",
            container="app",
            start_ms=1_699_999_990_000,
            cpu_core_ns=1_500_000_000,
            cpu_nanocores=5_000_000,
            memory_working_set_bytes=1000,
            memory_rss_bytes=900,
        ),
        ContainerStats(
            namespace="default",
            pod="p",
            pod_uid="u",
            container="side",
            start_ms=1_699_999_995_000,
            cpu_core_ns=250_000_000,
            memory_working_set_bytes=24,
        ),
    ),
)


def test_answers(tmp_path: Path) -> None:
    (tmp_path / "u").mkdir()
    (tmp_path / "u" / "app.log").write_text("a\nb\nc\n")
    api = KubeletApi(
        "n",
        "127.0.0.1",
        0,
        lambda: [POD],
        lambda uid, c: tmp_path / uid / f"{c}.log",
        lambda: STATS,
    )
    try:
        assert api.answer("/healthz")[:2] == (200, b"ok")
        status, body, _ = api.answer("/pods")
        assert status == 200
        assert [i["metadata"]["name"] for i in json.loads(body)["items"]] == ["p"]
        assert api.answer("/containerLogs/default/p/app?tailLines=2")[1] == b"b\nc\n"
        assert api.answer("/containerLogs/default/p/app")[1] == b"a\nb\nc\n"
        assert api.answer("/containerLogs/default/other/app")[0] == 404
        summary = json.loads(api.answer("/stats/summary")[1])
        pod = summary["pods"][0]
        assert pod["podRef"] == {"name": "p", "namespace": "default", "uid": "u"}
        assert pod["cpu"]["usageNanoCores"] == 5_000_000
        assert pod["cpu"]["usageCoreNanoSeconds"] == 1_750_000_000
        assert pod["memory"]["workingSetBytes"] == 1024
        assert [c["name"] for c in pod["containers"]] == ["app", "side"]
        assert summary["node"]["cpu"]["usageCoreNanoSeconds"] == 7_500_000_000
        assert summary["node"]["cpu"]["time"] == "2023-11-14T22:13:20Z"
        assert api.answer("/nothing")[0] == 404
        status, body, kind = api.answer("/metrics/resource")
        assert (status, kind) == (200, "text/plain; version=0.0.4; charset=utf-8")
        samples = {
            (s.name, tuple(sorted(s.labels.items()))): (s.value, s.timestamp)
            for family in text_string_to_metric_families(body.decode())
            for s in family.samples
        }
        at = AT_MS / 1000
        app = (("container", "app"), ("namespace", "default"), ("pod", "p"))
        pod_labels = (("namespace", "default"), ("pod", "p"))
        assert samples[("container_cpu_usage_seconds_total", app)] == (1.5, at)
        assert samples[("container_memory_working_set_bytes", app)] == (1000, at)
        assert samples[("container_start_time_seconds", app)] == (1_699_999_990.0, at)
        assert samples[("pod_cpu_usage_seconds_total", pod_labels)] == (1.75, at)
        assert samples[("pod_memory_working_set_bytes", pod_labels)] == (1024, at)
        assert samples[("node_cpu_usage_seconds_total", ())] == (7.5, at)
        assert samples[("node_memory_working_set_bytes", ())] == (5000, at)
        assert samples[("resource_scrape_error", ())] == (0, None)
        assert len(samples) == 3 * 2 + 2 + 2 + 1
    finally:
        api.close()
