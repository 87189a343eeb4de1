"""Registers etcd's servicers on a grpcio server so that bad messages get etcd's answers.

Theory of operation. grpcio's generated registration parses each request before the servicer
sees it, and words its failures its own way (a corrupt message is ``Unknown`` with a Python
parse error, an unknown method ``Method not found!``). etcd runs on Go's gRPC, whose answers are
the ones etcd's clients know, so this module registers every method of a service described by
its protobuf descriptor with raw-bytes framing and does the parsing itself, as Go's gRPC does:
a message over the limit is ``ResourceExhausted`` ``grpc: received message larger than max
(N vs. LIMIT)``, one that does not parse is ``Internal`` ``grpc: error unmarshalling request:
...``, and a method or service nobody registered is ``Unimplemented`` ``unknown method M for
service S`` / ``unknown service S``. Only then does the method's behaviour run.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Final, NoReturn

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.message import DecodeError, Message

from models.etcd_wire import MAX_GRPC_MESSAGE_BYTES
from runner.etcd.service import REQUEST_TOKEN

Context = grpc.aio.ServicerContext[Any, Any]
Behaviour = Callable[..., Any]
"""A method's implementation: ``async (request, context) -> answer`` for a unary method, an
async generator of answers for a server stream; a client stream gets an async iterator of
requests instead of one."""
TRANSPORT_LIMIT_BYTES: Final = 4 * MAX_GRPC_MESSAGE_BYTES
"""grpcio's own receive limit: messages between etcd's limit and this one are refused here with
Go's words; larger ones by grpcio, before they are buffered (its wording)."""


async def _refuse(context: Context, code: grpc.StatusCode, message: str) -> NoReturn:
    await context.abort(code, message)
    raise AssertionError("abort returned")  # pragma: no cover (abort always raises)


async def parse(message_type: type[Message], data: bytes, context: Context) -> Message:
    """One request message, or etcd's (Go gRPC's) refusal of it."""
    if len(data) > MAX_GRPC_MESSAGE_BYTES:
        await _refuse(
            context,
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            f"grpc: received message larger than max ({len(data)} vs. {MAX_GRPC_MESSAGE_BYTES})",
        )
    try:
        return message_type.FromString(data)
    except DecodeError as error:
        await _refuse(
            context, grpc.StatusCode.INTERNAL, f"grpc: error unmarshalling request: {error}"
        )


def _message_class(method: MethodDescriptor) -> type[Message]:
    return message_factory.GetMessageClass(method.input_type)


def _serialize(message: Message) -> bytes:
    return message.SerializeToString()


def _take_token(context: Context) -> None:
    """Put the call's auth token in its context (etcd reads metadata ``token``, then
    ``authorization``)."""
    metadata = dict(context.invocation_metadata() or ())
    token = metadata.get("token", metadata.get("authorization"))
    REQUEST_TOKEN.set(token if isinstance(token, str) else None)


def _unary(behaviour: Callable[..., Any], request_type: type[Message]) -> Callable[..., Any]:
    async def handle(data: bytes, context: Context) -> Any:
        _take_token(context)
        return await behaviour(await parse(request_type, data, context), context)

    return handle


def _streamed_requests(
    request_type: type[Message], raw: AsyncIterator[bytes], context: Context
) -> AsyncIterator[Message]:
    async def requests() -> AsyncIterator[Message]:
        async for data in raw:
            yield await parse(request_type, data, context)

    return requests()


def _stream_in(behaviour: Callable[..., Any], request_type: type[Message]) -> Callable[..., Any]:
    async def handle(raw: AsyncIterator[bytes], context: Context) -> AsyncIterator[Any]:
        _take_token(context)
        async for response in behaviour(_streamed_requests(request_type, raw, context), context):
            yield response

    return handle


def _stream_out(behaviour: Callable[..., Any], request_type: type[Message]) -> Callable[..., Any]:
    async def handle(data: bytes, context: Context) -> AsyncIterator[Any]:
        _take_token(context)
        async for response in behaviour(await parse(request_type, data, context), context):
            yield response

    return handle


def _not_served(method: MethodDescriptor) -> Behaviour:
    """A method etcd serves and the reference does not."""
    text = f"kubeoracle: {method.name} is not served by the reference"

    async def refuse(request: Any, context: Context) -> Any:
        del request
        await _refuse(context, grpc.StatusCode.UNIMPLEMENTED, text)

    async def refuse_stream(request: Any, context: Context) -> AsyncIterator[Any]:
        await refuse(request, context)
        yield None  # pragma: no cover (never reached)

    return refuse_stream if method.server_streaming else refuse


def _handler(
    behaviours: Mapping[str, Behaviour], method: MethodDescriptor
) -> grpc.RpcMethodHandler[Any, Any]:
    behaviour = behaviours.get(method.name) or _not_served(method)
    request_type = _message_class(method)
    if method.client_streaming and method.server_streaming:
        return grpc.stream_stream_rpc_method_handler(
            _stream_in(behaviour, request_type), response_serializer=_serialize
        )
    if method.server_streaming:
        return grpc.unary_stream_rpc_method_handler(
            _stream_out(behaviour, request_type), response_serializer=_serialize
        )
    assert not method.client_streaming, "etcd has no client-streaming-only method"
    return grpc.unary_unary_rpc_method_handler(
        _unary(behaviour, request_type), response_serializer=_serialize
    )


def service_handler(
    service: ServiceDescriptor, behaviours: Mapping[str, Behaviour]
) -> grpc.GenericRpcHandler:
    """Every method of ``service``: the behaviour of its name, or Unimplemented (``kubeoracle:
    M is not served by the reference``) for a method the reference does not serve."""
    return grpc.method_handlers_generic_handler(
        service.full_name,
        {method.name: _handler(behaviours, method) for method in service.methods},
    )


class UnknownMethods(grpc.GenericRpcHandler):
    """The last handler: whatever no service took, answered as Go's gRPC answers it."""

    def __init__(self, services: frozenset[str]) -> None:
        self.services = services

    def service(
        self, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        path: str = handler_call_details.method
        service, _, method = path.lstrip("/").rpartition("/")
        if service in self.services:
            text = f"unknown method {method} for service {service}"
        else:
            text = f"unknown service {service or path}"

        async def refuse(request: bytes, context: Context) -> bytes:
            del request
            await _refuse(context, grpc.StatusCode.UNIMPLEMENTED, text)

        return grpc.unary_unary_rpc_method_handler(refuse)
