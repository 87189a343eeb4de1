"""etcd's v3lock and v3election gRPC services, running the pure recipes of impl/etcd/recipes
inside the server, as etcd 3.4 runs its concurrency package inside its own.

Theory of operation. :func:`drive` carries out a recipe client's commands against the
:class:`~runner.etcd.service.EtcdService` (a request goes through the same path as a client's;
a watch is a service watch session) and feeds the answers and events back to the machine until
it reaches a phase the caller waits for. Each gRPC method builds the recipe client etcd's server
builds: ``Lock`` a mutex on the request's lease (a session lease of 60 s is granted when the
request names none, and nobody keeps it alive, as etcd's orphaned session), ``Campaign`` an
election; ``Proclaim`` and ``Resign`` resume the leader named in the request; ``Unlock`` deletes
the key. Answers carry the header etcd's recipes report (the answer that completed the lock; the
campaign txn's). Every error is Unknown with etcd's message, as etcd answers (its recipe
servers reach etcd through a Go client that drops the code): ``election: no leader``,
``election: not leader``, ``etcdserver: requested lease not found``.
``Election.Observe`` follows the leader with ``impl.etcd.recipes.observe``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any, Final, NoReturn

import grpc

from impl.etcd.recipes import election, lock, observe
from impl.etcd.recipes.queue import RecipeStep
from models.etcd import (
    DeleteRangeRequest,
    DeleteRangeResponse,
    EtcdError,
    LeaseGrantRequest,
    LeaseGrantResponse,
    RangeResponse,
    ResponseHeader,
    TxnResponse,
    WatchCreateRequest,
    WatchResponse,
)
from models.etcd_decode import WatchStreamRequest
from models.etcd_json import to_gateway
from models.etcd_recipes import (
    Answered,
    Failed,
    Observed,
    RecipeEvent,
    RecipePhase,
    RecipeState,
    SendRequest,
    StopWatch,
    Watched,
    WatchKey,
)
from runner.etcd import grpc_codec, grpc_registry
from runner.etcd.etcdpb import (
    kv_pb2,
    rpc_pb2,
    v3election_pb2,
    v3lock_pb2,
)
from runner.etcd.service import EtcdService

Context = grpc.aio.ServicerContext[Any, Any]
SESSION_TTL_SECONDS: Final = 60
"""The TTL of the lease etcd's server-side session grants when a request names none."""
ERROR_NO_LEADER: Final = "election: no leader"
ERROR_MISSING_LEADER: Final = '"leader" field must be provided'


class RecipeFailed(Exception):  # noqa: N818 (an answer, not a bug)
    """The recipe ended on an error: etcd's (with its code) or the recipe's own."""

    def __init__(self, error: EtcdError) -> None:
        super().__init__(error.message)
        self.error = error


class _Driver:
    """One recipe client's commands carried out against the service."""

    def __init__(self, service: EtcdService) -> None:
        self.service = service
        self.events: asyncio.Queue[RecipeEvent] = asyncio.Queue()
        self.headers: list[ResponseHeader] = []
        self.failure: str | None = None
        self.watch_task: asyncio.Task[None] | None = None
        self.watch_stop = asyncio.Event()
        self.observed: asyncio.Queue[Observed] = asyncio.Queue()

    async def carry_out(self, step: RecipeStep) -> None:
        for command in step.commands:
            if isinstance(command, SendRequest):
                answer = await self.service.unary(command.request)
                if isinstance(answer, EtcdError):
                    raise RecipeFailed(answer)
                assert isinstance(answer, TxnResponse | RangeResponse | DeleteRangeResponse)
                self.headers.append(answer.header)
                self.events.put_nowait(Answered(answer=answer))
            elif isinstance(command, WatchKey):
                await self.stop_watch()
                self.watch_task = asyncio.create_task(self._watch(command))
            elif isinstance(command, StopWatch):
                await self.stop_watch()
            elif isinstance(command, Failed):
                self.failure = command.reason
            elif isinstance(command, Observed):
                self.observed.put_nowait(command)

    async def _watch(self, command: WatchKey) -> None:
        incoming: asyncio.Queue[WatchStreamRequest | None] = asyncio.Queue()
        incoming.put_nowait(
            WatchCreateRequest(
                key=command.key, range_end=command.range_end, start_revision=command.start_revision
            )
        )
        self.watch_stop = asyncio.Event()

        async def send(response: WatchResponse) -> None:
            if response.events:
                watched = Watched(events=response.events, revision=response.header.revision)
                self.events.put_nowait(watched)

        await self.service.watch(incoming, send, self.watch_stop)

    async def stop_watch(self) -> None:
        task, self.watch_task = self.watch_task, None
        if task is not None:
            self.watch_stop.set()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def run(
        self,
        step: RecipeStep,
        machine: Callable[[RecipeState, RecipeEvent], RecipeStep],
        until: frozenset[RecipePhase],
    ) -> RecipeState:
        """Run until the client reaches a phase of ``until``; raise RecipeFailed on an error."""
        state = step.state
        try:
            await self.carry_out(step)
            while state.phase not in until and self.failure is None:
                step = machine(state, await self.events.get())
                state = step.state
                await self.carry_out(step)
        finally:
            await self.stop_watch()
        if self.failure is not None:
            raise RecipeFailed(
                EtcdError(code=grpc.StatusCode.UNKNOWN.value[0], message=self.failure)
            )
        return state


async def _run_recipe(
    service: EtcdService,
    context: Context,
    step: RecipeStep,
    machine: Callable[[RecipeState, RecipeEvent], RecipeStep],
    until: frozenset[RecipePhase],
) -> tuple[RecipeState, tuple[ResponseHeader, ...]]:
    """Run a recipe to a phase of ``until``: its state and the headers of the answers it got,
    in order (or the call is aborted with etcd's answer)."""
    driver = _Driver(service)
    try:
        state = await driver.run(step, machine, until)
    except RecipeFailed as failed:
        await _abort(context, failed.error)
    return state, tuple(driver.headers)


def _header(service: EtcdService, header: ResponseHeader) -> rpc_pb2.ResponseHeader:
    return grpc_codec.encode(to_gateway(service.header(header.revision)), rpc_pb2.ResponseHeader())


async def _abort(context: Context, error: EtcdError) -> NoReturn:
    """etcd's recipe servers call etcd through a Go client, whose errors lose their gRPC
    code on the way back: every error of these services is Unknown, with etcd's message."""
    await context.abort(grpc.StatusCode.UNKNOWN, error.message)
    raise AssertionError("abort returned")  # pragma: no cover


async def _session_lease(service: EtcdService, lease: int, context: Context) -> int:
    """The request's lease, or a new one of the session TTL when it names none."""
    if lease != 0:
        return lease
    granted = await service.unary(LeaseGrantRequest(TTL=SESSION_TTL_SECONDS))
    if isinstance(granted, EtcdError):
        await _abort(context, granted)
    assert isinstance(granted, LeaseGrantResponse)
    return granted.ID


class Lock:
    """``v3lockpb.Lock``."""

    def __init__(self, service: EtcdService) -> None:
        self.service = service

    async def Lock(
        self, request: v3lock_pb2.LockRequest, context: Context
    ) -> v3lock_pb2.LockResponse:
        lease = await _session_lease(self.service, request.lease, context)
        step = lock.lock(request.name, lease)
        state, headers = await _run_recipe(
            self.service, context, step, lock.on_event, frozenset({"held"})
        )
        answer = v3lock_pb2.LockResponse(key=state.key)
        answer.header.CopyFrom(_header(self.service, headers[-1]))
        return answer

    async def Unlock(
        self, request: v3lock_pb2.UnlockRequest, context: Context
    ) -> v3lock_pb2.UnlockResponse:
        deleted = await self.service.unary(DeleteRangeRequest(key=request.key))
        if isinstance(deleted, EtcdError):
            await _abort(context, deleted)
        answer = v3lock_pb2.UnlockResponse()
        answer.header.CopyFrom(_header(self.service, deleted.header))
        return answer


def _resumed(leader: v3election_pb2.LeaderKey) -> RecipeState:
    """A leader named by a request (etcd's ``ResumeElection``)."""
    return RecipeState(
        kind="election",
        prefix=leader.name,
        lease=leader.lease,
        key=leader.key,
        revision=leader.rev,
        phase="held",
    )


class Election:
    """``v3electionpb.Election`` (Observe is :func:`observe_leader`)."""

    def __init__(self, service: EtcdService) -> None:
        self.service = service

    async def Campaign(
        self, request: v3election_pb2.CampaignRequest, context: Context
    ) -> v3election_pb2.CampaignResponse:
        lease = await _session_lease(self.service, request.lease, context)
        step = election.campaign(request.name, lease, request.value)
        state, headers = await _run_recipe(
            self.service, context, step, election.on_event, frozenset({"held"})
        )
        leader = v3election_pb2.LeaderKey(
            name=request.name, key=state.key, rev=state.revision, lease=lease
        )
        answer = v3election_pb2.CampaignResponse(leader=leader)
        answer.header.CopyFrom(_header(self.service, headers[0]))
        return answer

    async def Proclaim(
        self, request: v3election_pb2.ProclaimRequest, context: Context
    ) -> v3election_pb2.ProclaimResponse:
        if not request.HasField("leader"):
            await _abort(context, EtcdError(code=2, message=ERROR_MISSING_LEADER))
        step = election.proclaim(_resumed(request.leader), request.value)
        _, headers = await _run_recipe(
            self.service, context, step, election.on_event, frozenset({"held"})
        )
        answer = v3election_pb2.ProclaimResponse()
        answer.header.CopyFrom(_header(self.service, headers[-1]))
        return answer

    async def Resign(
        self, request: v3election_pb2.ResignRequest, context: Context
    ) -> v3election_pb2.ResignResponse:
        if not request.HasField("leader"):
            await _abort(context, EtcdError(code=2, message=ERROR_MISSING_LEADER))
        step = election.resign(_resumed(request.leader))
        _, headers = await _run_recipe(
            self.service, context, step, election.on_event, frozenset({"released"})
        )
        answer = v3election_pb2.ResignResponse()
        answer.header.CopyFrom(_header(self.service, headers[-1]))
        return answer

    async def Leader(
        self, request: v3election_pb2.LeaderRequest, context: Context
    ) -> v3election_pb2.LeaderResponse:
        found = await self.service.unary(election.leader_request(request.name))
        if isinstance(found, EtcdError):
            await _abort(context, found)
        assert isinstance(found, RangeResponse)
        kv = election.leader(found)
        if kv is None:
            await _abort(context, EtcdError(code=2, message=ERROR_NO_LEADER))
        answer = v3election_pb2.LeaderResponse(
            kv=grpc_codec.encode(to_gateway(kv), kv_pb2.KeyValue())
        )
        answer.header.CopyFrom(_header(self.service, found.header))
        return answer


async def observe_leader(
    service: EtcdService, request: v3election_pb2.LeaderRequest, context: Context
) -> AsyncIterator[v3election_pb2.LeaderResponse]:
    """``Election.Observe``: the leader, then every new value and every new leader, until the
    client goes away."""
    driver = _Driver(service)
    following = asyncio.create_task(
        driver.run(observe.observe(request.name), observe.on_event, frozenset({"failed"}))
    )
    try:
        while True:
            seen = asyncio.create_task(driver.observed.get())
            await asyncio.wait({seen, following}, return_when=asyncio.FIRST_COMPLETED)
            if not seen.done():
                seen.cancel()
                break
            observed = seen.result()
            answer = v3election_pb2.LeaderResponse(
                kv=grpc_codec.encode(to_gateway(observed.kv), kv_pb2.KeyValue())
            )
            answer.header.CopyFrom(_header(service, ResponseHeader(revision=observed.revision)))
            yield answer
        error = following.exception()
        if isinstance(error, RecipeFailed):
            await _abort(context, error.error)
    finally:
        following.cancel()
        with contextlib.suppress(asyncio.CancelledError, RecipeFailed):
            await following


def recipe_handlers(service: EtcdService) -> tuple[list[grpc.GenericRpcHandler], frozenset[str]]:
    """The v3lock and v3election services' handlers, and their full names."""
    lock_service = v3lock_pb2.DESCRIPTOR.services_by_name["Lock"]
    election_service = v3election_pb2.DESCRIPTOR.services_by_name["Election"]
    locks, elections = Lock(service), Election(service)
    handlers = [
        grpc_registry.service_handler(lock_service, {"Lock": locks.Lock, "Unlock": locks.Unlock}),
        grpc_registry.service_handler(
            election_service,
            {
                "Campaign": elections.Campaign,
                "Proclaim": elections.Proclaim,
                "Resign": elections.Resign,
                "Leader": elections.Leader,
                "Observe": lambda request, context: observe_leader(service, request, context),
            },
        ),
    ]
    return handlers, frozenset({lock_service.full_name, election_service.full_name})
