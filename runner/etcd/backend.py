"""The reference etcd behind ``kubeoracle serve etcd``: impl/etcd applied in log order.

``SingleMemberBackend`` applies each proposed request to the pure state machine in arrival order
under one lock, as a one-member cluster whose log commits immediately. Every backend exposes the
same small interface to the gateway: ``propose`` (writes go through the log; a linearizable
read is answered in order here and through ReadIndex by the member machines of
``runner.etcd.member_backend``), ``read``
(serializable reads from the local applied state), ``state`` for watches, a condition variable
that is notified after every applied entry, and ``tick`` which the server calls periodically
so that expired leases are revoked through the log, as etcd's leader does.
"""

from __future__ import annotations

import hashlib
import threading
import time
from typing import Protocol

import msgspec

from impl.etcd.apply import ApplyContext, apply, expired_leases
from impl.etcd.store import EtcdState
from models.etcd import (
    EtcdError,
    EtcdRequest,
    EtcdResponse,
    LeaseGrantRequest,
    LeaseLeasesRequest,
    LeaseRevokeRequest,
    LeaseTimeToLiveRequest,
    RangeRequest,
    ResponseHeader,
)
from models.etcd_auth import AnyRequest, AnyResponse, AuthInfo, AuthResponse
from runner.etcd.member_backend import MemberBackend
from runner.etcd.members import CLUSTER_ID, member_id_for


class Backend(Protocol):
    """What the gateway needs from a reference etcd."""

    changed: threading.Condition
    member_id: int
    member_ids: tuple[int, ...]
    """Every member's ID (``member_id`` is the one this process serves)."""

    def propose(self, request: EtcdRequest) -> EtcdResponse | EtcdError: ...

    def propose_as(self, request: AnyRequest, auth: AuthInfo | None) -> AnyResponse | EtcdError:
        """``request`` made as ``auth`` (who the client's token names; None: no token)."""
        ...

    def read(
        self, request: RangeRequest, auth: AuthInfo | None = None
    ) -> EtcdResponse | EtcdError: ...

    def state(self) -> EtcdState: ...

    def header(self, revision: int) -> ResponseHeader: ...

    def status(self) -> dict[str, str]: ...

    def tick(self) -> None: ...

    def close(self) -> None: ...


class SingleMemberBackend:
    """One member: every proposal is committed and applied at once, in order."""

    def __init__(self) -> None:
        self.changed = threading.Condition()
        self.member_id = member_id_for(0)
        self.member_ids: tuple[int, ...] = (self.member_id,)
        self._state = EtcdState()
        self._applied_index = 1
        self._origin = time.monotonic()
        self._next_lease = 0

    def now_ms(self) -> int:
        return int((time.monotonic() - self._origin) * 1000)

    def _lease_id(self) -> int:
        self._next_lease += 1
        digest = hashlib.blake2b(
            f"{self.member_id}-{self._next_lease}".encode(), digest_size=8
        ).digest()
        return (int.from_bytes(digest, "big") & ((1 << 62) - 1)) + 1

    def propose(self, request: EtcdRequest) -> EtcdResponse | EtcdError:
        answer = self.propose_as(request, None)
        assert not isinstance(answer, AuthResponse), "a KV or lease request has no auth answer"
        return answer

    def propose_as(self, request: AnyRequest, auth: AuthInfo | None) -> AnyResponse | EtcdError:
        with self.changed:
            if isinstance(request, LeaseGrantRequest) and request.ID == 0:
                request = msgspec.structs.replace(request, ID=self._lease_id())
            reads = RangeRequest | LeaseTimeToLiveRequest | LeaseLeasesRequest
            if not isinstance(request, reads):
                self._applied_index += 1
            context = ApplyContext(now_ms=self.now_ms(), auth=auth, index=self._applied_index)
            self._state, response = apply(self._state, request, context)
            self.changed.notify_all()
            return response

    def read(self, request: RangeRequest, auth: AuthInfo | None = None) -> EtcdResponse | EtcdError:
        with self.changed:
            _, response = apply(self._state, request, ApplyContext(auth=auth))
            return response

    def state(self) -> EtcdState:
        with self.changed:
            return self._state

    def header(self, revision: int) -> ResponseHeader:
        return ResponseHeader(
            cluster_id=CLUSTER_ID, member_id=self.member_id, revision=revision, raft_term=1
        )

    def status(self) -> dict[str, str]:
        with self.changed:
            return {
                "leader": str(self.member_id),
                "raftIndex": str(self._applied_index),
                "raftTerm": "1",
                "raftAppliedIndex": str(self._applied_index),
            }

    def tick(self) -> None:
        for lease_id in expired_leases(self.state(), self.now_ms()):
            self.propose(LeaseRevokeRequest(ID=lease_id))

    def close(self) -> None:
        with self.changed:
            self.changed.notify_all()


def make_backend(members: int) -> Backend:
    """``--members N``: N member machines (impl/etcd/member) on Raft (0: apply directly, no
    Raft)."""
    if members == 0:
        return SingleMemberBackend()
    return MemberBackend(members)
