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
from google.protobuf.message import Message

from impl.etcd.recipes import election, lock, observe
from impl.etcd.recipes.queue import RecipeStep
from models.etcd import (
    DeleteRangeRequest,
    DeleteRangeResponse,
    EtcdError,
    EtcdRequest,
    EtcdResponse,
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
                    raise _failed(answer.message)
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
    step: RecipeStep,
    machine: Callable[[RecipeState, RecipeEvent], RecipeStep],
    until: frozenset[RecipePhase],
) -> tuple[RecipeState, tuple[ResponseHeader, ...]]:
    """Run a recipe to a phase of ``until``: its state and the headers of the answers it got,
    in order; RecipeFailed on an error."""
    driver = _Driver(service)
    state = await driver.run(step, machine, until)
    return state, tuple(driver.headers)


def _header(service: EtcdService, header: ResponseHeader) -> rpc_pb2.ResponseHeader:
    return grpc_codec.encode(to_gateway(service.header(header.revision)), rpc_pb2.ResponseHeader())


def _failed(message: str) -> RecipeFailed:
    """etcd's recipe servers call etcd through a Go client, whose errors lose their gRPC
    code on the way back: every error of these services is Unknown, with etcd's message."""
    return RecipeFailed(EtcdError(code=grpc.StatusCode.UNKNOWN.value[0], message=message))


async def _ask(service: EtcdService, request: EtcdRequest) -> EtcdResponse:
    answer = await service.unary(request)
    if isinstance(answer, EtcdError):
        raise _failed(answer.message)
    return answer


async def _session_lease(service: EtcdService, lease: int) -> int:
    """The request's lease, or a new one of the session TTL when it names none."""
    if lease != 0:
        return lease
    granted = await _ask(service, LeaseGrantRequest(TTL=SESSION_TTL_SECONDS))
    assert isinstance(granted, LeaseGrantResponse)
    return granted.ID


async def lock_lock(
    service: EtcdService, request: v3lock_pb2.LockRequest
) -> v3lock_pb2.LockResponse:
    """``Lock.Lock``: a mutex on the request's lease; answered once held."""
    lease = await _session_lease(service, request.lease)
    step = lock.lock(request.name, lease)
    state, headers = await _run_recipe(service, step, lock.on_event, frozenset({"held"}))
    answer = v3lock_pb2.LockResponse(key=state.key)
    answer.header.CopyFrom(_header(service, headers[-1]))
    return answer


async def lock_unlock(
    service: EtcdService, request: v3lock_pb2.UnlockRequest
) -> v3lock_pb2.UnlockResponse:
    """``Lock.Unlock``: delete the key."""
    deleted = await _ask(service, DeleteRangeRequest(key=request.key))
    answer = v3lock_pb2.UnlockResponse()
    answer.header.CopyFrom(_header(service, deleted.header))
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


async def election_campaign(
    service: EtcdService, request: v3election_pb2.CampaignRequest
) -> v3election_pb2.CampaignResponse:
    """``Election.Campaign``: answered once the candidate leads."""
    lease = await _session_lease(service, request.lease)
    step = election.campaign(request.name, lease, request.value)
    state, headers = await _run_recipe(service, step, election.on_event, frozenset({"held"}))
    leader = v3election_pb2.LeaderKey(
        name=request.name, key=state.key, rev=state.revision, lease=lease
    )
    answer = v3election_pb2.CampaignResponse(leader=leader)
    answer.header.CopyFrom(_header(service, headers[0]))
    return answer


async def election_proclaim(
    service: EtcdService, request: v3election_pb2.ProclaimRequest
) -> v3election_pb2.ProclaimResponse:
    """``Election.Proclaim``: the named leader's new value."""
    if not request.HasField("leader"):
        raise _failed(ERROR_MISSING_LEADER)
    step = election.proclaim(_resumed(request.leader), request.value)
    _, headers = await _run_recipe(service, step, election.on_event, frozenset({"held"}))
    answer = v3election_pb2.ProclaimResponse()
    answer.header.CopyFrom(_header(service, headers[-1]))
    return answer


async def election_resign(
    service: EtcdService, request: v3election_pb2.ResignRequest
) -> v3election_pb2.ResignResponse:
    """``Election.Resign``: delete the named leader's key if it is still its own."""
    if not request.HasField("leader"):
        raise _failed(ERROR_MISSING_LEADER)
    step = election.resign(_resumed(request.leader))
    _, headers = await _run_recipe(service, step, election.on_event, frozenset({"released"}))
    answer = v3election_pb2.ResignResponse()
    answer.header.CopyFrom(_header(service, headers[-1]))
    return answer


async def election_leader(
    service: EtcdService, request: v3election_pb2.LeaderRequest
) -> v3election_pb2.LeaderResponse:
    """``Election.Leader``: the key created first."""
    found = await _ask(service, election.leader_request(request.name))
    assert isinstance(found, RangeResponse)
    kv = election.leader(found)
    if kv is None:
        raise _failed(ERROR_NO_LEADER)
    answer = v3election_pb2.LeaderResponse(kv=grpc_codec.encode(to_gateway(kv), kv_pb2.KeyValue()))
    answer.header.CopyFrom(_header(service, found.header))
    return answer


UNARY_RECIPES: Final[dict[str, tuple[str, Callable[..., Any], type[Message]]]] = {
    "/v3/lock/lock": ("Lock", lock_lock, v3lock_pb2.LockRequest),
    "/v3/lock/unlock": ("Unlock", lock_unlock, v3lock_pb2.UnlockRequest),
    "/v3/election/campaign": ("Campaign", election_campaign, v3election_pb2.CampaignRequest),
    "/v3/election/proclaim": ("Proclaim", election_proclaim, v3election_pb2.ProclaimRequest),
    "/v3/election/leader": ("Leader", election_leader, v3election_pb2.LeaderRequest),
    "/v3/election/resign": ("Resign", election_resign, v3election_pb2.ResignRequest),
}
"""The unary methods by their gateway path (etcd's grpc-gateway routes): the gRPC method name,
the function answering it, and its protobuf request."""


async def answer_gateway(
    service: EtcdService, path: str, request: dict[str, Any]
) -> dict[str, Any] | EtcdError:
    """A recipe method called through the gateway: ``request`` is the decoded body in its
    gateway JSON form; the answer is the response's gateway JSON, or the error."""
    _, answer, request_type = UNARY_RECIPES[path]
    try:
        response = await answer(service, grpc_codec.encode(request, request_type()))
    except RecipeFailed as failed:
        return failed.error
    return grpc_codec.as_json(response)


def _grpc_behaviour(
    service: EtcdService, answer: Callable[..., Any]
) -> Callable[[Any, Context], Any]:
    async def behaviour(request: Any, context: Context) -> Any:
        try:
            return await answer(service, request)
        except RecipeFailed as failed:
            await _abort(context, failed.error)

    return behaviour


async def _abort(context: Context, error: EtcdError) -> NoReturn:
    await context.abort(grpc_codec.status_code(error), error.message)
    raise AssertionError("abort returned")  # pragma: no cover


async def observe_answers(
    service: EtcdService, request: v3election_pb2.LeaderRequest
) -> AsyncIterator[v3election_pb2.LeaderResponse]:
    """``Election.Observe``: the leader, then every new value and every new leader, until the
    client goes away; RecipeFailed if a request of the observer fails."""
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
            raise error
    finally:
        following.cancel()
        with contextlib.suppress(asyncio.CancelledError, RecipeFailed):
            await following


async def observe_leader(
    service: EtcdService, request: v3election_pb2.LeaderRequest, context: Context
) -> AsyncIterator[v3election_pb2.LeaderResponse]:
    """``Election.Observe`` over gRPC. A request of the observer that fails (a read the
    caller may not make) ends the stream with status OK, as etcd's election server does: its
    client-side ``Observe`` closes its channel on an error, and the server returns nil."""
    del context
    with contextlib.suppress(RecipeFailed):
        async for answer in observe_answers(service, request):
            yield answer


def recipe_handlers(service: EtcdService) -> tuple[list[grpc.GenericRpcHandler], frozenset[str]]:
    """The v3lock and v3election services' handlers, and their full names."""
    lock_service = v3lock_pb2.DESCRIPTOR.services_by_name["Lock"]
    election_service = v3election_pb2.DESCRIPTOR.services_by_name["Election"]
    behaviours: dict[str, dict[str, Callable[..., Any]]] = {
        lock_service.full_name: {},
        election_service.full_name: {
            "Observe": lambda request, context: observe_leader(service, request, context)
        },
    }
    for path, (method, answer, _) in UNARY_RECIPES.items():
        name = (
            lock_service.full_name if path.startswith("/v3/lock/") else election_service.full_name
        )
        behaviours[name][method] = _grpc_behaviour(service, answer)
    handlers = [
        grpc_registry.service_handler(lock_service, behaviours[lock_service.full_name]),
        grpc_registry.service_handler(election_service, behaviours[election_service.full_name]),
    ]
    return handlers, frozenset(behaviours)
