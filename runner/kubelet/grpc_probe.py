"""The kubelet's gRPC probe (``pkg/probe/grpc`` in v1.35) with grpcio: one
``grpc.health.v1.Health/Check`` call.

It dials ``host:port`` over an insecure channel with the user agent ``kube-probe/<major.minor>``
and waits at most ``timeout`` seconds for the connection, then calls Check with the probe's
``service`` ("" when unset: the server's overall health) within the same timeout. Only the
answer SERVING is a success; a connection that does not come up, UNIMPLEMENTED (the server does
not implement the health protocol), an exceeded deadline, any other error or any other status
is a failure. ``outcome`` says which, in the kubelet's words.
"""

from __future__ import annotations

from typing import Final

import grpc
from grpc_health.v1 import health_pb2

from models.kubernetes_version import KUBERNETES_MAJOR, KUBERNETES_MINOR

CHECK: Final = "/grpc.health.v1.Health/Check"
USER_AGENT: Final = f"kube-probe/{KUBERNETES_MAJOR}.{KUBERNETES_MINOR}"


def outcome(host: str, port: int, service: str, timeout: float) -> tuple[bool, str]:
    """Success, and the kubelet's message for a failure ("" on success)."""
    target = f"{host}:{port}"
    options = [("grpc.primary_user_agent", USER_AGENT)]
    with grpc.insecure_channel(target, options=options) as channel:
        try:
            grpc.channel_ready_future(channel).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            return False, (f"timeout: failed to connect service {target!r} within {timeout:g}s")
        check = channel.unary_unary(
            CHECK,
            request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
            response_deserializer=health_pb2.HealthCheckResponse.FromString,
        )
        try:
            answer = check(health_pb2.HealthCheckRequest(service=service), timeout=timeout)
        except grpc.RpcError as error:
            code = error.code() if isinstance(error, grpc.Call) else None
            if code == grpc.StatusCode.UNIMPLEMENTED:
                return False, (
                    "this server does not implement the grpc health protocol "
                    "(grpc.health.v1.Health)"
                )
            if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                return False, f"timeout: health rpc did not complete within {timeout:g}s"
            return False, f"error: health rpc probe failed: {code}"
    if answer.status != health_pb2.HealthCheckResponse.SERVING:
        name = health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)
        return False, f"service unhealthy (responded with {name!r})"
    return True, ""


def check(host: str, port: int, service: str, timeout: float) -> bool:
    return outcome(host, port, service, timeout)[0]
