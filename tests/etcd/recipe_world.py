"""A deterministic world for the recipe tests: recipe clients on one etcd state machine
(impl/etcd's apply, its watches and its lease expiry) with a logical clock.

Each client's commands are carried out at once and in order: a request is applied and its
answer fed back; a watch is a watch stream of impl/etcd/watch delivered after every change. A
paused client receives nothing and renews nothing until it resumes; time advances only through
:meth:`World.advance`, which revokes expired leases as etcd's leader does.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from impl.etcd.apply import ApplyContext, apply, expired_leases
from impl.etcd.recipes import election, lock, observe
from impl.etcd.store import EtcdState
from impl.etcd.watch import WatchStream, deliver, on_create
from models.etcd import (
    DeleteRangeResponse,
    EtcdError,
    EtcdRequest,
    EtcdResponse,
    LeaseGrantRequest,
    LeaseKeepAliveRequest,
    LeaseRevokeRequest,
    RangeResponse,
    TxnResponse,
    WatchCreateRequest,
)
from models.etcd_recipes import (
    Acquired,
    Answered,
    Failed,
    Holder,
    LockObservation,
    Observed,
    RecipeCommand,
    RecipeEvent,
    RecipeState,
    Released,
    SendRequest,
    StopWatch,
    Watched,
    WatchKey,
)
from models.step import Step

RecipeStep = Step[RecipeState, RecipeCommand]
Machine = Callable[[RecipeState, RecipeEvent], RecipeStep]


class World:
    """Clients 1..N, each with its own lease, running a lock or election recipe."""

    def __init__(self) -> None:
        self.etcd = EtcdState()
        self.now_ms = 0
        self.clients: dict[int, RecipeState] = {}
        self.leases: dict[int, int] = {}
        self.watches: dict[int, WatchStream] = {}
        self.paused: set[int] = set()
        self.held: dict[int, int] = {}  # client -> token, as the client believes
        self.failures: dict[int, str] = {}
        self.pending: dict[int, deque[RecipeEvent]] = {}
        self.observed: dict[int, list[Observed]] = {}

    def apply(self, request: EtcdRequest) -> EtcdResponse | EtcdError:
        self.etcd, answer = apply(self.etcd, request, ApplyContext(now_ms=self.now_ms))
        return answer

    def grant(self, client: int, lease: int, ttl_seconds: int) -> None:
        answer = self.apply(LeaseGrantRequest(ID=lease, TTL=ttl_seconds))
        assert not isinstance(answer, EtcdError), answer
        self.leases[client] = lease
        self.pending[client] = deque()

    def machine(self, client: int) -> Machine:
        kind = self.clients[client].kind
        if kind == "observer":
            return observe.on_event
        return lock.on_event if kind == "lock" else election.on_event

    def start(self, client: int, step: Step[RecipeState, RecipeCommand]) -> None:
        self.clients[client] = step.state
        self.carry_out(client, step.commands)
        self.settle()

    def carry_out(self, client: int, commands: tuple[RecipeCommand, ...]) -> None:
        for command in commands:
            if isinstance(command, SendRequest):
                answer = self.apply(command.request)
                assert isinstance(
                    answer, TxnResponse | RangeResponse | DeleteRangeResponse | EtcdError
                )
                self.pending[client].append(Answered(answer=answer))
            elif isinstance(command, WatchKey):
                request = WatchCreateRequest(
                    key=command.key,
                    range_end=command.range_end,
                    start_revision=command.start_revision,
                )
                stream, responses = on_create(self.etcd, WatchStream(), request)
                self.watches[client] = stream
                events = tuple(event for response in responses for event in response.events)
                if events:
                    self.pending[client].append(Watched(events=events))
            elif isinstance(command, StopWatch):
                self.watches.pop(client, None)
            elif isinstance(command, Acquired):
                self.held[client] = command.revision
            elif isinstance(command, Released):
                self.held.pop(client, None)
            elif isinstance(command, Failed):
                self.failures[client] = command.reason
            elif isinstance(command, Observed):
                self.observed.setdefault(client, []).append(command)

    def settle(self) -> None:
        """Deliver watch events and answers to every running client until nothing moves."""
        for _ in range(10_000):
            for client, stream in list(self.watches.items()):
                stream, responses = deliver(self.etcd, stream)
                self.watches[client] = stream
                for response in responses:
                    if response.events:
                        watched = Watched(events=response.events, revision=response.header.revision)
                        self.pending[client].append(watched)
            ready = [c for c, queue in self.pending.items() if queue and c not in self.paused]
            if not ready:
                return
            client = ready[0]
            event = self.pending[client].popleft()
            step = self.machine(client)(self.clients[client], event)
            self.clients[client] = step.state
            self.carry_out(client, step.commands)
        raise AssertionError("the recipe world did not settle")

    def act(
        self, client: int, action: Callable[[RecipeState], Step[RecipeState, RecipeCommand]]
    ) -> None:
        step = action(self.clients[client])
        self.clients[client] = step.state
        self.carry_out(client, step.commands)
        self.settle()

    def advance(self, milliseconds: int) -> None:
        """Time passes: running clients renew their leases, etcd revokes expired ones."""
        self.now_ms += milliseconds
        for client, lease in self.leases.items():
            if client not in self.paused and lease in self.etcd.leases:
                self.apply(LeaseKeepAliveRequest(ID=lease))
        for lease in expired_leases(self.etcd, self.now_ms):
            self.apply(LeaseRevokeRequest(ID=lease))
        self.settle()

    def pause(self, client: int) -> None:
        self.paused.add(client)

    def resume(self, client: int) -> None:
        self.paused.discard(client)
        self.settle()

    def observe(self) -> LockObservation:
        return LockObservation(
            holders=tuple(
                Holder(client=client, lease=self.leases[client], token=token)
                for client, token in sorted(self.held.items())
            ),
            live_leases=frozenset(self.etcd.leases.keys()),
        )
