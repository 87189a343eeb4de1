"""The kubelet API's answers: healthz, pods, containerLogs with tailLines, stats/summary."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec

from models.k8s.base import decode_hook
from models.k8s.core.pod import Pod
from models.kubelet.events import PodUsage, UsageObserved
from runner.kubelet.api import KubeletApi

POD = msgspec.convert(
    {"metadata": {"name": "p", "namespace": "default", "uid": "u"}}, Pod, dec_hook=decode_hook
)


def test_answers(tmp_path: Path) -> None:
    (tmp_path / "u").mkdir()
    (tmp_path / "u" / "app.log").write_text("a\nb\nc\n")
    usage = UsageObserved(
        memory_available_bytes=0, pods=(PodUsage(uid="u", cpu_millis=5, memory_bytes=1000),)
    )
    api = KubeletApi(
        "n",
        "127.0.0.1",
        0,
        lambda: [POD],
        lambda uid, c: tmp_path / uid / f"{c}.log",
        lambda: usage,
        lambda: {"u": 1500},
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
        assert summary["pods"][0]["cpu"] == {"usageNanoCores": 5_000_000}
        assert summary["pods"][0]["memory"] == {"workingSetBytes": 1000}
        assert api.answer("/nothing")[0] == 404
        status, body, kind = api.answer("/metrics/resource")
        assert (status, kind) == (200, "text/plain; version=0.0.4")
        samples = [line for line in body.decode().splitlines() if not line.startswith("#")]
        assert samples == [
            "node_cpu_usage_seconds_total 1.5",
            'pod_cpu_usage_seconds_total{namespace="default",pod="p"} 1.5',
            "node_memory_working_set_bytes 1000",
            'pod_memory_working_set_bytes{namespace="default",pod="p"} 1000',
        ]
    finally:
        api.close()
