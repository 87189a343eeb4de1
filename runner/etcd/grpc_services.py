"""etcd 3.4's v3 gRPC services (KV, Watch, Lease, Cluster, Maintenance) over EtcdService.

Theory of operation. Each method is a behaviour (an async function of the parsed request and
the call's context) registered by :mod:`runner.etcd.grpc_registry`. A unary method of
:data:`UNARY_METHODS` decodes its protobuf request with :mod:`runner.etcd.grpc_codec` (the
gateway's strict decoder), hands the record to the same :class:`~runner.etcd.service.
EtcdService` the JSON gateway uses, and encodes the answer; an etcd error becomes the gRPC
status etcd answers with (``etcdserver: ...`` messages, the code of
:class:`models.etcd.EtcdError`). Streams (Watch, LeaseKeepAlive) read their requests in a task
while the service writes answers. Of Cluster and Maintenance only the member list and the
status are served; their other methods answer Unimplemented. Auth is served whole
(:data:`models.etcd_auth.AUTH_METHODS`). The caller's token (metadata ``token``, or
``authorization``) is put in the call's context by :mod:`runner.etcd.grpc_registry`. The
v3lock and v3election services are :mod:`runner.etcd.recipe_services`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, Final, NoReturn

import grpc
from google.protobuf.message import Message
from returns.result import Failure, Success

from models.etcd import (
    CompactionRequest,
    DeleteRangeRequest,
    EtcdError,
    EtcdRequest,
    LeaseGrantRequest,
    LeaseKeepAliveRequest,
    LeaseLeasesRequest,
    LeaseRevokeRequest,
    LeaseTimeToLiveRequest,
    PutRequest,
    RangeRequest,
    TxnRequest,
    WatchResponse,
)
from models.etcd_auth import AUTH_METHODS, AuthRequest
from models.etcd_decode import WatchStreamRequest
from models.etcd_json import to_gateway
from runner.etcd import grpc_codec, grpc_registry
from runner.etcd.etcdpb import rpc_pb2
from runner.etcd.grpc_registry import Behaviour
from runner.etcd.recipe_services import recipe_handlers
from runner.etcd.service import EtcdService

Context = grpc.aio.ServicerContext[Any, Any]
MAX_STREAM_REQUESTS_QUEUED: Final = 1000


async def _abort(context: Context, error: EtcdError) -> NoReturn:
    await context.abort(grpc_codec.status_code(error), error.message)
    raise AssertionError("abort returned")  # pragma: no cover (abort always raises)


UNARY_METHODS: Final[dict[tuple[str, str], tuple[type[EtcdRequest], type[Message]]]] = {
    ("KV", "Range"): (RangeRequest, rpc_pb2.RangeResponse),
    ("KV", "Put"): (PutRequest, rpc_pb2.PutResponse),
    ("KV", "DeleteRange"): (DeleteRangeRequest, rpc_pb2.DeleteRangeResponse),
    ("KV", "Txn"): (TxnRequest, rpc_pb2.TxnResponse),
    ("KV", "Compact"): (CompactionRequest, rpc_pb2.CompactionResponse),
    ("Lease", "LeaseGrant"): (LeaseGrantRequest, rpc_pb2.LeaseGrantResponse),
    ("Lease", "LeaseRevoke"): (LeaseRevokeRequest, rpc_pb2.LeaseRevokeResponse),
    ("Lease", "LeaseTimeToLive"): (LeaseTimeToLiveRequest, rpc_pb2.LeaseTimeToLiveResponse),
    ("Lease", "LeaseLeases"): (LeaseLeasesRequest, rpc_pb2.LeaseLeasesResponse),
}
"""The unary methods that are one service request each: the record the request decodes to,
and the protobuf answer."""


def unary_behaviour(
    service: EtcdService, record_type: type[EtcdRequest], response_type: type[Message]
) -> Behaviour:
    """A unary method: decode, ask the service, encode (or answer etcd's error)."""

    async def behaviour(message: Message, context: Context) -> Message:
        match grpc_codec.decode(message, record_type):
            case Failure(error):
                await _abort(context, error)
            case Success(request):
                response = await service.unary(request)
                if isinstance(response, EtcdError):
                    await _abort(context, response)
                return grpc_codec.encode(service.encode(response), response_type())
        raise AssertionError("unreachable")  # pragma: no cover

    return behaviour


def auth_behaviour(
    service: EtcdService, record_type: type[AuthRequest], response_type: type[Message]
) -> Behaviour:
    """An Auth method: decode, ask the service as the caller, encode (or answer the error)."""

    async def behaviour(message: Message, context: Context) -> Message:
        match grpc_codec.decode(message, record_type):
            case Failure(error):
                await _abort(context, error)
            case Success(request):
                response = await service.auth(request)
                if isinstance(response, EtcdError):
                    await _abort(context, response)
                return grpc_codec.encode(service.encode(response), response_type())
        raise AssertionError("unreachable")  # pragma: no cover

    return behaviour


def lease_keepalive(service: EtcdService) -> Behaviour:
    """``Lease.LeaseKeepAlive``: one answer per renewal, in order."""

    async def behaviour(
        request_iterator: AsyncIterator[Message], context: Context
    ) -> AsyncIterator[rpc_pb2.LeaseKeepAliveResponse]:
        async for message in request_iterator:
            match grpc_codec.decode(message, LeaseKeepAliveRequest):
                case Failure(error):
                    await _abort(context, error)
                case Success(request):
                    response = await service.keepalive(request)
                    yield grpc_codec.encode(
                        service.encode(response), rpc_pb2.LeaseKeepAliveResponse()
                    )

    return behaviour


def watch(service: EtcdService) -> Behaviour:
    """``Watch.Watch``: one service watch session per stream."""

    async def behaviour(
        request_iterator: AsyncIterator[Message], context: Context
    ) -> AsyncIterator[rpc_pb2.WatchResponse]:
        incoming: asyncio.Queue[WatchStreamRequest | None] = asyncio.Queue(
            maxsize=MAX_STREAM_REQUESTS_QUEUED
        )
        outgoing: asyncio.Queue[WatchResponse | None] = asyncio.Queue()
        stop = asyncio.Event()
        refused: list[EtcdError] = []

        async def read() -> None:
            try:
                async for message in request_iterator:
                    match grpc_codec.decode_watch(message):
                        case Failure(error):
                            refused.append(error)
                            stop.set()
                            return
                        case Success(request):
                            if request is not None:
                                await incoming.put(request)
            except (grpc.RpcError, asyncio.CancelledError):
                stop.set()
                raise
            await incoming.put(None)

        async def send(response: WatchResponse) -> None:
            await outgoing.put(response)

        async def run() -> None:
            try:
                await service.watch(incoming, send, stop)
            finally:
                await outgoing.put(None)

        reader = asyncio.create_task(read())
        runner = asyncio.create_task(run())
        try:
            while (response := await outgoing.get()) is not None:
                yield grpc_codec.encode(service.encode(response), rpc_pb2.WatchResponse())
            if refused:
                await _abort(context, refused[0])
        finally:
            stop.set()
            for task in (reader, runner):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, grpc.RpcError):
                    await task

    return behaviour


def _header(service: EtcdService, revision: int) -> rpc_pb2.ResponseHeader:
    return grpc_codec.encode(to_gateway(service.header(revision)), rpc_pb2.ResponseHeader())


def member_list(service: EtcdService, client_url: str) -> Behaviour:
    """``Cluster.MemberList``: every member; the served one has ``client_url``."""

    async def behaviour(message: Message, context: Context) -> rpc_pb2.MemberListResponse:
        del message, context
        backend = service.backend
        members = [
            rpc_pb2.Member(
                ID=member_id,
                name=f"member-{index + 1}",
                peerURLs=[f"http://member-{index + 1}:2380"],
                clientURLs=[client_url] if member_id == backend.member_id else [],
            )
            for index, member_id in enumerate(backend.member_ids)
        ]
        answer = rpc_pb2.MemberListResponse(members=members)
        answer.header.CopyFrom(_header(service, backend.state().revision))
        return answer

    return behaviour


def status(service: EtcdService) -> Behaviour:
    """``Maintenance.Status``: the member's status, as the gateway's ``/v3/maintenance/status``."""

    async def behaviour(message: Message, context: Context) -> rpc_pb2.StatusResponse:
        del message, context
        revision, fields = service.status()
        payload = {"header": to_gateway(service.header(revision)), **fields}
        return grpc_codec.encode(payload, rpc_pb2.StatusResponse())

    return behaviour


def add_services(server: grpc.aio.Server, service: EtcdService, client_url: str) -> None:
    """Register every served etcd service on ``server``, with Go gRPC's answers to requests
    that do not parse and to methods nobody serves (:mod:`runner.etcd.grpc_registry`)."""
    behaviours: dict[str, dict[str, Behaviour]] = {
        "KV": {},
        "Lease": {"LeaseKeepAlive": lease_keepalive(service)},
        "Watch": {"Watch": watch(service)},
        "Cluster": {"MemberList": member_list(service, client_url)},
        "Maintenance": {"Status": status(service)},
        "Auth": {
            method: auth_behaviour(service, record_type, getattr(rpc_pb2, response_name))
            for method, _, record_type, response_name in AUTH_METHODS
        },
    }
    for (service_name, method), (record_type, response_type) in UNARY_METHODS.items():
        behaviours[service_name][method] = unary_behaviour(service, record_type, response_type)
    services = rpc_pb2.DESCRIPTOR.services_by_name
    handlers = [
        grpc_registry.service_handler(services[name], methods)
        for name, methods in behaviours.items()
    ]
    names = frozenset(services[name].full_name for name in behaviours)
    recipes, recipe_names = recipe_handlers(service)
    server.add_generic_rpc_handlers(
        [*handlers, *recipes, grpc_registry.UnknownMethods(names | recipe_names)]
    )
