"""The kubelet's own HTTP API for the process runtime (one server per node, on the node's IP
and its ``kubeletEndpoint`` port): what ``kubectl logs`` and ``kubectl exec`` reach through the
API server.

- ``GET /healthz``: ``ok``;
- ``GET /pods``: the pods bound to the node, as a PodList;
- ``GET /containerLogs/<namespace>/<pod>/<container>``: the container's output (text; the
  ``tailLines`` query keeps the last N lines);
- ``GET /stats/summary``: the Summary API's shape (node, pod and container cpu and memory);
- ``GET /metrics/resource``: the Prometheus text metrics-server scrapes;
- ``GET /metrics/cadvisor``: cAdvisor's container series;

the last three from a fresh reading of the runtime (``runner.kubelet.exposition``);

- ``/exec/<namespace>/<pod>/<container>``: a WebSocket remote command session
  (:mod:`runner.kubelet.exec_server`).

Served by uvicorn (h11, and the ``websockets`` library for the upgrade) in a thread of its own.
Plain HTTP on loopback, no authentication: a test and development server, not a hardened one.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs, unquote, urlsplit

import uvicorn

from impl.kubelet.admission import qos_class
from models.apiserver.clock import rfc3339
from models.k8s.codec import to_builtins
from models.k8s.core.pod import Pod
from models.kubelet.stats import NodeStats
from runner.etcd.server import bind
from runner.kubelet import exposition
from runner.kubelet.exec_server import ExecTarget, Refusal, exec_path, serve_exec

Pods = Callable[[], list[Pod]]
LogPath = Callable[[str, str], Path]
Stats = Callable[[], NodeStats]
ExecContext = Callable[[str, str], tuple[Path, dict[str, str]] | None]
"""``(pod uid, container)``: the running container's working directory and environment."""
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

CLOSE_SECONDS: Final = 5.0
SIMULATED_EXEC: Final = (
    "exec is not supported by the simulated runtime (its containers run no processes): "
    "serve kubelet --runtime process runs commands"
)
"""The kubelet's answer to an exec on a node without ``exec_context`` (the simulated runtime)."""


class KubeletApi:
    def __init__(
        self,
        node: str,
        host: str,
        port: int,
        pods: Pods,
        log_path: LogPath,
        stats: Stats,
        exec_context: ExecContext | None = None,
    ) -> None:
        self.node, self.pods, self.log_path, self.stats = node, pods, log_path, stats
        self.exec_context = exec_context
        self.socket = bind((host, port))
        self.address: tuple[str, int] = self.socket.getsockname()[:2]
        config = uvicorn.Config(
            self._app,
            http="h11",
            interface="asgi3",
            ws="websockets-sansio",
            lifespan="off",
            log_level="critical",
            access_log=False,
            timeout_graceful_shutdown=1,
        )
        self.uvicorn = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._serve, daemon=True, name=f"kubelet-api-{node}")

    def _serve(self) -> None:
        asyncio.run(self.uvicorn.serve(sockets=[self.socket]))

    def start(self) -> None:
        self.thread.start()

    def close(self) -> None:
        self.uvicorn.should_exit = True
        if self.thread.is_alive():
            self.thread.join(CLOSE_SECONDS)
        self.socket.close()

    async def _app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await serve_exec(scope, receive, send, self.exec_lookup)
            return
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body", False):
            pass
        raw = scope.get("raw_path") or scope["path"].encode()
        query = scope.get("query_string", b"")
        target = raw.decode("latin-1") + (f"?{query.decode('latin-1')}" if query else "")
        if scope["method"] not in ("GET", "HEAD"):
            status, body, kind = 405, b"405 method not allowed\n", "text/plain; charset=utf-8"
        elif exec_path(scope["path"]) is not None:
            status, body, kind = (
                400,
                b"exec is served over WebSocket (v5.channel.k8s.io, v4.channel.k8s.io)\n",
                "text/plain; charset=utf-8",
            )
        else:
            status, body, kind = await asyncio.to_thread(self.answer, target)
        headers = [(b"content-type", kind.encode()), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def exec_lookup(self, namespace: str, name: str, container: str) -> ExecTarget | Refusal:
        """Where ``kubectl exec`` runs: the pod must be on this node, the container running."""
        for pod in self.pods():
            if pod.meta.namespace == namespace and pod.meta.name == name:
                if self.exec_context is None:
                    return Refusal(500, SIMULATED_EXEC)
                context = self.exec_context(pod.meta.uid or "", container)
                if context is None:
                    return Refusal(500, f'container not found ("{container}")')
                return ExecTarget(cwd=context[0], env=context[1])
        return Refusal(404, "pod does not exist")

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
