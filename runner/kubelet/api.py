"""The kubelet's own HTTP API for the process runtime (one server per node, on the node's IP
and its ``kubeletEndpoint`` port): what ``kubectl logs`` reaches through the API server.

- ``GET /healthz``: ``ok``;
- ``GET /pods``: the pods bound to the node, as a PodList;
- ``GET /containerLogs/<namespace>/<pod>/<container>``: the container's output (text; the
  ``tailLines`` query keeps the last N lines);
- ``GET /stats/summary``: the Summary API's shape (node, pod and container cpu and memory);
- ``GET /metrics/resource``: the Prometheus text metrics-server scrapes;
- ``GET /metrics/cadvisor``: cAdvisor's container series;

the last three from a fresh reading of the runtime (``runner.kubelet.exposition``).

Plain HTTP on loopback, no authentication: a test and development server, not a hardened one.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from impl.kubelet.admission import qos_class
from models.apiserver.clock import rfc3339
from models.k8s.codec import to_builtins
from models.k8s.core.pod import Pod
from models.kubelet.stats import NodeStats
from runner.kubelet import exposition

Pods = Callable[[], list[Pod]]
LogPath = Callable[[str, str], Path]
Stats = Callable[[], NodeStats]


class KubeletApi:
    def __init__(
        self,
        node: str,
        host: str,
        port: int,
        pods: Pods,
        log_path: LogPath,
        stats: Stats,
    ) -> None:
        self.node, self.pods, self.log_path, self.stats = node, pods, log_path, stats
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body, kind = api.answer(self.path)
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                del format, args

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, daemon=True, name=f"kubelet-api-{node}"
        )

    def start(self) -> None:
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(self, target: str) -> tuple[int, bytes, str]:
        parts = urlsplit(target)
        path = [unquote(p) for p in parts.path.split("/") if p]
        query = parse_qs(parts.query)
        text = "text/plain; charset=utf-8"
        if path == ["healthz"]:
            return 200, b"ok", text
        if path == ["pods"]:
            items = [to_builtins(p) for p in self.pods()]
            body = {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items}
            return 200, json.dumps(body).encode(), "application/json"
        if len(path) == 4 and path[0] == "containerLogs":
            return self._logs(path[1], path[2], path[3], query)
        if path == ["stats", "summary"]:
            stats = self.stats()
            summary = exposition.summary(stats, rfc3339(stats.timestamp_ms // 1000))
            return 200, json.dumps(summary).encode(), "application/json"
        if path == ["metrics", "resource"]:
            return 200, exposition.resource_metrics(self.stats()), exposition.CONTENT_TYPE
        if path == ["metrics", "cadvisor"]:
            cadvisor = exposition.cadvisor_metrics(self.stats(), self._qos())
            return 200, cadvisor, exposition.CONTENT_TYPE
        return 404, b"404 page not found\n", text

    def _logs(
        self, namespace: str, name: str, container: str, query: dict[str, list[str]]
    ) -> tuple[int, bytes, str]:
        text = "text/plain; charset=utf-8"
        for pod in self.pods():
            if pod.meta.namespace == namespace and pod.meta.name == name:
                log = self.log_path(pod.meta.uid or "", container)
                if not log.exists():
                    return (
                        404,
                        f"container {container!r} of pod {name!r} has no log\n".encode(),
                        text,
                    )
                data = log.read_bytes()
                tail = query.get("tailLines")
                if tail and tail[0].isdecimal():
                    lines = data.splitlines(keepends=True)
                    data = b"".join(lines[-int(tail[0]) :]) if int(tail[0]) else b""
                return 200, data, text
        return 404, f"pod {namespace}/{name} is not on this node\n".encode(), text

    def _qos(self) -> dict[str, str]:
        return {pod.meta.uid or "": qos_class(pod) for pod in self.pods()}
