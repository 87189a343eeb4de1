"""etcd's v3 service over a reference backend, independent of the transport that carries it.

Theory of operation. The HTTP/JSON gateway (``runner.etcd.gateway``), and any other transport,
decode requests into :mod:`models.etcd` records and hand them here; this module applies etcd's
request limits (``models.etcd_wire``), routes each request to the backend without ever blocking
the event loop (a blocking backend call runs in a worker thread), and runs watch streams as
asyncio tasks: a stream applies its requests (create, cancel, progress) in arrival order, then
follows the backend's applied state, delivering events and progress notifications until the
stream is closed or the service stops. A request the backend cannot take never reaches it.
Proposals and watch streams are counted for ``/metrics`` (``runner.etcd.metrics``).

Auth: the transport puts the client's token (gRPC metadata ``token``, or the gateway's
``Authorization`` header) in :data:`REQUEST_TOKEN` for the call; the service looks it up in the
serving member's applied auth store (``invalid auth token`` if it names nobody) and hands the
request to the backend as that user, where impl/etcd checks it. As in etcd 3.4, lease
keepalive, time-to-live and list never look at the token. New passwords are hashed here before
they are proposed, and an authentication checks the password here, then proposes the token's
random prefix (:mod:`runner.etcd.auth_secrets`). The v3lock and v3election services run inside
the caller's context, so their requests carry the caller's token, as etcd's do.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final

import msgspec

from impl.etcd.auth import (
    auth_info_from_token,
    check_op,
    check_password_preconditions,
)
from impl.etcd.watch import (
    WatchStream,
    deliver,
    on_cancel,
    on_create,
    on_progress_request,
    progress_notifications,
)
from models.etcd import (
    EtcdError,
    EtcdRequest,
    EtcdResponse,
    LeaseKeepAliveRequest,
    LeaseKeepAliveResponse,
    LeaseLeasesRequest,
    LeaseTimeToLiveRequest,
    RangeRequest,
    ResponseHeader,
    WatchCreateRequest,
    WatchResponse,
)
from models.etcd_auth import (
    ERROR_AUTH_FAILED,
    ERROR_INVALID_AUTH_TOKEN,
    AnyRequest,
    AnyResponse,
    AuthenticateRequest,
    AuthInfo,
    AuthRequest,
    AuthResponse,
    UserAddRequest,
    UserChangePasswordRequest,
)
from models.etcd_decode import WatchCancel, WatchProgress, WatchStreamRequest
from models.etcd_json import to_gateway
from models.etcd_wire import check_size
from runner.etcd import auth_secrets
from runner.etcd.backend import Backend
from runner.etcd.metrics import EtcdMetrics, nominal_db_size

ETCD_VERSION: Final = "3.4.23"
ETCD_CLUSTER_VERSION: Final = "3.4.0"
WATCH_POLL_SECONDS: Final = 0.02
MAX_STREAM_POLLS: Final = 10**9

WatchSend = Callable[[WatchResponse], Awaitable[None]]
REQUEST_TOKEN: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "etcd_request_token", default=None
)
"""The auth token the current call presented (None: none), set by the transport."""
TOKEN_FREE: Final = (LeaseKeepAliveRequest, LeaseTimeToLiveRequest, LeaseLeasesRequest)
"""Requests etcd 3.4 answers without looking at the token (but a time-to-live that lists the
lease's keys, checked as etcd 3.4.26 checks it)."""
AUTHENTICATE_ATTEMPTS: Final = 5
AUTH_TOKEN_TTL_SECONDS: Final = 300.0
"""etcd's default ``--auth-token-ttl``: a simple token unused this long is forgotten."""
WATCH_ID_DENIED: Final = -1
GO_CODE_NAMES: Final = (
    "OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound",
    "AlreadyExists", "PermissionDenied", "ResourceExhausted", "FailedPrecondition", "Aborted",
    "OutOfRange", "Unimplemented", "Internal", "Unavailable", "DataLoss", "Unauthenticated",
)  # fmt: skip
"""Go's ``codes.Code`` names by number (the text of a gRPC error in Go)."""


class EtcdService:
    """The v3 API of one reference etcd (the gateway's member)."""

    def __init__(
        self,
        backend: Backend,
        progress_notify_interval_seconds: float = 0.5,
        *,
        auth_token_ttl_seconds: float = AUTH_TOKEN_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.backend = backend
        self.progress_notify_interval_seconds = progress_notify_interval_seconds
        self.auth_token_ttl_seconds = auth_token_ttl_seconds
        self.clock = clock
        self.token_used: dict[str, float] = {}
        """When each simple token was last used on this member (etcd's simpleTokenTTLKeeper,
        which each member keeps for itself: it is not replicated)."""
        self.expired: set[str] = set()
        """Tokens this member let expire (etcd deletes them from its token map)."""
        self.closing = asyncio.Event()
        self.sessions: set[_WatchSession] = set()
        self.metrics = EtcdMetrics(backend, self.watchers)

    def watchers(self) -> int:
        """The watchers of every open watch stream."""
        return sum(len(session.stream.watchers) for session in list(self.sessions))

    def caller(self) -> AuthInfo | EtcdError | None:
        """Who the current call's token names (None: it presented none). A token unused for
        the token TTL is forgotten, and every use starts its TTL again, as etcd's simple
        tokens (``--auth-token-ttl``, 300 s)."""
        token = REQUEST_TOKEN.get()
        if token is None:
            return None
        found = auth_info_from_token(self.backend.state().auth, token)
        if isinstance(found, EtcdError):
            self.token_used.pop(token, None)
            return found
        now = self.clock()
        last = self.token_used.get(token)
        idle_too_long = last is not None and now - last > self.auth_token_ttl_seconds
        if token in self.expired or idle_too_long:
            self.expired.add(token)
            self.token_used.pop(token, None)
            return ERROR_INVALID_AUTH_TOKEN
        self.token_used[token] = now
        return found

    async def unary(self, request: EtcdRequest) -> EtcdResponse | EtcdError:
        """Answer one unary request (limits first, then the caller's token, then the
        backend)."""
        error = check_size(request)
        if error is not None:
            return error
        lists_keys = isinstance(request, LeaseTimeToLiveRequest) and request.keys
        auth = None if isinstance(request, TOKEN_FREE) and not lists_keys else self.caller()
        if isinstance(auth, EtcdError):
            return auth
        if isinstance(request, RangeRequest) and request.serializable:
            return self.backend.read(request, auth)
        if isinstance(request, RangeRequest | LeaseTimeToLiveRequest | LeaseLeasesRequest):
            return _kv_answer(await asyncio.to_thread(self.backend.propose_as, request, auth))
        with self.metrics.proposing():
            response = await asyncio.to_thread(self.backend.propose_as, request, auth)
        answer = _kv_answer(response)
        self.metrics.proposed(answer)
        return answer

    async def auth(self, request: AuthRequest) -> AuthResponse | EtcdError:
        """Answer one request of the Auth service as the current call's user."""
        auth = self.caller()
        if isinstance(auth, EtcdError):
            return auth
        if isinstance(request, AuthenticateRequest):
            return await self._authenticate(request, auth)
        if isinstance(request, UserAddRequest | UserChangePasswordRequest):
            no_password = isinstance(request, UserAddRequest) and (
                request.options is not None and request.options.no_password
            )
            hashed = (
                b""
                if no_password
                else await asyncio.to_thread(auth_secrets.hash_password, request.password)
            )
            request = msgspec.structs.replace(request, password="", hashed_password=hashed)
        return _auth_answer(await self._propose(request, auth))

    async def _propose(self, request: AnyRequest, auth: AuthInfo | None) -> AnyResponse | EtcdError:
        with self.metrics.proposing():
            response = await asyncio.to_thread(self.backend.propose_as, request, auth)
        self.metrics.proposed(response)
        return response

    async def _authenticate(
        self, request: AuthenticateRequest, auth: AuthInfo | None
    ) -> AuthResponse | EtcdError:
        """etcd's ``EtcdServer.Authenticate``: check the password against the applied auth
        store, propose the token, and do it again if the auth store changed meanwhile."""
        answer: AuthResponse | EtcdError = ERROR_AUTH_FAILED
        for _ in range(AUTHENTICATE_ATTEMPTS):
            store = self.backend.state().auth
            user = check_password_preconditions(store, request.name)
            if isinstance(user, EtcdError):
                return user
            matches = await asyncio.to_thread(
                auth_secrets.password_matches, request.password, user.hashed_password
            )
            if not matches:
                return ERROR_AUTH_FAILED
            proposal = AuthenticateRequest(
                name=request.name, simple_token=auth_secrets.token_prefix()
            )
            answer = _auth_answer(await self._propose(proposal, auth))
            if isinstance(answer, AuthResponse):
                self.token_used[answer.token] = self.clock()
            if (
                isinstance(answer, EtcdError)
                or self.backend.state().auth.revision == store.revision
            ):
                return answer
        return answer

    async def keepalive(self, request: LeaseKeepAliveRequest) -> LeaseKeepAliveResponse:
        """Renew a lease (an unknown lease answers TTL 0, as etcd does)."""
        response = await self.unary(request)
        if isinstance(response, EtcdError):
            return LeaseKeepAliveResponse(header=ResponseHeader(), ID=request.ID, TTL=0)
        assert isinstance(response, LeaseKeepAliveResponse)
        return response

    def header(self, revision: int) -> ResponseHeader:
        return self.backend.header(revision)

    def encode(self, response: AnyResponse | WatchResponse) -> dict[str, Any]:
        """A response as the gateway's JSON, with this member's header at its revision."""
        encoded = to_gateway(response)
        encoded["header"] = to_gateway(self.header(response.header.revision))
        return encoded

    def status(self) -> tuple[int, dict[str, Any]]:
        """``/v3/maintenance/status``: the revision for its header, and its fields (the
        backend's Raft figures, a nominal database size)."""
        state = self.backend.state()
        size = str(nominal_db_size(state))
        fields = {"version": ETCD_VERSION, "dbSize": size, "dbSizeInUse": size}
        return state.revision, {**fields, **self.backend.status()}

    def healthy(self) -> bool:
        """etcd's ``/health``: true while a leader is known."""
        return self.backend.status().get("leader", "0") != "0"

    async def watch(
        self,
        incoming: asyncio.Queue[WatchStreamRequest | None],
        send: WatchSend,
        stop: asyncio.Event,
    ) -> None:
        """Run one watch stream until ``incoming`` yields None (the client closed its side) and
        no watcher is left, ``stop`` is set (the client went away), or the service stops."""
        session = _WatchSession(self, send)
        self.sessions.add(session)
        try:
            await session.run(incoming, stop)
        finally:
            self.sessions.discard(session)


def _kv_answer(response: AnyResponse | EtcdError) -> EtcdResponse | EtcdError:
    assert not isinstance(response, AuthResponse), "a KV or lease request has no auth answer"
    return response


def _auth_answer(response: AnyResponse | EtcdError) -> AuthResponse | EtcdError:
    assert isinstance(response, AuthResponse | EtcdError), "an auth request has an auth answer"
    return response


class _WatchSession:
    def __init__(self, service: EtcdService, send: WatchSend) -> None:
        self.service = service
        self.send = send
        self.stream = WatchStream()
        self.body_open = True

    def refused(self, request: WatchCreateRequest) -> WatchResponse | None:
        """etcd's ``isWatchPermitted``: a watch on a range the caller may not read is answered
        created and cancelled at once, with watch ID -1 and the reason (the gRPC error's text,
        ``rpc error: code = PermissionDenied desc = etcdserver: permission denied``)."""
        state = self.service.backend.state()
        caller = self.service.caller()
        if isinstance(caller, EtcdError):
            refused: EtcdError | None = caller
        else:
            key = request.key or b"\x00"
            refused = check_op(state.auth, caller, key, request.range_end, write=False)
        if refused is None:
            return None
        # etcd puts the gRPC error's Go text in the reason.
        reason = f"rpc error: code = {GO_CODE_NAMES[refused.code]} desc = {refused.message}"
        return WatchResponse(
            header=ResponseHeader(revision=state.revision),
            watch_id=WATCH_ID_DENIED,
            created=True,
            canceled=True,
            cancel_reason=reason,
        )

    async def _emit(self, responses: tuple[WatchResponse, ...]) -> None:
        for response in responses:
            await self.send(response)

    async def apply(self, request: WatchStreamRequest) -> None:
        state = self.service.backend.state()
        if isinstance(request, WatchCreateRequest):
            denied = self.refused(request)
            if denied is not None:
                await self.send(denied)
                return
            self.stream, responses = on_create(state, self.stream, request)
        elif isinstance(request, WatchCancel):
            self.stream, responses = on_cancel(state, self.stream, request.watch_id)
        elif isinstance(request, WatchProgress):
            self.stream, responses = on_progress_request(state, self.stream)
        else:
            return
        await self._emit(responses)

    async def drain(self, incoming: asyncio.Queue[WatchStreamRequest | None]) -> None:
        while not incoming.empty():
            request = incoming.get_nowait()
            if request is None:
                self.body_open = False
                return
            await self.apply(request)

    async def run(
        self, incoming: asyncio.Queue[WatchStreamRequest | None], stop: asyncio.Event
    ) -> None:
        interval = self.service.progress_notify_interval_seconds
        next_progress = time.monotonic() + interval
        for _ in range(MAX_STREAM_POLLS):
            await self.drain(incoming)
            state = self.service.backend.state()
            self.stream, responses = deliver(state, self.stream)
            await self._emit(responses)
            if time.monotonic() >= next_progress:
                await self._emit(progress_notifications(state, self.stream))
                next_progress = time.monotonic() + interval
            finished = not self.body_open and not self.stream.watchers
            if finished or stop.is_set() or self.service.closing.is_set():
                return
            await asyncio.sleep(WATCH_POLL_SECONDS)
