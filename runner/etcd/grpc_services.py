"""etcd 3.4's v3 gRPC services (KV, Watch, Lease, Cluster, Maintenance) over EtcdService.

Theory of operation. Each servicer method decodes its protobuf request with
:mod:`runner.etcd.grpc_codec` (the gateway's strict decoder), hands the record to the same
:class:`~runner.etcd.service.EtcdService` the JSON gateway uses, and encodes the answer; an
etcd error becomes the gRPC status etcd answers with (``etcdserver: ...`` messages, the code
of :class:`models.etcd.EtcdError`). Streams (Watch, LeaseKeepAlive) read their requests in a
task while the service writes answers. Only the member list and the status of the
Maintenance service are served from Cluster and Maintenance; every other method of those
services, and Auth, answers Unimplemented. The v3lock and v3election services are
:mod:`runner.etcd.recipe_services`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, Final, NoReturn

import grpc
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
from models.etcd_decode import WatchStreamRequest
from models.etcd_json import to_gateway
from runner.etcd import grpc_codec, grpc_registry
from runner.etcd.etcdpb import rpc_pb2, rpc_pb2_grpc
from runner.etcd.recipe_services import recipe_handlers
from runner.etcd.service import EtcdService

Context = grpc.aio.ServicerContext[Any, Any]
MAX_STREAM_REQUESTS_QUEUED: Final = 1000


async def _abort(context: Context, error: EtcdError) -> NoReturn:
    await context.abort(grpc_codec.status_code(error), error.message)
    raise AssertionError("abort returned")  # pragma: no cover (abort always raises)


async def _unimplemented(context: Context, method: str) -> NoReturn:
    """A method etcd serves and the reference does not."""
    await context.abort(
        grpc.StatusCode.UNIMPLEMENTED, f"kubeoracle: {method} is not served by the reference"
    )
    raise AssertionError("abort returned")  # pragma: no cover


async def _answer(
    service: EtcdService, context: Context, request: EtcdRequest, response_message: Any
) -> Any:
    response = await service.unary(request)
    if isinstance(response, EtcdError):
        await _abort(context, response)
    return grpc_codec.encode(service.encode(response), response_message)


async def _unary(
    service: EtcdService,
    context: Context,
    message: Any,
    record_type: type[EtcdRequest],
    response_message: Any,
) -> Any:
    match grpc_codec.decode(message, record_type):
        case Failure(error):
            await _abort(context, error)
        case Success(request):
            return await _answer(service, context, request, response_message)
    raise AssertionError("unreachable")  # pragma: no cover


class KV(rpc_pb2_grpc.KVServicer):
    """``etcdserverpb.KV``."""

    def __init__(self, service: EtcdService) -> None:
        self.service = service

    async def Range(self, request: rpc_pb2.RangeRequest, context: Context) -> rpc_pb2.RangeResponse:
        answer: rpc_pb2.RangeResponse = await _unary(
            self.service, context, request, RangeRequest, rpc_pb2.RangeResponse()
        )
        return answer

    async def Put(self, request: rpc_pb2.PutRequest, context: Context) -> rpc_pb2.PutResponse:
        answer: rpc_pb2.PutResponse = await _unary(
            self.service, context, request, PutRequest, rpc_pb2.PutResponse()
        )
        return answer

    async def DeleteRange(
        self, request: rpc_pb2.DeleteRangeRequest, context: Context
    ) -> rpc_pb2.DeleteRangeResponse:
        answer: rpc_pb2.DeleteRangeResponse = await _unary(
            self.service, context, request, DeleteRangeRequest, rpc_pb2.DeleteRangeResponse()
        )
        return answer

    async def Txn(self, request: rpc_pb2.TxnRequest, context: Context) -> rpc_pb2.TxnResponse:
        answer: rpc_pb2.TxnResponse = await _unary(
            self.service, context, request, TxnRequest, rpc_pb2.TxnResponse()
        )
        return answer

    async def Compact(
        self, request: rpc_pb2.CompactionRequest, context: Context
    ) -> rpc_pb2.CompactionResponse:
        answer: rpc_pb2.CompactionResponse = await _unary(
            self.service, context, request, CompactionRequest, rpc_pb2.CompactionResponse()
        )
        return answer


class Lease(rpc_pb2_grpc.LeaseServicer):
    """``etcdserverpb.Lease``."""

    def __init__(self, service: EtcdService) -> None:
        self.service = service

    async def LeaseGrant(
        self, request: rpc_pb2.LeaseGrantRequest, context: Context
    ) -> rpc_pb2.LeaseGrantResponse:
        answer: rpc_pb2.LeaseGrantResponse = await _unary(
            self.service, context, request, LeaseGrantRequest, rpc_pb2.LeaseGrantResponse()
        )
        return answer

    async def LeaseRevoke(
        self, request: rpc_pb2.LeaseRevokeRequest, context: Context
    ) -> rpc_pb2.LeaseRevokeResponse:
        answer: rpc_pb2.LeaseRevokeResponse = await _unary(
            self.service, context, request, LeaseRevokeRequest, rpc_pb2.LeaseRevokeResponse()
        )
        return answer

    async def LeaseTimeToLive(
        self, request: rpc_pb2.LeaseTimeToLiveRequest, context: Context
    ) -> rpc_pb2.LeaseTimeToLiveResponse:
        answer: rpc_pb2.LeaseTimeToLiveResponse = await _unary(
            self.service,
            context,
            request,
            LeaseTimeToLiveRequest,
            rpc_pb2.LeaseTimeToLiveResponse(),
        )
        return answer

    async def LeaseLeases(
        self, request: rpc_pb2.LeaseLeasesRequest, context: Context
    ) -> rpc_pb2.LeaseLeasesResponse:
        answer: rpc_pb2.LeaseLeasesResponse = await _unary(
            self.service, context, request, LeaseLeasesRequest, rpc_pb2.LeaseLeasesResponse()
        )
        return answer

    async def LeaseKeepAlive(
        self,
        request_iterator: Any,
        context: Context,
    ) -> AsyncIterator[rpc_pb2.LeaseKeepAliveResponse]:
        async for message in request_iterator:
            match grpc_codec.decode(message, LeaseKeepAliveRequest):
                case Failure(error):
                    await _abort(context, error)
                case Success(request):
                    response = await self.service.keepalive(request)
                    yield grpc_codec.encode(
                        self.service.encode(response), rpc_pb2.LeaseKeepAliveResponse()
                    )


class Watch(rpc_pb2_grpc.WatchServicer):
    """``etcdserverpb.Watch``: one service watch session per stream."""

    def __init__(self, service: EtcdService) -> None:
        self.service = service

    async def Watch(
        self,
        request_iterator: Any,
        context: Context,
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
                await self.service.watch(incoming, send, stop)
            finally:
                await outgoing.put(None)

        reader = asyncio.create_task(read())
        runner = asyncio.create_task(run())
        try:
            while (response := await outgoing.get()) is not None:
                yield grpc_codec.encode(self.service.encode(response), rpc_pb2.WatchResponse())
            if refused:
                await _abort(context, refused[0])
        finally:
            stop.set()
            for task in (reader, runner):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, grpc.RpcError):
                    await task


class Cluster(rpc_pb2_grpc.ClusterServicer):
    """``etcdserverpb.Cluster``: the member list (membership changes are not served)."""

    def __init__(self, service: EtcdService, client_url: str) -> None:
        self.service = service
        self.client_url = client_url

    async def MemberList(
        self, request: rpc_pb2.MemberListRequest, context: Context
    ) -> rpc_pb2.MemberListResponse:
        del request, context
        backend = self.service.backend
        members = []
        for index, member_id in enumerate(backend.member_ids):
            served = member_id == backend.member_id
            members.append(
                rpc_pb2.Member(
                    ID=member_id,
                    name=f"member-{index + 1}",
                    peerURLs=[f"http://member-{index + 1}:2380"],
                    clientURLs=[self.client_url] if served else [],
                )
            )
        header = self.service.header(backend.state().revision)
        answer = rpc_pb2.MemberListResponse(members=members)
        answer.header.CopyFrom(grpc_codec.encode(to_gateway(header), rpc_pb2.ResponseHeader()))
        return answer

    async def MemberAdd(
        self, request: rpc_pb2.MemberAddRequest, context: Context
    ) -> rpc_pb2.MemberAddResponse:
        return await _unimplemented(context, "MemberAdd")

    async def MemberRemove(
        self, request: rpc_pb2.MemberRemoveRequest, context: Context
    ) -> rpc_pb2.MemberRemoveResponse:
        return await _unimplemented(context, "MemberRemove")

    async def MemberUpdate(
        self, request: rpc_pb2.MemberUpdateRequest, context: Context
    ) -> rpc_pb2.MemberUpdateResponse:
        return await _unimplemented(context, "MemberUpdate")

    async def MemberPromote(
        self, request: rpc_pb2.MemberPromoteRequest, context: Context
    ) -> rpc_pb2.MemberPromoteResponse:
        return await _unimplemented(context, "MemberPromote")


class Maintenance(rpc_pb2_grpc.MaintenanceServicer):
    """``etcdserverpb.Maintenance``: the member's status."""

    def __init__(self, service: EtcdService) -> None:
        self.service = service

    async def Status(
        self, request: rpc_pb2.StatusRequest, context: Context
    ) -> rpc_pb2.StatusResponse:
        del request, context
        revision, fields = self.service.status()
        payload = {"header": to_gateway(self.service.header(revision)), **fields}
        return grpc_codec.encode(payload, rpc_pb2.StatusResponse())

    async def Alarm(self, request: rpc_pb2.AlarmRequest, context: Context) -> rpc_pb2.AlarmResponse:
        return await _unimplemented(context, "Alarm")

    async def Defragment(
        self, request: rpc_pb2.DefragmentRequest, context: Context
    ) -> rpc_pb2.DefragmentResponse:
        return await _unimplemented(context, "Defragment")

    async def Hash(self, request: rpc_pb2.HashRequest, context: Context) -> rpc_pb2.HashResponse:
        return await _unimplemented(context, "Hash")

    async def HashKV(
        self, request: rpc_pb2.HashKVRequest, context: Context
    ) -> rpc_pb2.HashKVResponse:
        return await _unimplemented(context, "HashKV")

    async def Snapshot(
        self, request: rpc_pb2.SnapshotRequest, context: Context
    ) -> AsyncIterator[rpc_pb2.SnapshotResponse]:
        await _unimplemented(context, "Snapshot")
        yield rpc_pb2.SnapshotResponse()  # pragma: no cover (never reached)

    async def MoveLeader(
        self, request: rpc_pb2.MoveLeaderRequest, context: Context
    ) -> rpc_pb2.MoveLeaderResponse:
        return await _unimplemented(context, "MoveLeader")


def add_services(server: grpc.aio.Server, service: EtcdService, client_url: str) -> None:
    """Register every served etcd service on ``server``, with Go gRPC's answers to requests
    that do not parse and to methods nobody serves (:mod:`runner.etcd.grpc_registry`)."""
    servicers: dict[str, object] = {
        "KV": KV(service),
        "Watch": Watch(service),
        "Lease": Lease(service),
        "Cluster": Cluster(service, client_url),
        "Maintenance": Maintenance(service),
    }
    services = rpc_pb2.DESCRIPTOR.services_by_name
    handlers = [
        grpc_registry.service_handler(services[name], servicer)
        for name, servicer in servicers.items()
    ]
    names = frozenset(services[name].full_name for name in servicers)
    recipes, recipe_names = recipe_handlers(service)
    server.add_generic_rpc_handlers(
        [*handlers, *recipes, grpc_registry.UnknownMethods(names | recipe_names)]
    )
