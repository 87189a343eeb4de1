"""One script of v3lock and v3election calls, run against any endpoint (real etcd 3.4.23 or
``serve etcd``), recording each answer with the IDs each server picks masked."""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable

import grpc

from runner.etcd.etcdpb import (
    rpc_pb2,
    rpc_pb2_grpc,
    v3election_pb2,
    v3election_pb2_grpc,
    v3lock_pb2,
    v3lock_pb2_grpc,
)

TIMEOUT = 10.0
_IDS = re.compile(r"(cluster_id|member_id|raft_term): \d+")


def _text(message: object) -> str:
    return _IDS.sub(r"\1: <id>", str(message).replace("\n", " ").strip())


def run_script(target: str) -> list[str]:
    """Locks with contention, an election with proclaim and resign, and refusals."""
    channel = grpc.insecure_channel(target)
    locks = v3lock_pb2_grpc.LockStub(channel)
    elections = v3election_pb2_grpc.ElectionStub(channel)
    leases = rpc_pb2_grpc.LeaseStub(channel)
    kv = rpc_pb2_grpc.KVStub(channel)
    lines: list[str] = []

    def call(name: str, method: object, request: object) -> object:
        try:
            answer = method(request, timeout=TIMEOUT)  # type: ignore[operator]
        except grpc.RpcError as error:
            code, details = error.code(), error.details()
            lines.append(f"{name}: {code.name} {details}")
            return None
        lines.append(f"{name}: {_text(answer)}")
        return answer

    try:
        for lease in (0x101, 0x102):
            leases.LeaseGrant(rpc_pb2.LeaseGrantRequest(ID=lease, TTL=60), timeout=TIMEOUT)
        call("lock 1", locks.Lock, v3lock_pb2.LockRequest(name=b"L", lease=0x101))
        waiter: dict[str, str] = {}

        def second() -> None:
            try:
                answer = locks.Lock(v3lock_pb2.LockRequest(name=b"L", lease=0x102), timeout=TIMEOUT)
                waiter["answer"] = _text(answer)
            except grpc.RpcError as error:
                waiter["answer"] = f"error {error}"

        thread = threading.Thread(target=second)
        thread.start()
        queued = rpc_pb2.RangeRequest(key=b"L/102")
        _wait_until(lambda: kv.Range(queued, timeout=TIMEOUT).count == 1)
        time.sleep(0.3)  # had it not waited, it would have answered by now
        lines.append(
            f"lock 2 while 1 holds: {'still waiting' if thread.is_alive() else 'returned'}"
        )
        call("unlock 1", locks.Unlock, v3lock_pb2.UnlockRequest(key=b"L/101"))
        thread.join(TIMEOUT)
        lines.append(f"lock 2 after unlock 1: {waiter.get('answer')}")
        call("lock on an unknown lease", locks.Lock, v3lock_pb2.LockRequest(name=b"M", lease=0x999))
        call(
            "lock on the held key's lease again",
            locks.Lock,
            v3lock_pb2.LockRequest(name=b"L", lease=0x102),
        )
        campaign = v3election_pb2.CampaignRequest(name=b"E", lease=0x101, value=b"alice")
        won = call("campaign", elections.Campaign, campaign)
        call("leader", elections.Leader, v3election_pb2.LeaderRequest(name=b"E"))
        call("leader of nothing", elections.Leader, v3election_pb2.LeaderRequest(name=b"none"))
        if isinstance(won, v3election_pb2.CampaignResponse):
            leader = won.leader
            stale = v3election_pb2.LeaderKey(
                name=b"E", key=leader.key, rev=leader.rev - 1, lease=leader.lease
            )
            call(
                "proclaim",
                elections.Proclaim,
                v3election_pb2.ProclaimRequest(leader=leader, value=b"alice-2"),
            )
            call(
                "proclaim with a stale revision",
                elections.Proclaim,
                v3election_pb2.ProclaimRequest(leader=stale, value=b"x"),
            )
            call("leader after proclaim", elections.Leader, v3election_pb2.LeaderRequest(name=b"E"))
            call("resign", elections.Resign, v3election_pb2.ResignRequest(leader=leader))
            call("resign again", elections.Resign, v3election_pb2.ResignRequest(leader=leader))
        call(
            "proclaim without a leader",
            elections.Proclaim,
            v3election_pb2.ProclaimRequest(value=b"x"),
        )
        call("leader after resign", elections.Leader, v3election_pb2.LeaderRequest(name=b"E"))
        observe_script(elections, kv, lines)
        call("keys", kv.Range, rpc_pb2.RangeRequest(key=b"\0", range_end=b"\0", keys_only=True))
    finally:
        channel.close()
    return lines


def _wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)


def observe_script(
    elections: v3election_pb2_grpc.ElectionStub, kv: rpc_pb2_grpc.KVStub, lines: list[str]
) -> None:
    """An observer of election O sees the leader, its new value, and the next leader. Each
    step waits for the previous one to be seen, so the script does not depend on timing."""
    first = elections.Campaign(
        v3election_pb2.CampaignRequest(name=b"O", lease=0x101, value=b"a"), timeout=TIMEOUT
    )
    stream = elections.Observe(v3election_pb2.LeaderRequest(name=b"O"), timeout=TIMEOUT)
    seen: list[str] = []

    def follow() -> None:
        try:
            for answer in stream:
                seen.append(_text(answer))
                if len(seen) == 3:
                    return
        except grpc.RpcError as error:
            seen.append(f"stream ended: {error.code().name}")

    observer = threading.Thread(target=follow)
    observer.start()
    _wait_until(lambda: len(seen) >= 1)
    elections.Proclaim(
        v3election_pb2.ProclaimRequest(leader=first.leader, value=b"b"), timeout=TIMEOUT
    )
    _wait_until(lambda: len(seen) >= 2)
    second: dict[str, object] = {}

    def campaign_second() -> None:
        second["answer"] = elections.Campaign(
            v3election_pb2.CampaignRequest(name=b"O", lease=0x102, value=b"c"), timeout=TIMEOUT
        )

    candidate = threading.Thread(target=campaign_second)
    candidate.start()
    _wait_until(lambda: kv.Range(rpc_pb2.RangeRequest(key=b"O/102"), timeout=TIMEOUT).count == 1)
    elections.Resign(v3election_pb2.ResignRequest(leader=first.leader), timeout=TIMEOUT)
    candidate.join(TIMEOUT)
    observer.join(TIMEOUT)
    stream.cancel()
    lines.extend(f"observed: {line}" for line in seen)
    lines.append(f"second candidate: {_text(second.get('answer'))}")


_GATEWAY_IDS = re.compile(r'"(cluster_id|member_id|raft_term)":"\d+"')
_MASKED_ID = r'"\1":"<id>"'


def run_gateway_script(url: str) -> list[str]:
    """The v3lock and v3election routes of the JSON gateway: statuses and bodies, IDs masked."""
    lines: list[str] = []

    def post(path: str, body: object) -> None:
        request = urllib.request.Request(url + path, data=json.dumps(body).encode())
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
                status, text = answer.status, answer.read().decode()
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read().decode()
        masked = _GATEWAY_IDS.sub(_MASKED_ID, text)
        lines.append(f"{path} {status} {masked}")

    post("/v3/lease/grant", {"TTL": "60", "ID": "257"})
    post("/v3/lock/lock", {"name": "TA==", "lease": "257"})  # "L"
    post("/v3/lock/lock", {"name": "TQ==", "lease": "999"})  # unknown lease
    post("/v3/election/campaign", {"name": "RQ==", "lease": "257", "value": "YQ=="})
    post("/v3/election/leader", {"name": "RQ=="})
    post("/v3/election/leader", {"name": "Tg=="})  # no leader
    leader = {"name": "RQ==", "key": "RS8xMDE=", "rev": "3", "lease": "257"}
    post("/v3/election/proclaim", {"leader": leader, "value": "Yg=="})
    post("/v3/election/proclaim", {"value": "YQ=="})  # no leader field
    post("/v3/election/resign", {"leader": leader})
    post("/v3/lock/unlock", {"key": "TC8xMDE="})
    post("/v3/lock/lock", {"name": 5})  # wrong JSON type
    post("/v3/lock/lock", {"name": "!!"})  # not base64
    return lines
