"""Translation between etcd's protobuf messages (``runner.etcd.etcdpb``) and :mod:`models.etcd`.

Theory of operation. A protobuf message's canonical JSON form (proto field names, int64 as
strings, bytes as base64, enums by name) is exactly what etcd's JSON gateway accepts, so a
request is turned into that form and decoded by the gateway's own strict decoder
(:mod:`models.etcd_decode`); a response is encoded by the gateway's encoder
(:mod:`models.etcd_json`) and parsed into the protobuf response. The two transports therefore
share one decoding and one encoding of every field, and differ only in framing.
"""

from __future__ import annotations

from typing import Any, Final, TypeVar

import grpc
from google.protobuf import json_format
from google.protobuf.message import Message
from returns.result import Result

from models.etcd import EtcdError
from models.etcd_decode import WatchStreamRequest, decode_request, decode_watch_request

T = TypeVar("T")
M = TypeVar("M", bound=Message)

STATUS_FOR_CODE: Final[dict[int, grpc.StatusCode]] = {
    status.value[0]: status for status in grpc.StatusCode
}


def as_json(message: Message) -> dict[str, Any]:
    """A protobuf message in its canonical JSON form, with proto field names."""
    data: dict[str, Any] = json_format.MessageToDict(message, preserving_proto_field_name=True)
    return data


def decode(message: Message, record_type: type[T]) -> Result[T, EtcdError]:
    """A request message as its :mod:`models.etcd` record, refused as the gateway refuses it."""
    return decode_request(as_json(message), record_type)


def decode_watch(message: Message) -> Result[WatchStreamRequest, EtcdError]:
    """One ``WatchRequest`` of a watch stream (None when it sets none of its requests)."""
    return decode_watch_request(as_json(message))


def encode(data: dict[str, Any], message: M) -> M:
    """The gateway's JSON of a response, parsed into ``message``."""
    json_format.ParseDict(data, message)
    return message


def status_code(error: EtcdError) -> grpc.StatusCode:
    """The gRPC status of an etcd error (Unknown for a code gRPC does not define)."""
    return STATUS_FOR_CODE.get(error.code, grpc.StatusCode.UNKNOWN)
