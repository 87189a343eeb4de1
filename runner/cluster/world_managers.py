"""Two kube-controller-manager replicas in the cluster world, electing a leader on a Lease
(``impl.controllers.leaderelection``); the leader runs the controllers (``impl.controllers``).

Election, each retry period of a replica's clock: read the Lease (404: none), fold it into the
replica's observation, decide, and create or update it (the update carries the read
``resourceVersion``, so of two racing candidates one gets a conflict). A successful write
renews; the first one makes the replica leader, at the Lease's new revision
(``acquired_revision``): it starts every controller from ``init`` and lists every resource
they watch, then watches. A leader that has not renewed within the renew deadline stops
leading and drops its controllers and informers (kube-controller-manager exits). A stopped
replica (the ``controller-failover`` fault) does nothing; started again, it is a fresh process.

The mutant ``controller-stale-cache-after-failover`` keeps its controllers and caches when it
stops leading (idle: no answers, ticks or lines reach them) and, leader again after a
failover, resumes its watches from now and acts on those caches without listing again.
"""

from __future__ import annotations

from typing import Any, Final

import immutables
import msgspec

from impl.controllers import (
    deployment,
    disruption,
    endpointslice,
    job,
    leaderelection,
    machine,
    replicaset,
)
from impl.controllers.leaderelection import ElectionConfig, LeaseRecord
from impl.controllers.plan import ControllerDef
from models.apiserver.clock import rfc3339
from models.apiserver.messages import ApiRequest
from models.controllers.config import ControllerConfig
from models.controllers.messages import (
    Answered,
    Call,
    ControllerEvent,
    Listed,
    Observed,
    Reconciled,
)
from models.controllers.messages import Tick as ControllerTick
from models.controllers.messages import Work as WorkEvent
from runner.cluster import world_informers as inf
from runner.cluster.world_api import Answer, ApiEngine, Work
from runner.cluster.world_state import START_SECONDS, Box, Caller, ManagerSlot

DEFINITIONS: Final[tuple[ControllerDef[Any], ...]] = (
    deployment.DEFINITION,
    replicaset.DEFINITION,
    endpointslice.DEFINITION,
    disruption.DEFINITION,
    job.DEFINITION,
)
WATCHED: Final = tuple(sorted({w.resource for d in DEFINITIONS for w in d.watches}))
STALE_MUTANT: Final = "controller-stale-cache-after-failover"
LEASE_PATH: Final = (
    f"/apis/coordination.k8s.io/v1/namespaces/{leaderelection.LEASE_NAMESPACE}/leases"
)
REPLICAS: Final = 2


class ControllerWrote(msgspec.Struct, frozen=True, kw_only=True):
    """An output: a leader's controller sent a write, with what its caches had listed."""

    replica: int
    controller: str
    method: str
    path: str
    acquired_revision: int
    listed: tuple[tuple[str, int], ...]


def epoch_ms(now_ms: int) -> int:
    """The world's time as the controllers' clock (ms since the epoch)."""
    return START_SECONDS * 1000 + now_ms


def component(replica: int) -> str:
    return f"manager-{replica}"


def _record(body: bytes) -> tuple[LeaseRecord, str]:
    lease: Any = msgspec.json.decode(body)
    spec = lease.get("spec") or {}
    record = LeaseRecord(
        holder=spec.get("holderIdentity") or "",
        duration_seconds=spec.get("leaseDurationSeconds") or 0,
        acquire_time=spec.get("acquireTime") or "",
        renew_time=spec.get("renewTime") or "",
        transitions=spec.get("leaseTransitions") or 0,
    )
    return record, str((lease.get("metadata") or {}).get("resourceVersion") or "")


def _lease_body(config: ElectionConfig, record: LeaseRecord, version: str) -> bytes:
    metadata: dict[str, Any] = {"name": config.name, "namespace": config.namespace}
    if version:
        metadata["resourceVersion"] = version
    spec = {
        "holderIdentity": record.holder,
        "leaseDurationSeconds": record.duration_seconds,
        "acquireTime": record.acquire_time,
        "renewTime": record.renew_time,
        "leaseTransitions": record.transitions,
    }
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": metadata}
    return msgspec.json.encode({**lease, "spec": spec})


class ManagerPart:
    """The controller managers' half of the cluster engine."""

    def __init__(self, api: ApiEngine, mutant: str) -> None:
        self.api = api
        self.mutant = mutant
        self.config = ControllerConfig()
        self.elections = tuple(ElectionConfig(identity=component(r)) for r in range(REPLICAS))

    def _set(self, work: Work, replica: int, slot: ManagerSlot) -> None:
        managers = work.state.managers
        work.state = msgspec.structs.replace(
            work.state, managers=(*managers[:replica], slot, *managers[replica + 1 :])
        )

    def boot(self, work: Work, replica: int) -> None:
        """A fresh process: a standby (the mutant lists its caches already)."""
        old = work.state.managers[replica]
        slot = ManagerSlot(incarnation=old.incarnation + 1, next_try_ms=work.state.now_ms)
        self._set(work, replica, slot)

    def stop(self, work: Work, replica: int) -> None:
        old = work.state.managers[replica]
        self._set(work, replica, ManagerSlot(up=False, incarnation=old.incarnation + 1))

    # Election -----------------------------------------------------------------------------

    def tick(self, work: Work, replica: int) -> None:
        slot = work.state.managers[replica]
        if not slot.up:
            return
        now = work.state.now_ms
        if slot.leading and leaderelection.lost(self.elections[replica], slot.renewed_ms, now):
            self._step_down(work, replica)
            slot = work.state.managers[replica]
        if slot.controllers and slot.leading:
            for index in range(len(DEFINITIONS)):
                self._feed(work, replica, index, ControllerTick(now_ms=epoch_ms(now)))
            slot = work.state.managers[replica]
        if slot.electing or now < slot.next_try_ms:
            return
        retry = self.elections[replica].retry_period_ms
        self._set(
            work, replica, msgspec.structs.replace(slot, electing=True, next_try_ms=now + retry)
        )
        caller = Caller(
            component=component(replica), purpose="lease-get", incarnation=slot.incarnation
        )
        path = f"{LEASE_PATH}/{leaderelection.LEASE_NAME}"
        self.api.send(work, ApiRequest(method="GET", path=path), caller)

    def _step_down(self, work: Work, replica: int) -> None:
        slot = work.state.managers[replica]
        keep = self.mutant == STALE_MUTANT
        self._set(work, replica, msgspec.structs.replace(
            slot, leading=False, acquired_revision=0,
            controllers=slot.controllers if keep else (),
            informers=slot.informers if keep else immutables.Map(),
        ))  # fmt: skip

    def _elect(self, work: Work, replica: int, caller: Caller, status: int, body: bytes) -> None:
        slot = work.state.managers[replica]
        config = self.elections[replica]
        now = work.state.now_ms
        if caller.purpose == "lease-get":
            if status not in (200, 404):
                self._set(work, replica, msgspec.structs.replace(slot, electing=False))
                return
            current, version = _record(body) if status == 200 else (None, "")
            observation = leaderelection.observe(slot.observation, current, now)
            decision = leaderelection.decide(
                config, observation, current, now, rfc3339(START_SECONDS + now // 1000)
            )
            slot = msgspec.structs.replace(slot, observation=observation)
            if isinstance(decision, leaderelection.Wait):
                self._set(work, replica, msgspec.structs.replace(slot, electing=False))
                return
            self._set(work, replica, slot)
            create = isinstance(decision, leaderelection.Create)
            lease = _lease_body(config, decision.record, "" if create else version)
            path = LEASE_PATH if create else f"{LEASE_PATH}/{config.name}"
            request = ApiRequest(
                method="POST" if create else "PUT",
                path=path,
                content_type="application/json",
                body=lease,
            )
            write = msgspec.structs.replace(caller, purpose="lease-write")
            self.api.send(work, request, write)
            return
        slot = msgspec.structs.replace(slot, electing=False)
        if status not in (200, 201):
            self._set(work, replica, slot)
            return
        record, version = _record(body)
        observation = leaderelection.observe(slot.observation, record, now)
        slot = msgspec.structs.replace(
            slot, observation=observation, renewed_ms=now, lease_version=version
        )
        if slot.leading:
            self._set(work, replica, slot)
            return
        slot = msgspec.structs.replace(slot, leading=True, acquired_revision=int(version or 0))
        self._set(work, replica, slot)
        if self.mutant == STALE_MUTANT and slot.controllers:
            # The mutant resumes its watches from now and acts on what it listed at boot.
            stale = immutables.Map(
                {r: msgspec.structs.replace(i, pending=()) for r, i in slot.informers.items()}
            )
            self._set(work, replica, msgspec.structs.replace(slot, informers=stale))
            return
        self._start_controllers(work, replica)

    def _start_controllers(self, work: Work, replica: int) -> None:
        now = work.state.now_ms
        slot = work.state.managers[replica]
        fresh = tuple(
            Box(machine.init(d, self.config, epoch_ms(now)).state, "") for d in DEFINITIONS
        )
        self._set(work, replica, msgspec.structs.replace(slot, controllers=fresh))
        for resource in WATCHED:
            slot = work.state.managers[replica]
            informers = inf.start_list(
                self.api, work, slot.informers, component(replica), resource, (), slot.incarnation
            )
            self._set(
                work,
                replica,
                msgspec.structs.replace(work.state.managers[replica], informers=informers),
            )

    # Controllers --------------------------------------------------------------------------

    def _feed(self, work: Work, replica: int, index: int, event: ControllerEvent) -> None:
        slot = work.state.managers[replica]
        box = slot.controllers[index] if index < len(slot.controllers) else None
        if box is None:
            return
        definition = DEFINITIONS[index]
        step = machine.on_event(definition, self.config, box.state, event)
        controllers = list(slot.controllers)
        controllers[index] = box.after(step.state, event)
        self._set(work, replica, msgspec.structs.replace(slot, controllers=tuple(controllers)))
        for command in step.commands:
            if isinstance(command, Reconciled):
                continue
            assert isinstance(command, Call)
            self._call(work, replica, index, command)

    def _call(self, work: Work, replica: int, index: int, command: Call) -> None:
        slot = work.state.managers[replica]
        call = command.call
        caller = Caller(
            component=component(replica),
            purpose="call",
            controller=index,
            token=command.request_id,
            incarnation=slot.incarnation,
        )
        if not slot.leading:
            # A replica that stopped leading sends nothing: its client is closed.
            work.queue.append(Answer(caller, 0, b""))
            return
        if call.method != "GET":
            watched = {w.resource for w in DEFINITIONS[index].watches}
            listed = tuple(
                sorted((r, i.listed_revision) for r, i in slot.informers.items() if r in watched)
            )
            work.outputs.append((component(replica), ControllerWrote(
                replica=replica, controller=DEFINITIONS[index].name, method=call.method,
                path=call.path, acquired_revision=slot.acquired_revision if slot.leading else -1,
                listed=listed,
            )))  # fmt: skip
        request = ApiRequest(
            method=call.method,
            path=call.path,
            query=call.query,
            content_type=call.content_type if call.body else "",
            user_agent="kube-controller-manager/kubeoracle",
            body=call.body,
        )
        self.api.send(work, request, caller)

    def can_work(self, slot: ManagerSlot, index: int) -> bool:
        if not slot.up or not slot.leading or index >= len(slot.controllers):
            return False
        box = slot.controllers[index]
        return box is not None and machine.has_work(DEFINITIONS[index], self.config, box.state)

    def work(self, work: Work, replica: int, index: int) -> bool:
        if not self.can_work(work.state.managers[replica], index):
            return False
        self._feed(work, replica, index, WorkEvent())
        return True

    # Answers and informers ----------------------------------------------------------------

    def answer(self, work: Work, caller: Caller, status: int, body: bytes) -> None:
        replica = int(caller.component.rsplit("-", 1)[1])
        slot = work.state.managers[replica]
        if not slot.up or caller.incarnation != slot.incarnation:
            return
        if caller.purpose in ("lease-get", "lease-write"):
            self._elect(work, replica, caller, status, body)
        elif caller.purpose == "call":
            # A replica that stopped leading hears no more answers: its calls end unknown.
            status, body = (status, body) if slot.leading else (0, b"")
            answer = Answered(request_id=caller.token, status=max(status, 0), body=body)
            self._feed(work, replica, caller.controller, answer)
        elif caller.purpose == inf.WATCH:
            informers = inf.watch_answer(slot.informers, caller, status, body)
            self._set(work, replica, msgspec.structs.replace(slot, informers=informers))
        elif caller.purpose == inf.LIST:
            self._listed(work, replica, caller, status, body)

    def _listed(self, work: Work, replica: int, caller: Caller, status: int, body: bytes) -> None:
        slot = work.state.managers[replica]
        found = inf.listed(body) if status == 200 else None
        if found is None:
            informers = inf.list_failed(slot.informers, caller.resource)
            self._set(work, replica, msgspec.structs.replace(slot, informers=informers))
            return
        items, revision = found
        self._broadcast(
            work, replica, caller.resource, Listed(resource=caller.resource, items=items)
        )
        slot = work.state.managers[replica]
        informers = inf.start_watch(
            self.api, work, slot.informers, component(replica), caller.resource, (), revision,
            slot.incarnation,
        )  # fmt: skip
        self._set(
            work,
            replica,
            msgspec.structs.replace(work.state.managers[replica], informers=informers),
        )

    def _broadcast(self, work: Work, replica: int, resource: str, event: ControllerEvent) -> None:
        for index, definition in enumerate(DEFINITIONS):
            if any(w.resource == resource for w in definition.watches):
                self._feed(work, replica, index, event)

    def inform(self, work: Work, replica: int, resource: str) -> bool:
        slot = work.state.managers[replica]
        informer = slot.informers.get(resource)
        if not slot.up or informer is None or not slot.controllers or not slot.leading:
            return False
        if inf.needs_list(informer):
            informers = inf.start_list(
                self.api, work, slot.informers, component(replica), resource, (), slot.incarnation
            )
            self._set(
                work,
                replica,
                msgspec.structs.replace(work.state.managers[replica], informers=informers),
            )
            return True
        taken = inf.take_lines(slot.informers, resource)
        if taken is None:
            return False
        self._set(work, replica, msgspec.structs.replace(slot, informers=taken[0]))
        found, failed = inf.changes(taken[1])
        for kind, obj in found:
            raw = msgspec.json.encode(obj)
            observed = Observed(resource=resource, change=kind, raw=raw)  # type: ignore[arg-type]
            self._broadcast(work, replica, resource, observed)
        if failed:
            informers = inf.list_failed(work.state.managers[replica].informers, resource)
            self._set(
                work,
                replica,
                msgspec.structs.replace(work.state.managers[replica], informers=informers),
            )
        return True
