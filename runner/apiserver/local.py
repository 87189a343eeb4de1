"""An API server in the caller's thread: no sockets, every call answered before it returns.

``LocalApiServer`` joins the machine, the in-process reference etcd and an entropy source, and
records what the machine says to clients. Tests, simulations and benchmarks use it to drive the
real machine with plain requests; ``call`` returns the answer, ``watch`` opens a stream whose
lines collect in ``streams[watch_id]`` until the machine ends it.
"""

from __future__ import annotations

from typing import Any

import msgspec

from impl.apiserver.context import Config, builtin_config
from models.apiserver.auth import Credentials
from models.apiserver.messages import ApiRequest, ApiResponse, RequestReceived, Tick
from runner.apiserver.bootstrap import bootstrap_requests, policy_requests
from runner.apiserver.driver import Driver
from runner.apiserver.entropy import EntropySource, SeededEntropy
from runner.apiserver.local_store import LocalStore


class Recorder:
    """A ``Sink`` that keeps answers and watch lines."""

    def __init__(self) -> None:
        self.answers: dict[int, ApiResponse] = {}
        self.streams: dict[int, list[bytes]] = {}
        self.open: set[int] = set()

    def respond(self, request_id: int, response: ApiResponse) -> None:
        self.answers[request_id] = response

    def start_watch(self, request_id: int, content_type: str) -> None:
        del content_type
        self.streams[request_id] = []
        self.open.add(request_id)

    def send_watch(self, watch_id: int, line: bytes) -> None:
        self.streams.setdefault(watch_id, []).append(line)

    def end_watch(self, watch_id: int) -> None:
        self.open.discard(watch_id)


class Answer(msgspec.Struct, frozen=True, kw_only=True):
    """An answer with its JSON body decoded (None when the body is not JSON)."""

    status: int
    body: Any
    content_type: str
    headers: dict[str, str]
    warnings: tuple[str, ...] = ()
    """Every ``Warning`` header's value, in order (``headers`` keeps the last)."""


def _decoded(response: ApiResponse) -> Answer:
    try:
        body = msgspec.json.decode(response.body) if response.body else None
    except msgspec.DecodeError:
        body = None
    headers = {header.name: header.value for header in response.headers}
    warnings = tuple(h.value for h in response.headers if h.name == "Warning")
    return Answer(
        status=response.status,
        body=body,
        content_type=response.content_type,
        headers=headers,
        warnings=warnings,
    )


class LocalApiServer:
    """The machine on an in-process etcd, driven synchronously."""

    def __init__(
        self,
        config: Config | None = None,
        entropy: EntropySource | None = None,
        store: LocalStore | None = None,
        bootstrap: bool = True,
    ) -> None:
        self.config = config if config is not None else builtin_config()
        self.entropy = entropy if entropy is not None else SeededEntropy(seed=0)
        self.store = store if store is not None else LocalStore()
        self.recorder = Recorder()
        self.driver = Driver(self.config, self.store, self.recorder)
        self._next_request = 1
        if bootstrap:
            requests = bootstrap_requests(self.config)
            if "RBAC" in self.config.auth.modes:
                requests += policy_requests()
            for request in requests:
                self.send(request)

    def send(self, request: ApiRequest) -> int:
        """Hand ``request`` to the machine; its ID (the answer is in ``recorder.answers``)."""
        request_id = self._next_request
        self._next_request += 1
        self.driver.feed(
            RequestReceived(request_id=request_id, request=request, entropy=self.entropy.draw())
        )
        return request_id

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: dict[str, str] | None = None,
        content_type: str = "application/json",
        accept: str = "application/json",
        credentials: Credentials | None = None,
    ) -> Answer:
        """One request; ``body`` is JSON-encoded unless it is bytes."""
        data = (
            body if isinstance(body, bytes) else b"" if body is None else msgspec.json.encode(body)
        )
        request = ApiRequest(
            method=method,
            path=path,
            query=tuple((query or {}).items()),
            content_type=content_type if data else "",
            accept=accept,
            user_agent="kubeoracle-tests/v0.0.0",
            body=data,
            credentials=credentials,
        )
        request_id = self.send(request)
        response = self.recorder.answers.pop(request_id, None)
        if response is None:
            raise AssertionError(f"no answer to {method} {path}: it started a watch or waits")
        return _decoded(response)

    def watch(self, path: str, query: dict[str, str] | None = None) -> int:
        """Open a watch (``watch=true`` is added); its ID, which keys ``recorder.streams``."""
        params = {"watch": "true", **(query or {})}
        request = ApiRequest(method="GET", path=path, query=tuple(params.items()))
        return self.send(request)

    def events(self, watch_id: int) -> list[Any]:
        """The watch events sent so far on ``watch_id``, decoded."""
        return [msgspec.json.decode(line) for line in self.recorder.streams.get(watch_id, [])]

    def tick(self, seconds: int = 0) -> None:
        """Let time pass (bookmarks, watch timeouts)."""
        if isinstance(self.entropy, SeededEntropy):
            self.entropy.advance(seconds)
        self.driver.feed(Tick(now_seconds=self.entropy.now_seconds()))
