"""A served component's REST client: one connection, raw JSON bodies, timed by verb.

A ``Call`` carries its method, path, query, content type and body bytes; the
answer goes back to the controller as status and body bytes. A transport failure answers status
0 (the write's outcome is unknown) and drops the connection, to reconnect on the next call;
a kept-alive connection the server closed while idle is reopened and the request sent again.
Each request is reported to ``observe(verb, code, seconds)`` for the ``rest_client_*`` metrics.
"""

from __future__ import annotations

import http.client
import time
from collections.abc import Callable
from typing import Final
from urllib.parse import urlencode

from models.controllers.messages import ApiCall
from runner.apiserver.client import TIMEOUT_SECONDS, Endpoint

IDLE_CLOSED: Final = (
    http.client.RemoteDisconnected,
    BrokenPipeError,
    ConnectionResetError,
    ConnectionAbortedError,
)
"""What a request on a kept-alive connection the server has closed fails with."""

Observer = Callable[[str, str, float], None]
"""``(method, code, seconds)``; code is the HTTP status, or ``"<error>"``."""


class RestClient:
    """Used by one thread."""

    def __init__(
        self,
        endpoint: Endpoint,
        observe: Observer | None = None,
        user_agent: str = "kube-controller-manager/kubeoracle",
    ) -> None:
        self.endpoint = endpoint
        self.observe = observe
        self.user_agent = user_agent
        self._connection: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def send(self, call: ApiCall) -> tuple[int, bytes]:
        """``(status, body)``; ``(0, reason)`` when no answer came."""
        target = call.path + (f"?{urlencode(call.query)}" if call.query else "")
        headers = self.endpoint.headers()
        headers["User-Agent"] = self.user_agent
        if call.body:
            headers["Content-Type"] = call.content_type or "application/json"
        started = time.monotonic()
        reused = self._connection is not None
        answer = self._exchange(call, target, headers)
        if isinstance(answer, IDLE_CLOSED) and reused:
            # The server closed the kept-alive connection while it was idle (uvicorn after
            # 5 s): the request never reached it. Go's transport retries on a new connection.
            answer = self._exchange(call, target, headers)
        if isinstance(answer, Exception):
            self._report(call.method, "<error>", started)
            return 0, f"{type(answer).__name__}: {answer}".encode()
        status, body = answer
        self._report(call.method, str(status), started)
        return status, body

    def _exchange(
        self, call: ApiCall, target: str, headers: dict[str, str]
    ) -> tuple[int, bytes] | Exception:
        if self._connection is None:
            self._connection = self.endpoint.connection(TIMEOUT_SECONDS)
        try:
            self._connection.request(call.method, target, body=call.body or None, headers=headers)
            response = self._connection.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException) as error:
            self.close()
            return error

    def _report(self, method: str, code: str, started: float) -> None:
        if self.observe is not None:
            self.observe(method, code, time.monotonic() - started)
