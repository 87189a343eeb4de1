"""Listing and watching Services and EndpointSlices through an API server (what kube-proxy's
informers do), over HTTP or HTTPS with urllib3.

``kubeconfig_server`` reads the server URL of a kubeconfig's current context. ``Watcher`` talks to
a server URL, or to an ``Endpoint`` (``runner.apiserver.client``: the server, its CA and the
client certificate or bearer token of a kubeconfig, as ``serve cluster``'s secure port needs).
It lists a collection, then watches it from the list's resourceVersion, turning each object into a
machine event (``ServiceUpserted``, ``EndpointSliceDeleted``, ...) on a queue; on a watch that
ends or expires (410 Gone) it lists again, as a reflector does. Objects are decoded strictly by
the object model; an object the model refuses is reported on the queue as an error line.
Services labelled ``service.kubernetes.io/headless`` are left to the proxy's filtering, as
kube-proxy's informer selector leaves out non-default proxies.
"""

from __future__ import annotations

import json
import queue
import threading
from pathlib import Path
from typing import Any, Final

import urllib3
import yaml
from returns.result import Success

from models.k8s.codec import decode_data
from models.k8s.core.service import Service
from models.k8s.discovery import EndpointSlice
from models.proxy.events import (
    EndpointSliceDeleted,
    EndpointSliceUpserted,
    ProxyEvent,
    ServiceDeleted,
    ServiceUpserted,
)
from runner.apiserver.client import Endpoint
from runner.errors import InputError
from runner.input_files import read_text

COLLECTIONS: Final = {
    "services": "/api/v1/services",
    "endpointslices": "/apis/discovery.k8s.io/v1/endpointslices",
}
WATCH_TIMEOUT_SECONDS: Final = 60


def kubeconfig_server(path: str) -> str:
    """The server URL of the current context (or the only cluster) of a kubeconfig."""
    try:
        document = yaml.safe_load(read_text(Path(path)))
    except yaml.YAMLError as error:
        raise InputError(f"not a kubeconfig: {error}", source=path) from error
    if not isinstance(document, dict):
        raise InputError("not a kubeconfig (expected a mapping)", source=path)
    clusters = {c.get("name"): c.get("cluster", {}) for c in document.get("clusters") or []}
    contexts = {c.get("name"): c.get("context", {}) for c in document.get("contexts") or []}
    current = contexts.get(document.get("current-context"), {})
    cluster = clusters.get(current.get("cluster")) if current else None
    if cluster is None and len(clusters) == 1:
        cluster = next(iter(clusters.values()))
    server = cluster.get("server") if isinstance(cluster, dict) else None
    if not isinstance(server, str) or not server.startswith(("http://", "https://")):
        raise InputError("no server URL for the current context", source=path, field="clusters")
    return server.rstrip("/")


def _event(kind: str, change: str, item: dict[str, Any]) -> ProxyEvent | str:
    decoded = decode_data(item)
    if not isinstance(decoded, Success):
        return f"{kind}: {decoded.failure().reason}"
    value = decoded.unwrap()
    meta = getattr(value, "metadata", None)
    namespace = (meta.namespace if meta else None) or "default"
    name = (meta.name if meta else None) or ""
    if isinstance(value, Service):
        if change == "DELETED":
            return ServiceDeleted(namespace=namespace, name=name)
        return ServiceUpserted(service=value)
    if isinstance(value, EndpointSlice):
        if change == "DELETED":
            return EndpointSliceDeleted(namespace=namespace, name=name)
        return EndpointSliceUpserted(endpoint_slice=value)
    return f"{kind}: unexpected object {type(value).__name__}"


class Watcher:
    """One collection's list-and-watch loop, feeding ``events`` until ``stop`` is set."""

    def __init__(
        self,
        server: str | Endpoint,
        kind: str,
        events: queue.Queue[tuple[str, ProxyEvent | str]],
        stop: threading.Event,
    ) -> None:
        endpoint = server if isinstance(server, Endpoint) else Endpoint(url=server)
        self.server = endpoint.url
        self.kind = kind
        self.events = events
        self.stop = stop
        tls: dict[str, Any] = {}
        if endpoint.url.startswith("https://"):
            tls = {
                "cert_reqs": "CERT_NONE" if endpoint.insecure else "CERT_REQUIRED",
                "ca_certs": endpoint.ca_file or None,
                "cert_file": endpoint.cert_file or None,
                "key_file": endpoint.key_file or None,
            }
        headers = {"Authorization": f"Bearer {endpoint.token}"} if endpoint.token else None
        self.http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=5, read=WATCH_TIMEOUT_SECONDS + 5),
            headers=headers,
            **tls,
        )

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                version = self._list()
                self.events.put((self.kind, "listed"))
                self._watch(version)
            except (urllib3.exceptions.HTTPError, OSError, ValueError) as error:
                self.events.put((self.kind, f"error: {error}"))
                self.stop.wait(1.0)

    def _list(self) -> str:
        response = self.http.request("GET", self.server + COLLECTIONS[self.kind])
        if response.status != 200:
            raise ValueError(f"list {self.kind}: HTTP {response.status}")
        body = json.loads(response.data)
        api_version = body.get("apiVersion", "v1")
        item_kind = {"services": "Service", "endpointslices": "EndpointSlice"}[self.kind]
        for item in body.get("items") or []:
            item.setdefault("apiVersion", api_version)
            item.setdefault("kind", item_kind)
            self.events.put((self.kind, _event(self.kind, "ADDED", item)))
        return str(body.get("metadata", {}).get("resourceVersion", ""))

    def _watch(self, version: str) -> None:
        url = (
            f"{self.server}{COLLECTIONS[self.kind]}?watch=1&resourceVersion={version}"
            f"&timeoutSeconds={WATCH_TIMEOUT_SECONDS}&allowWatchBookmarks=true"
        )
        response = self.http.request("GET", url, preload_content=False)
        try:
            buffer = b""
            for chunk in response.stream(4096):
                if self.stop.is_set():
                    return
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.strip() and not self._handle(json.loads(line)):
                        return
        finally:
            response.release_conn()

    def _handle(self, change: dict[str, Any]) -> bool:
        """Queue one watch event; False when the watch must be restarted by a new list."""
        kind, item = change.get("type"), change.get("object") or {}
        if kind == "ERROR":
            return False
        if kind in ("ADDED", "MODIFIED", "DELETED"):
            self.events.put((self.kind, _event(self.kind, kind, item)))
        return True
