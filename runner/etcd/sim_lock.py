"""The lock workload of ``simulate etcd``: clients take etcd's lock recipe in turns and write to
two resources it guards, one fenced and one not.

Theory of operation. Each client grants itself a lease (the run's TTL) and keeps it alive, then
runs :mod:`impl.etcd.recipes.lock` (the pure recipe of etcd's ``concurrency.Mutex``): its
requests go through the simulated members like any client's, and every answer the recipe waits
for is fed back to it (:class:`runner.etcd.workload.LockClient` keeps the recipe state and the
request it waits on, sent again after an unknown outcome, and the watch it wants). A waiter's
watch on the key before its own is a watch stream the world keeps open on a member
(``runner.etcd.world``), reopened from the recipe's start revision on another member if its
member crashes; its events reach the recipe through :meth:`LockWorkload.watched`, and a
cancellation by compaction makes the waiter ask again (:meth:`LockWorkload.compacted`). A
holder unlocks now and then; a client
whose keepalive answers TTL 0 learns its lease (and so its lock) is gone and starts over.

Each time a client that believes it holds the lock acts (before each request it sends), it
writes to both resources with its fencing token, the create revision of its lock key
(:func:`write_resources`; :mod:`impl.etcd.recipes.fenced`). A client may be paused
(``ClientPause``, drawn by the seed like the members' pauses): it sends nothing, renews nothing
and, when the pause is longer than the TTL, etcd revokes its lease and the next waiter takes
the lock while the paused client still believes it holds it. ``runner.etcd.sim_lock_check``
judges what follows. The history of this workload is not judged for linearizability: the
keyspace model (``spec.etcd.keyspace``) does not implement the recipe's sorted and
revision-filtered ranges.
"""

from __future__ import annotations

import random
from typing import Final, final

import msgspec

from impl.etcd.recipes import fenced, lock
from impl.etcd.recipes.queue import check
from models.etcd import (
    DeleteRangeRequest,
    DeleteRangeResponse,
    Event,
    LeaseGrantRequest,
    LeaseKeepAliveRequest,
    LeaseKeepAliveResponse,
    RangeRequest,
    RangeResponse,
    TxnRequest,
    TxnResponse,
)
from models.etcd_recipes import (
    Answered,
    RecipeEvent,
    ResourceObservation,
    ResourceWrite,
    SendRequest,
    StopWatch,
    Watched,
    WatchKey,
)
from models.etcd_world import EtcdSetup
from models.history import EtcdAnswer, EtcdOperation
from runner.etcd import workload
from runner.etcd.workload import ClientKnowledge, LockClient

LOCK_PREFIX: Final = b"sim-lock"
"""The lock's name: clients' keys are ``sim-lock/<lease hex>``."""
KEEPALIVE_PERCENT: Final = 40
UNLOCK_PERCENT: Final = 20
LOCK_TTL_MAX_SECONDS: Final = 5
"""The lock workload caps the drawn TTL so that a pause can outlast it within a run."""


class LockResources(msgspec.Struct, frozen=True, kw_only=True):
    """The two resources the lock guards: one checks fencing tokens, one trusts the lock."""

    fenced: ResourceObservation = ResourceObservation()
    unfenced: ResourceObservation = ResourceObservation()


def holds(knows: ClientKnowledge) -> bool:
    """The client believes it holds the lock."""
    recipe = knows.lock.recipe
    return recipe is not None and recipe.phase == "held"


def write_resources(resources: LockResources, knows: ClientKnowledge) -> LockResources:
    """A client acts: if it believes it holds the lock, it writes both resources first."""
    recipe = knows.lock.recipe
    if recipe is None or recipe.phase != "held":
        return resources
    attempt = ResourceWrite(client=knows.client, token=recipe.revision)
    guarded, _ = fenced.write(resources.fenced, attempt, fenced=True)
    trusting, _ = fenced.write(resources.unfenced, attempt, fenced=False)
    return LockResources(fenced=guarded, unfenced=trusting)


def _feed(client: LockClient, event: RecipeEvent) -> LockClient:
    """Hand the recipe an event; keep the request it sends next and the watch it wants."""
    assert client.recipe is not None
    step = lock.on_event(client.recipe, event)
    pending: TxnRequest | RangeRequest | DeleteRangeRequest | None = None
    watch_key, watch_from = client.watch_key, client.watch_from
    for command in step.commands:
        if isinstance(command, SendRequest):
            pending = command.request
        elif isinstance(command, WatchKey):
            watch_key, watch_from = command.key, command.start_revision
        elif isinstance(command, StopWatch):
            watch_key, watch_from = b"", 0
    return LockClient(
        lease=client.lease,
        recipe=step.state,
        pending=pending,
        watch_key=watch_key,
        watch_from=watch_from,
    )


@final
class LockWorkload:
    """Lease grants and keepalives, the lock recipe's requests, unlocks (see the module
    docstring)."""

    def next_request(
        self, prng: random.Random, knows: ClientKnowledge, setup: EtcdSetup
    ) -> EtcdOperation:
        client = knows.lock
        if not client.lease:
            return LeaseGrantRequest(TTL=setup.lease_ttl_seconds, ID=workload.lease_id(knows))
        keepalive = LeaseKeepAliveRequest(ID=client.lease)
        choice = prng.randrange(100)
        if choice < KEEPALIVE_PERCENT:
            return keepalive
        if client.pending is not None:
            return client.pending
        recipe = client.recipe
        if recipe is None or recipe.phase in ("released", "failed"):
            return lock.acquire_request(LOCK_PREFIX, client.lease)
        if recipe.phase == "held" and choice < KEEPALIVE_PERCENT + UNLOCK_PERCENT:
            return DeleteRangeRequest(key=recipe.key)
        return keepalive

    def called(self, knows: ClientKnowledge, request: EtcdOperation) -> ClientKnowledge:
        knows = workload.called(knows, request)
        client = knows.lock
        recipe = client.recipe
        idle = recipe is None or recipe.phase in ("released", "failed")
        if isinstance(request, TxnRequest) and client.pending is None and idle:
            step = lock.lock(LOCK_PREFIX, client.lease)
            client = LockClient(lease=client.lease, recipe=step.state, pending=request)
        elif isinstance(request, DeleteRangeRequest) and recipe is not None and holds(knows):
            step = lock.unlock(recipe)
            client = LockClient(lease=client.lease, recipe=step.state, pending=request)
        return msgspec.structs.replace(knows, lock=client)

    def learn(
        self, knows: ClientKnowledge, request: EtcdOperation, response: EtcdAnswer
    ) -> ClientKnowledge:
        knows = workload.learn(knows, request, response)
        client = knows.lock
        if isinstance(request, LeaseGrantRequest):
            client = LockClient(lease=request.ID)
        elif (
            isinstance(request, LeaseKeepAliveRequest)
            and isinstance(response, LeaseKeepAliveResponse)
            and client.lease == request.ID
            and response.TTL == 0
        ):
            client = LockClient()  # the lease is gone, and the lock with it: start over
        elif (
            client.recipe is not None
            and request == client.pending
            and isinstance(response, TxnResponse | RangeResponse | DeleteRangeResponse)
        ):
            client = _feed(client, Answered(answer=response))
        return msgspec.structs.replace(knows, lock=client)

    def watched(
        self, knows: ClientKnowledge, events: tuple[Event, ...], revision: int
    ) -> ClientKnowledge:
        """Events of the client's watch reach the recipe."""
        if knows.lock.recipe is None or not events:
            return knows
        return msgspec.structs.replace(
            knows, lock=_feed(knows.lock, Watched(events=events, revision=revision))
        )

    def compacted(self, knows: ClientKnowledge) -> ClientKnowledge:
        """The watch was cancelled (its start revision compacted): ask again for the key
        before the client's own, as the recipe does after a DELETE."""
        client = knows.lock
        if client.recipe is None or client.recipe.phase != "waiting":
            return knows
        step = check(client.recipe)
        request = step.commands[0]
        assert isinstance(request, SendRequest)
        again = LockClient(lease=client.lease, recipe=step.state, pending=request.request)
        return msgspec.structs.replace(knows, lock=again)
