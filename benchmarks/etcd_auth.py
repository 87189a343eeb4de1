"""Print what etcd auth costs: permission checks in impl/etcd, authentications, and requests
with a token, on ``serve etcd`` and on a real etcd 3.4.23.

Run: ``python -m benchmarks.etcd_auth``. Prints (1) the pure state machine's rate for puts and
gets by a user whose 10 roles hold 10 permissions each, against the same with auth off; (2) the
median time of an Authenticate over gRPC (a password hash check: scrypt in the reference,
bcrypt at cost 10 in etcd) on ``serve etcd --members 0`` and on a one-member real etcd; (3)
puts and gets per second over gRPC from 4 client threads for 2 seconds as that user, with auth
on, and with auth off, on both.
"""

from __future__ import annotations

import statistics
import threading
import time
from typing import Any

import grpc

from impl.etcd.apply import ApplyContext, apply
from impl.etcd.store import EtcdState
from models.etcd import EtcdError, PutRequest, RangeRequest
from models.etcd_auth import (
    AnyRequest,
    AuthEnableRequest,
    AuthInfo,
    Permission,
    RoleAddRequest,
    RoleGrantPermissionRequest,
    UserAddRequest,
    UserGrantRoleRequest,
)
from runner.etcd.backend import make_backend
from runner.etcd.cluster import LocalEtcdCluster
from runner.etcd.etcdpb import auth_pb2, rpc_pb2, rpc_pb2_grpc
from runner.etcd.server import GatewayServer, start_in_thread

SECONDS = 2.0
CLIENTS = 4
ROLES = 10
PERMS_PER_ROLE = 10
AUTHENTICATIONS = 10


def _pure_setup() -> list[AnyRequest]:
    requests: list[AnyRequest] = [
        UserAddRequest(name="root", hashed_password=b"h"),
        UserGrantRoleRequest(user="root", role="root"),
        UserAddRequest(name="u", hashed_password=b"h"),
    ]
    for role in range(ROLES):
        requests.append(RoleAddRequest(name=f"r{role}"))
        for perm in range(PERMS_PER_ROLE):
            key = b"key%d" % (role * PERMS_PER_ROLE + perm)
            grant = Permission(perm_type="READWRITE", key=key)
            requests.append(RoleGrantPermissionRequest(name=f"r{role}", perm=grant))
        requests.append(UserGrantRoleRequest(user="u", role=f"r{role}"))
    return requests


def apply_rate(enabled: bool, count: int = 20_000) -> float:
    state = EtcdState()
    for request in _pure_setup():
        state, _ = apply(state, request, ApplyContext())
    if enabled:
        state, _ = apply(state, AuthEnableRequest(), ApplyContext())
    context = ApplyContext(auth=AuthInfo(username="u", revision=state.auth.revision))
    start = time.perf_counter()
    for index in range(count):
        key = b"key%d" % (index % 100)
        request = PutRequest(key=key, value=b"v") if index % 2 else RangeRequest(key=key)
        state, answer = apply(state, request, context)
        assert not isinstance(answer, EtcdError), answer  # measuring allowed requests
    return count / (time.perf_counter() - start)


def _setup_served(target: str) -> None:
    with grpc.insecure_channel(target) as channel:
        auth = rpc_pb2_grpc.AuthStub(channel)
        auth.UserAdd(rpc_pb2.AuthUserAddRequest(name="root", password="rootpw"))
        auth.UserGrantRole(rpc_pb2.AuthUserGrantRoleRequest(user="root", role="root"))
        auth.UserAdd(rpc_pb2.AuthUserAddRequest(name="u", password="upw"))
        for role in range(ROLES):
            auth.RoleAdd(rpc_pb2.AuthRoleAddRequest(name=f"r{role}"))
            for perm in range(PERMS_PER_ROLE):
                key = b"key%d" % (role * PERMS_PER_ROLE + perm)
                grant = auth_pb2.Permission(permType=auth_pb2.Permission.READWRITE, key=key)
                auth.RoleGrantPermission(
                    rpc_pb2.AuthRoleGrantPermissionRequest(name=f"r{role}", perm=grant)
                )
            auth.UserGrantRole(rpc_pb2.AuthUserGrantRoleRequest(user="u", role=f"r{role}"))


def authenticate_median_ms(target: str) -> tuple[float, str]:
    with grpc.insecure_channel(target) as channel:
        auth = rpc_pb2_grpc.AuthStub(channel)
        auth.AuthEnable(rpc_pb2.AuthEnableRequest())
        times = []
        token = ""
        for _ in range(AUTHENTICATIONS):
            start = time.perf_counter()
            token = auth.Authenticate(rpc_pb2.AuthenticateRequest(name="u", password="upw")).token
            times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), token


def request_rate(target: str, token: str | None) -> float:
    done = [0] * CLIENTS
    stop = time.monotonic() + SECONDS
    metadata: Any = () if token is None else (("token", token),)

    def client(index: int) -> None:
        with grpc.insecure_channel(target) as channel:
            kv = rpc_pb2_grpc.KVStub(channel)
            while time.monotonic() < stop:
                key = b"key%d" % (done[index] % 100)
                if done[index] % 2:
                    kv.Put(rpc_pb2.PutRequest(key=key, value=b"v"), metadata=metadata)
                else:
                    kv.Range(rpc_pb2.RangeRequest(key=key), metadata=metadata)
                done[index] += 1

    threads = [threading.Thread(target=client, args=(index,)) for index in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / SECONDS


def measure(name: str, target: str) -> None:
    _setup_served(target)
    off = request_rate(target, None)
    median_ms, token = authenticate_median_ms(target)
    on = request_rate(target, token)
    print(f"{name}: Authenticate median {median_ms:.0f} ms ({AUTHENTICATIONS} calls)")
    print(f"{name}: puts and gets over gRPC: auth off {off:.0f}/s, auth on (user token) {on:.0f}/s")


def main() -> None:
    print(
        f"impl/etcd apply, user with {ROLES} roles x {PERMS_PER_ROLE} permissions: "
        f"auth off {apply_rate(False):.0f}/s, auth on {apply_rate(True):.0f}/s"
    )
    server = GatewayServer(("127.0.0.1", 0), make_backend(0))
    thread = start_in_thread(server)
    try:
        host, port = server.server_address
        measure("serve etcd --members 0", f"{host}:{port}")
    finally:
        server.close()
        thread.join(timeout=5)
    cluster = LocalEtcdCluster(1)
    cluster.start()
    try:
        measure("real etcd 3.4.23 (1 member)", cluster.endpoints[0].removeprefix("http://"))
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
