"""The reference etcd as N member machines in one process (``serve etcd --members N``).

A thin shell: every etcd decision (Raft, forwarding, apply, ReadIndex, leases, snapshots,
timeouts) is made by the member machines of ``impl.etcd.member``; this module only carries out
their commands in real time. The members live in a :class:`~runner.etcd.member_network.
MemberCluster` (the in-process network, seeded random draws, replies by request ID); a pump
thread ticks every member each ``tick_seconds`` (their clocks advance by the same amount) and
delivers messages; a client's request is handed to the gateway's member (member 1), and the
caller waits for that member's reply. One lock serialises everything the members do.

The gateway serves watches and serializable reads from member 1's applied state, which may lag
the leader as a follower's does; linearizable reads wait for ReadIndex in member 1.
"""

from __future__ import annotations

import contextlib
import threading
import time

from impl.etcd.member_state import MemberState
from impl.etcd.store import EtcdState
from models.etcd import (
    ERROR_REQUEST_TIMEOUT,
    EtcdError,
    EtcdRequest,
    EtcdResponse,
    RangeRequest,
    ResponseHeader,
)
from models.etcd_auth import AnyRequest, AnyResponse, AuthInfo, AuthResponse
from runner.etcd.member_network import MemberCluster, UnsettledError
from runner.etcd.members import CLUSTER_ID, member_id_for

TICK_SECONDS = 0.01
GATEWAY_MEMBER = 1
GRACE_SECONDS = 5.0
"""How long past its own request timeout a caller waits for a member's answer (a pump far
behind real time) before answering "request timed out" itself."""


class MemberBackend:
    """N member machines behind one gateway (the gateway's member is member 1)."""

    def __init__(
        self,
        members: int,
        seed: int = 0,
        tick_seconds: float = TICK_SECONDS,
        request_timeout_seconds: float = 7.0,
    ) -> None:
        self.changed = threading.Condition()
        self.member_id = member_id_for(0)
        self.member_ids = tuple(member_id_for(index) for index in range(members))
        self.tick_seconds = tick_seconds
        self.members = MemberCluster(
            members,
            seed=seed,
            tick_ms=round(tick_seconds * 1000),
            request_timeout_ms=round(request_timeout_seconds * 1000),
        )
        self._closing = threading.Event()
        self._pump_thread = threading.Thread(target=self._pump, daemon=True)
        self._pump_thread.start()

    # ---- the gateway's interface -----------------------------------------------------------

    def propose(self, request: EtcdRequest) -> EtcdResponse | EtcdError:
        """Hand ``request`` to the gateway's member and wait for its answer."""
        answer = self.propose_as(request, None)
        assert not isinstance(answer, AuthResponse), "a KV or lease request has no auth answer"
        return answer

    def propose_as(self, request: AnyRequest, auth: AuthInfo | None) -> AnyResponse | EtcdError:
        """Hand ``request``, made as ``auth``, to the gateway's member and wait for its answer."""
        with self.changed:
            timeout_ms = self.members.configs[GATEWAY_MEMBER].request_timeout_ms
            deadline = time.monotonic() + timeout_ms / 1000 + GRACE_SECONDS
            request_id = self.members.request(GATEWAY_MEMBER, request, auth)
            self._settle()
            while request_id not in self.members.replies:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._closing.is_set():
                    self.members.forget(request_id)
                    return ERROR_REQUEST_TIMEOUT
                self.changed.wait(remaining)
            return self.members.replies.pop(request_id)

    def read(self, request: RangeRequest, auth: AuthInfo | None = None) -> EtcdResponse | EtcdError:
        """A serializable read: the member answers it from its applied state at once."""
        answer = self.propose_as(request, auth)
        assert not isinstance(answer, AuthResponse), "a range has no auth answer"
        return answer

    def state(self) -> EtcdState:
        with self.changed:
            return self.members.state(GATEWAY_MEMBER).etcd

    def member(self, node: int) -> MemberState | None:
        """Member ``node``'s machine state (None while it is down)."""
        with self.changed:
            return self.members.members[node]

    def header(self, revision: int) -> ResponseHeader:
        with self.changed:
            term = self.members.state(GATEWAY_MEMBER).raft.term
        return ResponseHeader(
            cluster_id=CLUSTER_ID, member_id=self.member_id, revision=revision, raft_term=term
        )

    def status(self) -> dict[str, str]:
        with self.changed:
            state = self.members.state(GATEWAY_MEMBER)
            lead = state.raft.lead
            return {
                "leader": str(member_id_for(lead - 1)) if lead else "0",
                "raftIndex": str(self.members.last_index(GATEWAY_MEMBER)),
                "raftTerm": str(state.raft.term),
                "raftAppliedIndex": str(state.applied_index),
            }

    def isolate(self, node: int) -> None:
        """Cut every link to and from member ``node`` (fault drills and tests)."""
        with self.changed:
            self.members.isolate(node)

    def heal(self) -> None:
        with self.changed:
            self.members.heal()

    def tick(self) -> None:
        """The members' clocks are ticked by the pump."""

    def close(self) -> None:
        self._closing.set()
        with self.changed:
            self.changed.notify_all()
        self._pump_thread.join(timeout=5)

    # ---- the pump ----------------------------------------------------------------------------

    def _settle(self) -> None:
        """Deliver what is in flight (inside the lock); a flood is finished by the pump."""
        with contextlib.suppress(UnsettledError):
            self.members.settle()
        self.changed.notify_all()

    def _pump(self) -> None:
        next_tick = time.monotonic()
        while not self._closing.is_set():
            with self.changed:
                if time.monotonic() >= next_tick:
                    self.members.tick_members()
                    next_tick += self.tick_seconds
                    next_tick = max(next_tick, time.monotonic() - self.tick_seconds)
                self._settle()
                self.changed.wait(max(0.0, next_tick - time.monotonic()))
