"""etcd member machines (``impl.etcd.member``) on an in-process network, driven step by step.

:class:`MemberCluster` carries out the members' commands: messages go into one FIFO network
(lost on a cut link or to a down member), random draws come from a seeded PRNG, replies are
kept by request ID until taken, persistence is the Raft state's own ``persisted`` part (a crash
keeps only that). Time passes only by :meth:`MemberCluster.tick`, which ticks every member that
is up and then delivers every message. It is deterministic for a seed and runs no thread:
``serve etcd`` drives it from its pump thread in real time (``runner.etcd.member_backend``),
tests drive it tick by tick.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import overload

from impl.etcd import member
from impl.etcd.member_state import MemberState
from models.etcd import EtcdError, EtcdRequest, EtcdResponse
from models.etcd_auth import AnyRequest, AnyResponse, AuthInfo, AuthRequest, AuthResponse
from models.etcd_member import (
    ClientRequest,
    ClockTicked,
    EtcdMutant,
    MemberCommand,
    MemberConfig,
    MemberEvent,
    PeerMessage,
    PeerMessageReceived,
    RandomValue,
    Reply,
    SendForward,
)
from models.raft import (
    ConfState,
    PersistEntries,
    PersistHardState,
    PersistSnapshot,
    RaftConfig,
    RequestRandom,
    SendMessage,
)
from models.step import Step

Answer = AnyResponse | EtcdError
MAX_DELIVERIES = 100_000
"""Messages and random draws one ``settle`` carries out at most."""


class UnsettledError(Exception):
    """The network still held messages after ``MAX_DELIVERIES`` deliveries."""


class MemberCluster:
    """``size`` members with ids 1..size, all voters; ``tick_ms`` is one tick on their clocks."""

    def __init__(
        self,
        size: int = 3,
        seed: int = 0,
        mutant: EtcdMutant | None = None,
        snapshot_every_entries: int = 1000,
        tick_ms: int = 100,
        request_timeout_ms: int = 7000,
    ) -> None:
        self.prng = random.Random(seed)
        self.conf = ConfState(voters=tuple(range(1, size + 1)))
        self.tick_ms = tick_ms
        self.configs = {
            node: MemberConfig(
                raft=RaftConfig(node_id=node),
                mutant=mutant,
                snapshot_every_entries=snapshot_every_entries,
                tick_ms=tick_ms,
                request_timeout_ms=request_timeout_ms,
            )
            for node in self.conf.voters
        }
        self.members: dict[int, MemberState | None] = {}
        self.down: dict[int, MemberState] = {}
        self.network: list[PeerMessage] = []
        self.cut: set[tuple[int, int]] = set()
        self.replies: dict[int, Answer] = {}
        self.now_ms = 0
        self._next_request = 0
        self._randoms: list[tuple[int, int]] = []
        self._forgotten: set[int] = set()
        for node in self.conf.voters:
            self._carry_out(node, member.init(self.configs[node], None, self.conf, 0))
        self.settle()

    # ---- driving ---------------------------------------------------------------------------

    def handle(self, node: int, event: MemberEvent) -> None:
        state = self.members[node]
        assert state is not None, f"member {node} is down"
        self._carry_out(node, member.on_event(self.configs[node], state, event))

    def request(self, node: int, request: AnyRequest, auth: AuthInfo | None = None) -> int:
        """Hand ``request`` (made as ``auth``) to member ``node``; returns its request ID (see
        ``replies``)."""
        self._next_request += 1
        self.handle(node, ClientRequest(request_id=self._next_request, request=request, auth=auth))
        return self._next_request

    def forget(self, request_id: int) -> None:
        """Nobody waits for ``request_id`` any more: drop its answer, now or when it comes."""
        if self.replies.pop(request_id, None) is None:
            self._forgotten.add(request_id)

    def settle(self) -> None:
        """Answer random draws and deliver messages until the network is empty."""
        for _ in range(MAX_DELIVERIES):
            if self._randoms:
                node, value = self._randoms.pop(0)
                if self.members.get(node) is not None:
                    self.handle(node, RandomValue(value=value))
            elif self.network:
                self._deliver(self.network.pop(0))
            else:
                return
        raise UnsettledError(f"more than {MAX_DELIVERIES} deliveries in one settle")

    def tick_members(self) -> None:
        """One tick on every member that is up (what they send stays in the network)."""
        self.now_ms += self.tick_ms
        for node in sorted(self.members):
            if self.members[node] is not None:
                self.handle(node, ClockTicked())

    def tick(self, times: int = 1) -> None:
        """``times`` ticks, each followed by delivering everything."""
        for _ in range(times):
            self.tick_members()
            self.settle()

    def tick_until(self, reached: Callable[[], bool], what: str, limit: int = 400) -> None:
        for _ in range(limit):
            if reached():
                return
            self.tick()
        raise AssertionError(f"not reached within {limit} ticks: {what}")

    @overload
    def call(
        self, node: int, request: EtcdRequest, limit: int = 200, auth: AuthInfo | None = None
    ) -> EtcdResponse | EtcdError: ...

    @overload
    def call(
        self, node: int, request: AuthRequest, limit: int = 200, auth: AuthInfo | None = None
    ) -> AuthResponse | EtcdError: ...

    def call(
        self, node: int, request: AnyRequest, limit: int = 200, auth: AuthInfo | None = None
    ) -> Answer:
        """Send ``request`` and tick until it is answered."""
        request_id = self.request(node, request, auth)
        self.settle()
        self.tick_until(lambda: request_id in self.replies, f"an answer to {request!r}", limit)
        return self.replies[request_id]

    # ---- faults ----------------------------------------------------------------------------

    def isolate(self, node: int) -> None:
        others = [other for other in self.configs if other != node]
        self.cut = {(node, other) for other in others} | {(other, node) for other in others}
        self.network = [m for m in self.network if (m.from_id, m.to_id) not in self.cut]

    def heal(self) -> None:
        self.cut = set()

    def crash(self, node: int) -> None:
        state = self.members[node]
        assert state is not None
        self.down[node] = state
        self.members[node] = None
        self.network = [m for m in self.network if node not in (m.from_id, m.to_id)]

    def restart(self, node: int) -> None:
        persisted = self.down.pop(node).raft.persisted
        self._carry_out(node, member.init(self.configs[node], persisted, self.conf, self.now_ms))
        self.settle()

    # ---- looking -----------------------------------------------------------------------------

    def state(self, node: int) -> MemberState:
        state = self.members[node]
        assert state is not None
        return state

    def leader(self) -> int | None:
        leaders = [
            (state.raft.term, node)
            for node, state in self.members.items()
            if state is not None and state.raft.role == "leader"
        ]
        return max(leaders)[1] if leaders else None

    def wait_for_leader(self) -> int:
        self.tick_until(lambda: self.leader() is not None, "a leader")
        leader = self.leader()
        assert leader is not None
        return leader

    def followers(self) -> Sequence[int]:
        leader = self.leader()
        return [node for node in sorted(self.members) if node != leader]

    def last_index(self, node: int) -> int:
        """The index of the last entry in member ``node``'s log."""
        persisted = self.state(node).raft.persisted
        return persisted.log[-1].index if persisted.log else persisted.snapshot.metadata.index

    # ---- commands ----------------------------------------------------------------------------

    def _carry_out(self, node: int, step: Step[MemberState, MemberCommand]) -> None:
        self.members[node] = step.state
        for command in step.commands:
            match command:
                case SendMessage(message=message):
                    self._send(message)
                case SendForward(message=message):
                    self._send(message)
                case RequestRandom(low=low, high=high):
                    self._randoms.append((node, self.prng.randrange(low, high)))
                case Reply(request_id=request_id, result=result):
                    if request_id in self._forgotten:
                        self._forgotten.discard(request_id)
                    else:
                        assert request_id not in self.replies, f"{request_id} answered twice"
                        self.replies[request_id] = result
                case PersistHardState() | PersistEntries() | PersistSnapshot():
                    pass  # the Raft state keeps its persisted part; a crash keeps only that

    def _send(self, message: PeerMessage) -> None:
        if (message.from_id, message.to_id) not in self.cut:
            self.network.append(message)

    def _deliver(self, message: PeerMessage) -> None:
        if (message.from_id, message.to_id) in self.cut or self.members.get(message.to_id) is None:
            return
        self.handle(message.to_id, PeerMessageReceived(message=message))
