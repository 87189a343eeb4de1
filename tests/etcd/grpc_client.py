"""A served reference etcd and gRPC stubs on its port, for the gRPC tests."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import grpc

from runner.etcd.backend import make_backend
from runner.etcd.etcdpb import rpc_pb2_grpc
from runner.etcd.server import GatewayServer, start_in_thread


@dataclass(frozen=True)
class Stubs:
    url: str
    channel: grpc.Channel
    kv: rpc_pb2_grpc.KVStub
    watch: rpc_pb2_grpc.WatchStub
    lease: rpc_pb2_grpc.LeaseStub
    cluster: rpc_pb2_grpc.ClusterStub
    maintenance: rpc_pb2_grpc.MaintenanceStub


@contextlib.contextmanager
def served(members: int = 0) -> Iterator[Stubs]:
    """``serve etcd`` in-process on a free port, and stubs connected to that port."""
    server = GatewayServer(("127.0.0.1", 0), make_backend(members))
    thread = start_in_thread(server)
    host, port = server.server_address
    channel = grpc.insecure_channel(f"{host}:{port}")
    try:
        yield Stubs(
            url=server.url,
            channel=channel,
            kv=rpc_pb2_grpc.KVStub(channel),
            watch=rpc_pb2_grpc.WatchStub(channel),
            lease=rpc_pb2_grpc.LeaseStub(channel),
            cluster=rpc_pb2_grpc.ClusterStub(channel),
            maintenance=rpc_pb2_grpc.MaintenanceStub(channel),
        )
    finally:
        channel.close()
        server.close()
        thread.join(timeout=5)
