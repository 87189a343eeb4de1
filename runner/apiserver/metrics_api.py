"""The metrics API (``metrics.k8s.io/v1beta1``, what ``kubectl top`` and the HPA read) served by
``serve apiserver`` itself, in place of metrics-server behind an APIService.

Theory of operation. Every ``resolution`` seconds (metrics-server's ``--metric-resolution``,
15 s by default) ``scrape`` reads the Nodes as the server, fetches each node's
``/metrics/resource`` from its InternalIP and ``kubeletEndpoint`` port (plain HTTP, as
kubeoracle's kubelets serve it; a node without a port is skipped), parses the Prometheus text
with prometheus_client's parser and stores the cycle (``impl.kubelet.metrics_storage``: two
points per node and container, usage = cpu rate over the window between them).

A request under ``/apis/metrics.k8s.io`` is first judged by the machine with the caller's
credentials (a 401 or 403 is the answer, as the aggregator's authentication and
metrics-server's authorization would give); then ``nodes`` and ``pods`` (all namespaces, one
namespace, one object; ``labelSelector`` and ``fieldSelector`` apply to the Nodes and Pods
read) list the objects as the server and answer NodeMetrics/PodMetrics for those with two
points, 404 ``nodemetrics.metrics.k8s.io "x" not found`` for one without. ``/apis`` gets the
group added (legacy and aggregated discovery), so kubectl finds it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final
from urllib.parse import quote

import msgspec
from prometheus_client.parser import text_string_to_metric_families

from impl.kubelet import metrics_objects as objects
from impl.kubelet import metrics_storage as storage
from models.apiserver.messages import ApiRequest, ApiResponse

LOG = logging.getLogger("kubeoracle.apiserver.metrics")
PREFIX: Final = f"/apis/{objects.GROUP}"
OBJECT: Final = re.compile(
    rf"^{re.escape(PREFIX)}/{objects.VERSION}"
    r"(?:/namespaces/(?P<namespace>[^/]+))?/(?P<resource>nodes|pods)(?:/(?P<name>[^/]+))?$"
)
JSON: Final = "application/json"
Ask = Callable[[ApiRequest], Awaitable[ApiResponse]]
Fetch = Callable[[str], Awaitable[tuple[int, bytes]]]


def _json(code: int, body: dict[str, Any]) -> ApiResponse:
    return ApiResponse(status=code, content_type=JSON, body=json.dumps(body).encode())


def _status(code: int, reason: str, message: str) -> ApiResponse:
    return _json(
        code,
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "code": code,
        },
    )


def _get(request: ApiRequest, path: str, query: tuple[tuple[str, str], ...] = ()) -> ApiRequest:
    """A read by the server itself (no credentials)."""
    return msgspec.structs.replace(
        request,
        method="GET",
        path=path,
        query=query,
        accept=JSON,
        credentials=None,
        user=None,
        body=b"",
    )


def kubelet_url(node: dict[str, Any]) -> str | None:
    """``http://<InternalIP>:<kubeletEndpoint port>`` of a Node, or None."""
    status = node.get("status") or {}
    addresses = [
        a.get("address") for a in status.get("addresses") or [] if a.get("type") == "InternalIP"
    ]
    port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port")
    if not addresses or not isinstance(port, int) or port <= 0:
        return None
    return f"http://{addresses[0]}:{port}"


def samples(text: str) -> list[storage.Sample]:
    """The samples of a Prometheus text exposition (timestamps in ms)."""
    found: list[storage.Sample] = []
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            stamp = sample.timestamp
            at_ms = round(float(stamp) * 1000) if stamp is not None else None
            found.append((sample.name, dict(sample.labels), float(sample.value), at_ms))
    return found


class MetricsApi:
    def __init__(self, ask: Ask, fetch: Fetch, resolution_seconds: float) -> None:
        self.ask, self.fetch = ask, fetch
        self.resolution_seconds = resolution_seconds
        self.storage = storage.Storage()
        self.template = ApiRequest(method="GET", path="/", query=(), body=b"")

    # Scraping ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Scrape every ``resolution`` seconds until cancelled."""
        while True:
            started = time.monotonic()
            try:
                await self.scrape()
            except (OSError, ValueError) as error:
                LOG.warning("metrics scrape failed: %s", error)
            spent = time.monotonic() - started
            await asyncio.sleep(max(0.0, self.resolution_seconds - spent))

    async def scrape(self) -> None:
        """One cycle: every node's /metrics/resource into the storage."""
        listed = await self.ask(_get(self.template, "/api/v1/nodes"))
        if listed.status != 200:
            return
        nodes = json.loads(listed.body).get("items") or []
        targets = [
            (str((n.get("metadata") or {}).get("name", "")), url)
            for n in nodes
            if (url := kubelet_url(n)) is not None
        ]
        answers = await asyncio.gather(
            *(self.fetch(f"{url}/metrics/resource") for _, url in targets)
        )
        scraped_ms = time.time_ns() // 1_000_000
        batches = []
        for (name, _), (code, body) in zip(targets, answers, strict=True):
            if code != 200:
                LOG.info("metrics scrape of node %s: HTTP %d", name, code)
                continue
            try:
                batches.append(storage.batch(name, samples(body.decode()), scraped_ms))
            except (ValueError, UnicodeDecodeError) as error:
                LOG.info("metrics scrape of node %s: %s", name, error)
        resolution_ns = int(self.resolution_seconds * 1e9)
        self.storage = storage.store(self.storage, storage.merge(batches), resolution_ns)

    # Serving ---------------------------------------------------------------------------

    @staticmethod
    def handles(request: ApiRequest) -> bool:
        return request.path == PREFIX or request.path.startswith(f"{PREFIX}/")

    @staticmethod
    def is_discovery(request: ApiRequest) -> bool:
        return request.path == "/apis" and request.method.upper() == "GET"

    async def discovery(self, request: ApiRequest) -> ApiResponse:
        """``/apis`` as the machine answers it, with this group."""
        answer = await self.ask(request)
        if answer.status != 200:
            return answer
        body = objects.with_group(json.loads(answer.body))
        return msgspec.structs.replace(answer, body=json.dumps(body).encode())

    async def answer(self, request: ApiRequest) -> ApiResponse:
        judged = await self.ask(request)
        if judged.status in (401, 403):
            return judged
        if request.method.upper() not in ("GET", "HEAD"):
            return _status(405, "MethodNotAllowed", "the server does not allow this method")
        if request.path == PREFIX:
            return _json(200, objects.api_group())
        if request.path == f"{PREFIX}/{objects.VERSION}":
            return _json(200, objects.resource_list())
        match = OBJECT.match(request.path)
        if match is None or (match["resource"] == "nodes" and match["namespace"]):
            return _status(404, "NotFound", "the server could not find the requested resource")
        if match["resource"] == "nodes":
            return await self._nodes(request, match["name"])
        return await self._pods(request, match["namespace"], match["name"])

    def _selectors(self, request: ApiRequest) -> tuple[tuple[str, str], ...]:
        return tuple(
            (key, value)
            for key in ("labelSelector", "fieldSelector")
            if (value := request.param(key) or "")
        )

    async def _read(self, request: ApiRequest, path: str) -> tuple[ApiResponse, list[Any]]:
        got = await self.ask(_get(request, path, self._selectors(request)))
        if got.status != 200:
            return got, []
        body = json.loads(got.body)
        return got, list(body.get("items") or []) if "items" in body else [body]

    async def _nodes(self, request: ApiRequest, name: str | None) -> ApiResponse:
        path = "/api/v1/nodes" + (f"/{quote(name, safe='')}" if name else "")
        got, nodes = await self._read(request, path)
        if got.status == 404 and name:
            return _status(404, "NotFound", f'nodemetrics.{objects.GROUP} "{name}" not found')
        if got.status != 200:
            return got
        items = []
        for node in nodes:
            used = storage.node_usage(self.storage, (node.get("metadata") or {}).get("name", ""))
            if used is not None:
                items.append(objects.node_metrics(node, used))
        if name:
            if not items:
                return _status(404, "NotFound", f'nodemetrics.{objects.GROUP} "{name}" not found')
            return _json(200, items[0])
        return _json(200, objects.metrics_list("NodeMetricsList", items))

    async def _pods(
        self, request: ApiRequest, namespace: str | None, name: str | None
    ) -> ApiResponse:
        base = (
            f"/api/v1/namespaces/{quote(namespace, safe='')}/pods"
            if namespace
            else ("/api/v1/pods")
        )
        path = base + (f"/{quote(name, safe='')}" if name else "")
        got, pods = await self._read(request, path)
        missing = f'podmetrics.{objects.GROUP} "{namespace}/{name}" not found'
        if got.status == 404 and name:
            return _status(404, "NotFound", missing)
        if got.status != 200:
            return got
        items = []
        for pod in pods:
            meta = pod.get("metadata") or {}
            found = storage.pod_usage(
                self.storage, (meta.get("namespace", ""), meta.get("name", ""))
            )
            if found is not None:
                items.append(objects.pod_metrics(pod, found[0], found[1]))
        if name:
            if not items:
                return _status(404, "NotFound", missing)
            return _json(200, items[0])
        return _json(200, objects.metrics_list("PodMetricsList", items))
