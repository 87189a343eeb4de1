"""A small Kubernetes API client for ``conform apiserver``: JSON requests and watch streams over
HTTP or HTTPS, to a server named by URL or by a kubeconfig's current context.

A kubeconfig gives the server, its CA (``certificate-authority(-data)`` or
``insecure-skip-tls-verify``) and the user's bearer token or client certificate. One
``ApiClient`` holds one connection and is used by one thread. An answer is ``(status, body)``;
a transport failure is ``(0, reason)``: the outcome of a write is then unknown.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import socket
import ssl
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import msgspec
import yaml

from runner.errors import InputError

TIMEOUT_SECONDS = 10.0


class Endpoint(msgspec.Struct, frozen=True, kw_only=True):
    """Where the server is and how to authenticate to it."""

    url: str
    token: str = ""
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    insecure: bool = False

    def connection(self, timeout: float | None) -> http.client.HTTPConnection:
        parts = urlsplit(self.url)
        host, port = parts.hostname or "127.0.0.1", parts.port
        if parts.scheme != "https":
            return http.client.HTTPConnection(host, port or 80, timeout=timeout)
        context = ssl.create_default_context(cafile=self.ca_file or None)
        if self.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if self.cert_file:
            context.load_cert_chain(self.cert_file, self.key_file or None)
        return http.client.HTTPSConnection(host, port or 443, timeout=timeout, context=context)

    def headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": "kubeoracle-conform/v1"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers


def _data_file(folder: Path, name: str, data: str) -> str:
    path = folder / name
    path.write_bytes(base64.b64decode(data))
    path.chmod(0o600)
    return str(path)


def _named(entries: Any, name: str, field: str, source: str) -> dict[str, Any]:
    for entry in entries or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            value = entry.get(field)
            return value if isinstance(value, dict) else {}
    raise InputError(f"no {field} named {name!r}", source=source)


def endpoint_from_kubeconfig(path: Path, folder: Path) -> Endpoint:
    """The current context's server and credentials (data fields written under ``folder``)."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise InputError(f"cannot read the kubeconfig: {error}", source=str(path)) from None
    if not isinstance(document, dict):
        raise InputError("not a kubeconfig (expected a mapping)", source=str(path))
    current = str(document.get("current-context") or "")
    context = _named(document.get("contexts"), current, "context", str(path))
    cluster = _named(document.get("clusters"), str(context.get("cluster")), "cluster", str(path))
    user = _named(document.get("users"), str(context.get("user")), "user", str(path))
    server = str(cluster.get("server") or "")
    if not server.startswith(("http://", "https://")):
        raise InputError(f"the cluster's server {server!r} is not an http(s) URL", source=str(path))
    ca = str(cluster.get("certificate-authority") or "")
    if cluster.get("certificate-authority-data"):
        ca = _data_file(folder, "ca.crt", str(cluster["certificate-authority-data"]))
    cert, key = str(user.get("client-certificate") or ""), str(user.get("client-key") or "")
    if user.get("client-certificate-data"):
        cert = _data_file(folder, "client.crt", str(user["client-certificate-data"]))
    if user.get("client-key-data"):
        key = _data_file(folder, "client.key", str(user["client-key-data"]))
    return Endpoint(
        url=server.rstrip("/"),
        token=str(user.get("token") or ""),
        ca_file=ca,
        cert_file=cert,
        key_file=key,
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
    )


@contextlib.contextmanager
def credentials_folder() -> Iterator[Path]:
    """A private temporary folder for kubeconfig data fields, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="kubeoracle-conform-") as folder:
        yield Path(folder)


class ApiClient:
    """One connection; not shared between threads."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self._connection: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def request(
        self, method: str, path: str, body: Any = None, query: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        if self._connection is None:
            self._connection = self.endpoint.connection(TIMEOUT_SECONDS)
        target = path + (f"?{urlencode(query)}" if query else "")
        headers = self.endpoint.headers()
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            self._connection.request(method, target, body=data, headers=headers)
            response = self._connection.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException) as error:
            self.close()
            return 0, f"{type(error).__name__}: {error}"
        try:
            return response.status, json.loads(raw) if raw else None
        except ValueError:
            return response.status, raw.decode("utf-8", "replace")


class WatchReader:
    """One watch stream; ``close`` from another thread ends the iteration."""

    def __init__(self, endpoint: Endpoint, path: str, query: dict[str, str]) -> None:
        self.endpoint, self.path, self.query = endpoint, path, query
        self._connection: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()
        self._closed = False

    def events(self) -> Iterator[dict[str, Any]]:
        connection = self.endpoint.connection(None)
        with self._lock:
            if self._closed:
                return
            self._connection = connection
        try:
            connection.request(
                "GET", f"{self.path}?{urlencode(self.query)}", headers=self.endpoint.headers()
            )
            response = connection.getresponse()
            if response.status != 200:
                return
            for line in response:
                if line.strip():
                    yield json.loads(line)
        except Exception:
            # Closing the socket from another thread surfaces as assorted errors in http.client.
            return

    def close(self) -> None:
        with self._lock:
            self._closed = True
            connection = self._connection
        if connection is not None and connection.sock is not None:
            with contextlib.suppress(OSError):
                connection.sock.shutdown(socket.SHUT_RDWR)
            connection.close()
