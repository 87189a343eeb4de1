"""The reference etcd as N Raft members simulated in one process (``serve etcd --members N``).

Theory of operation. The cluster is :mod:`runner.raft.cluster` (impl/raft nodes and a network,
as data). A pump thread drives it in real time: it answers the nodes' random draws from a seeded
PRNG, proposes queued client requests at the leader, asks for queued read indexes, delivers
every message in flight, and ticks every node each ``TICK_SECONDS``. Each committed entry
carries one etcd request (with its request ID and the leader's clock); every member applies it
to its own :class:`EtcdState` with impl/etcd when raft emits ``ApplyEntries``, so members agree
by construction of Raft and of the pure state machine. The client waiting for that request ID
gets the response of the first member to apply it. Writes (and txns) go through the log.

The gateway is member 1 (``READ_MEMBER``). A linearizable Range is served as etcd serves it,
with ReadIndex (Raft thesis section 6.4), and appends nothing to the log: the pump hands
member 1 a ``RequestReadIndex`` with a fresh context, one for all the reads that arrived since
it last asked (as etcd's read loop does); member 1 forwards it to its leader, which
records its commit index and confirms its leadership with a heartbeat round; member 1's
``ReadIndexReady(context, index)`` releases the read, which waits until member 1 has applied
``index`` and is then answered from member 1's applied state. A ``ReadIndexDropped`` (no
leader known, leadership changed) or no answer within ``READ_INDEX_RETRY_SECONDS`` sends a new
request with a new context (late answers to old contexts are ignored); a read not served
within the request timeout gets etcd's ``etcdserver: request timed out``, so a member cut off
from the leader never answers from its stale state. Serializable reads and watches are served
from member 1's applied state at once, which may lag the leader, as a follower's would. Leases
expire on the leader's clock: the pump proposes a revoke for each expired lease. The log is
compacted once every member applied it.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time

import msgspec

from impl.etcd.apply import ApplyContext, apply, expired_leases
from impl.etcd.kv import range_read
from impl.etcd.store import EtcdState
from models.etcd import (
    ERROR_REQUEST_TIMEOUT,
    ERROR_TOO_MANY_REQUESTS,
    EtcdError,
    EtcdRequest,
    EtcdResponse,
    LeaseGrantRequest,
    LeaseRevokeRequest,
    RangeRequest,
    ResponseHeader,
)
from models.raft import (
    ApplyEntries,
    ProposalRejected,
    RaftNodeState,
    ReadIndexDropped,
    ReadIndexReady,
)
from models.trace import (
    ClusterAction,
    Compact,
    Deliver,
    DrawRandom,
    Heal,
    Partition,
    Propose,
    RaftSetup,
    RequestReadIndex,
    Tick,
)
from runner.etcd.members import CLUSTER_ID, member_id_for
from runner.raft.cluster import (
    Applied,
    ClusterConfig,
    ClusterState,
    apply_action,
    cluster_config,
    initial_state,
)

TICK_SECONDS = 0.01
REQUEST_TIMEOUT_SECONDS = 5.0
COMPACT_EVERY_ENTRIES = 500
MAX_MESSAGES_PER_ROUND = 4096
READ_MEMBER = 1
MAX_PUMP_ROUNDS = 10**12
MAX_PENDING_PROPOSALS = 10_000
READ_INDEX_RETRY_SECONDS = 0.5
"""etcd's ``readIndexRetryTime``: ask again when a read index has not come back by then."""
MAX_PENDING_READS = 10_000
"""Read index requests (each serving every read that joined it) awaiting an answer."""


class ReadIndexAnswer(msgspec.Struct, frozen=True, kw_only=True):
    """What the serving member said about one read index request: ``index`` to apply before
    reading, or ``dropped`` with the reason."""

    index: int = 0
    dropped: str = ""


class Proposal(msgspec.Struct, frozen=True, kw_only=True):
    """One log entry's payload: who waits for it, the leader's clock, the request."""

    request_id: int
    now_ms: int
    request: EtcdRequest


class RaftBackend:
    """N simulated members behind one gateway."""

    def __init__(
        self, members: int, seed: int = 0, request_timeout_seconds: float = REQUEST_TIMEOUT_SECONDS
    ) -> None:
        setup = RaftSetup(
            nodes=members, spare_nodes=0, election_timeout_ticks=10, heartbeat_interval_ticks=1,
            pre_vote=False, check_quorum=True, max_entries_per_append=64,
            max_inflight_appends=512, mutant="none", safety_steps=0, liveness_steps=0,
        )  # fmt: skip
        self.config = cluster_config(setup, max_in_flight=MAX_MESSAGES_PER_ROUND)
        self.changed = threading.Condition()
        self.member_id = member_id_for(0)
        self._random = random.Random(seed)
        self._origin = time.monotonic()
        self._etcd = {node: EtcdState() for node in self.config.node_ids}
        self._pending: list[bytes] = []
        self._results: dict[int, EtcdResponse | EtcdError] = {}
        self._waiting: set[int] = set()
        self.request_timeout_seconds = request_timeout_seconds
        self.read_index_retry_seconds = READ_INDEX_RETRY_SECONDS
        self._unsent_read: str | None = None
        self._read_answers: dict[str, ReadIndexAnswer | None] = {}
        self._read_waiters: dict[str, int] = {}
        self._applied_index = dict.fromkeys(self.config.node_ids, 0)
        self._next_read = 0
        self._revoking: set[int] = set()
        self._next_request_id = 0
        self._next_lease = 0
        self._last_compaction = 0
        self._closing = threading.Event()
        applied = initial_state(self.config)
        self._cluster: ClusterState = applied.state
        self._handle(applied)
        self._pump_thread = threading.Thread(target=self._pump, daemon=True)
        self._pump_thread.start()

    # ---- the gateway's interface -----------------------------------------------------------

    def now_ms(self) -> int:
        return int((time.monotonic() - self._origin) * 1000)

    def propose(self, request: EtcdRequest) -> EtcdResponse | EtcdError:
        if isinstance(request, RangeRequest):
            if request.serializable:
                return self.read(request)
            return self.linearizable_read(request)
        deadline = time.monotonic() + self.request_timeout_seconds
        with self.changed:
            if len(self._pending) >= MAX_PENDING_PROPOSALS:
                return ERROR_TOO_MANY_REQUESTS
            if isinstance(request, LeaseGrantRequest) and request.ID == 0:
                request = msgspec.structs.replace(request, ID=self._lease_id())
            request_id = self._enqueue(request)
            while request_id not in self._results:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._closing.is_set():
                    self._waiting.discard(request_id)
                    return ERROR_REQUEST_TIMEOUT
                self.changed.wait(remaining)
            self._waiting.discard(request_id)
            return self._results.pop(request_id)

    def read(self, request: RangeRequest) -> EtcdResponse | EtcdError:
        """A serializable read: member 1's applied state as it is."""
        with self.changed:
            return range_read(self._etcd[READ_MEMBER], request)

    def linearizable_read(self, request: RangeRequest) -> EtcdResponse | EtcdError:
        """A linearizable read through ReadIndex (see the module docstring)."""
        deadline = time.monotonic() + self.request_timeout_seconds
        attempts = int(self.request_timeout_seconds / self.read_index_retry_seconds) + 2
        with self.changed:
            for _ in range(attempts):
                if time.monotonic() >= deadline or self._closing.is_set():
                    break
                index = self._read_index(deadline)
                if index is None:
                    continue
                while self._applied_index[READ_MEMBER] < index:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or self._closing.is_set():
                        return ERROR_REQUEST_TIMEOUT
                    self.changed.wait(remaining)
                return range_read(self._etcd[READ_MEMBER], request)
        return ERROR_REQUEST_TIMEOUT

    def cluster(self) -> ClusterState:
        """The simulated members and network as they are now."""
        with self.changed:
            return self._cluster

    def inject(self, action: Partition | Heal) -> None:
        """Cut or heal links between members (fault drills and tests)."""
        with self.changed:
            self._act(action)
            self.changed.notify_all()

    def state(self) -> EtcdState:
        with self.changed:
            return self._etcd[READ_MEMBER]

    def header(self, revision: int) -> ResponseHeader:
        leader = self._leader()
        term = leader.persisted.term if leader is not None else 0
        return ResponseHeader(
            cluster_id=CLUSTER_ID, member_id=self.member_id, revision=revision, raft_term=term
        )

    def status(self) -> dict[str, str]:
        with self.changed:
            leader = self._leader()
            slot = self._cluster.nodes[READ_MEMBER]
            log = slot.storage.log
            last_index = log[-1].index if log else slot.storage.snapshot.metadata.index
            return {
                "leader": str(member_id_for(leader.node_id - 1)) if leader else "0",
                "raftIndex": str(last_index),
                "raftTerm": str(leader.persisted.term if leader else 0),
                "raftAppliedIndex": str(slot.applied_index),
            }

    def tick(self) -> None:
        """Lease expiry is driven by the pump; nothing to do on the gateway's tick."""

    def close(self) -> None:
        self._closing.set()
        with self.changed:
            self.changed.notify_all()
        self._pump_thread.join(timeout=5)

    # ---- inside the lock -------------------------------------------------------------------

    def _read_index(self, deadline: float) -> int | None:
        """Join the read index request the pump sends next (etcd serves every read waiting
        when it asks with one request) and wait for it: the index member 1 confirmed, or None
        (dropped, no answer within the retry time, past the deadline: then after waiting out
        the retry time)."""
        context = self._unsent_read
        if context is None and len(self._read_answers) < MAX_PENDING_READS:
            self._next_read += 1
            context = self._unsent_read = f"read-{self._next_read}"
            self._read_answers[context] = None
            self._read_waiters[context] = 0
            self.changed.notify_all()
        retry_at = min(deadline, time.monotonic() + self.read_index_retry_seconds)
        answer: ReadIndexAnswer | None = None
        if context is not None:
            self._read_waiters[context] += 1
            while self._read_answers[context] is None and not self._closing.is_set():
                remaining = retry_at - time.monotonic()
                if remaining <= 0:
                    break
                self.changed.wait(remaining)
            answer = self._read_answers[context]
            self._leave_read(context)
        if answer is None or answer.dropped:
            # A drop is immediate (no leader known): wait out the retry time before asking again.
            while not self._closing.is_set():
                remaining = retry_at - time.monotonic()
                if remaining <= 0:
                    break
                self.changed.wait(remaining)
            return None
        return answer.index

    def _leave_read(self, context: str) -> None:
        """One reader stops waiting for ``context``; the last one forgets it."""
        self._read_waiters[context] -= 1
        if self._read_waiters[context] > 0:
            return
        del self._read_waiters[context]
        del self._read_answers[context]
        if self._unsent_read == context:
            self._unsent_read = None

    def _lease_id(self) -> int:
        self._next_lease += 1
        digest = hashlib.blake2b(f"raft-lease-{self._next_lease}".encode(), digest_size=8)
        return (int.from_bytes(digest.digest(), "big") & ((1 << 62) - 1)) + 1

    def _enqueue(self, request: EtcdRequest) -> int:
        self._next_request_id += 1
        proposal = Proposal(request_id=self._next_request_id, now_ms=self.now_ms(), request=request)
        self._pending.append(msgspec.json.encode(proposal))
        self._waiting.add(self._next_request_id)
        self.changed.notify_all()
        return self._next_request_id

    def _leader(self) -> RaftNodeState | None:
        leaders = [
            slot.state
            for slot in self._cluster.nodes.values()
            if slot.state is not None and slot.state.role == "leader"
        ]
        return max(leaders, key=lambda state: state.persisted.term) if leaders else None

    def _act(self, action: ClusterAction) -> bool:
        result = apply_action_checked(self.config, self._cluster, action)
        if result is None:
            return False
        self._cluster = result.state
        return self._handle(result)

    def _handle(self, applied: Applied) -> bool:
        """Apply committed entries to each member's etcd state; False if a proposal bounced."""
        accepted = True
        for node_id, command in applied.commands:
            if isinstance(command, ProposalRejected):
                accepted = False
            if isinstance(command, ReadIndexReady | ReadIndexDropped):
                self._answer_read(command)
            if not isinstance(command, ApplyEntries):
                continue
            for entry in command.entries:
                self._applied_index[node_id] = entry.index
                if entry.kind != "normal" or not entry.data:
                    continue
                proposal = msgspec.json.decode(entry.data, type=Proposal)
                context = ApplyContext(now_ms=proposal.now_ms)
                self._etcd[node_id], response = apply(
                    self._etcd[node_id], proposal.request, context
                )
                if (
                    proposal.request_id in self._waiting
                    and proposal.request_id not in self._results
                ):
                    self._results[proposal.request_id] = response
                if isinstance(proposal.request, LeaseRevokeRequest):
                    self._revoking.discard(proposal.request.ID)
        return accepted

    def _answer_read(self, command: ReadIndexReady | ReadIndexDropped) -> None:
        """Record the first answer to a read index request someone still waits for (contexts
        are unique, so a drop at the leader of a forwarded request counts too)."""
        context = command.context.decode()
        if context not in self._read_answers or self._read_answers[context] is not None:
            return
        if isinstance(command, ReadIndexReady):
            self._read_answers[context] = ReadIndexAnswer(index=command.index)
        else:
            self._read_answers[context] = ReadIndexAnswer(dropped=command.reason or "dropped")

    def _ask_read_indexes(self) -> None:
        context, self._unsent_read = self._unsent_read, None
        if context is not None and not self._act(
            RequestReadIndex(node=READ_MEMBER, context=context)
        ):
            self._answer_read(ReadIndexDropped(context=context.encode(), reason="member down"))

    def _round(self) -> None:
        for node_id, slot in sorted(self._cluster.nodes.items()):
            if slot.state is not None and slot.random_request is not None:
                value = self._random.randrange(slot.random_request.low, slot.random_request.high)
                self._act(DrawRandom(node=node_id, value=value))
        leader = self._leader()
        if leader is not None:
            self._expire_leases(leader.node_id)
            pending, self._pending = self._pending, []
            for index, data in enumerate(pending):
                if not self._act(Propose(node=leader.node_id, value=data.decode())):
                    self._pending = pending[index:] + self._pending
                    break
        self._ask_read_indexes()
        for message_id in sorted(self._cluster.in_flight.keys())[:MAX_MESSAGES_PER_ROUND]:
            self._act(Deliver(message=message_id))
        self._compact_log()

    def _expire_leases(self, leader_id: int) -> None:
        for lease_id in expired_leases(self._etcd[leader_id], self.now_ms()):
            if lease_id not in self._revoking:
                self._revoking.add(lease_id)
                self._next_request_id += 1
                proposal = Proposal(
                    request_id=self._next_request_id,
                    now_ms=self.now_ms(),
                    request=LeaseRevokeRequest(ID=lease_id),
                )
                self._pending.append(msgspec.json.encode(proposal))

    def _compact_log(self) -> None:
        applied = min(slot.applied_index for slot in self._cluster.nodes.values())
        if applied - self._last_compaction < COMPACT_EVERY_ENTRIES:
            return
        for node_id in sorted(self._cluster.nodes.keys()):
            self._act(Compact(node=node_id))
        self._last_compaction = applied

    def _pump(self) -> None:
        next_tick = time.monotonic()
        for _ in range(MAX_PUMP_ROUNDS):
            if self._closing.is_set():
                return
            with self.changed:
                if time.monotonic() >= next_tick:
                    for node_id in sorted(self._cluster.nodes.keys()):
                        self._act(Tick(node=node_id))
                    next_tick = time.monotonic() + TICK_SECONDS
                self._round()
                self.changed.notify_all()
                idle = not (self._pending or self._unsent_read or self._cluster.in_flight)
                if idle:
                    self.changed.wait(max(0.0, next_tick - time.monotonic()))


def apply_action_checked(
    config: ClusterConfig, state: ClusterState, action: ClusterAction
) -> Applied | None:
    """Apply an action; None when it is not enabled (a node down, a message gone)."""
    result = apply_action(config, state, action)
    return result if isinstance(result, Applied) else None
