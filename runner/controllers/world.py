"""The controllers' simulation world: the reference API server (``world_api``), the
Deployment, ReplicaSet and garbage-collector controllers, and simulated kubelets.

Theory of operation. The state is one immutable value: the API server and etcd
(``ApiValue``) and, per controller, its machine state (``None`` while crashed) and its
informers (the API watch each follows and the watch lines it has not handed over yet). A
controller's calls are carried out at once, in order, and each answer fed back (a
``LoseAnswer`` fault loses the next write: never applied, answered status 0). Watch lines the
API server emits queue at every informer watching that resource; ``Deliver`` hands one over,
so caches lag behind the store as much as the schedule makes them. A restarted controller
(crash, leader failover) starts from ``init`` and lists every resource before it watches
again; a broken watch lists again. Kubelets bind, run and finish pods with ``fixture``'s
writes; a deleted pod finishes once its grace period has passed.
Users change the desired state through the API (``User``).
"""

from __future__ import annotations

from typing import Any, Final

import immutables
import msgspec

from impl.apiserver.context import Config, builtin_config
from impl.controllers import deployment, garbagecollector, machine, replicaset
from impl.controllers.machine import ControllerState
from impl.controllers.plan import ControllerDef
from models.apiserver.clock import parse_rfc3339
from models.apiserver.messages import ApiRequest
from models.controllers.config import ControllerConfig
from models.controllers.messages import (
    Answered,
    ApiCall,
    Call,
    ControllerCommand,
    ControllerEvent,
    Listed,
    Observed,
    Reconciled,
    Tick,
)
from models.controllers.messages import Work as WorkEvent
from models.controllers.resources import RESOURCES
from models.controllers.world import (
    Advance,
    Advanced,
    BreakWatch,
    ControllersAction,
    ControllersOutput,
    ControllersSetup,
    Crash,
    Deliver,
    Failover,
    Kubelet,
    LoseAnswer,
    Restart,
    User,
    Work,
    Wrote,
)
from runner.controllers import fixture, world_api
from runner.controllers.world_api import ApiValue
from runner.controllers.world_user import user_request
from runner.sim.world import Applied, NotEnabled

DEFINITIONS: Final[tuple[ControllerDef[Any], ...]] = (
    deployment.DEFINITION,
    replicaset.DEFINITION,
    garbagecollector.DEFINITION,
)
PODS: Final = "/api/v1/pods"


class Informer(msgspec.Struct, frozen=True, kw_only=True):
    watch_id: int
    pending: tuple[bytes, ...] = ()


class Slot(msgspec.Struct, frozen=True, kw_only=True):
    state: ControllerState[Any] | None = None
    informers: immutables.Map[str, Informer] = msgspec.field(default_factory=immutables.Map)
    lose_next: bool = False


class ControllersState(msgspec.Struct, frozen=True, kw_only=True):
    api: ApiValue
    slots: tuple[Slot, ...]


Step = Applied[ControllersState, ControllersOutput]


def _request(call: ApiCall) -> ApiRequest:
    return ApiRequest(
        method=call.method,
        path=call.path,
        query=call.query,
        content_type=call.content_type if call.body else "",
        user_agent="kube-controller-manager/kubeoracle",
        body=call.body,
    )


class Engine:
    """Carries out actions on the state value (all methods pure in the state)."""

    def __init__(self, setup: ControllersSetup) -> None:
        self.setup = setup
        self.api_config: Config = builtin_config()
        self.config = ControllerConfig(mutant=setup.mutant)

    # The API server ---------------------------------------------------------------------

    def send(
        self, state: ControllersState, request: ApiRequest
    ) -> tuple[ControllersState, int, bytes]:
        """One request; its status and body (0 and b"" when it opened a watch)."""
        api, answered = world_api.send(self.api_config, state.api, request)
        state = self._route(msgspec.structs.replace(state, api=api), answered)
        response = answered.response
        return state, (response.status if response else 0), (response.body if response else b"")

    def _route(self, state: ControllersState, answered: world_api.Answered) -> ControllersState:
        if not answered.lines:
            return state
        slots = []
        for slot in state.slots:
            informers = slot.informers
            for resource, informer in slot.informers.items():
                lines = tuple(line for wid, line in answered.lines if wid == informer.watch_id)
                if lines:
                    informers = informers.set(
                        resource,
                        msgspec.structs.replace(informer, pending=informer.pending + lines),
                    )
            slots.append(msgspec.structs.replace(slot, informers=informers))
        return msgspec.structs.replace(state, slots=tuple(slots))

    # Controllers ------------------------------------------------------------------------

    def feed(
        self, state: ControllersState, index: int, event: ControllerEvent
    ) -> tuple[ControllersState, list[ControllersOutput]]:
        """Hand ``event`` to controller ``index`` and carry out every call that follows."""
        definition = DEFINITIONS[index]
        outputs: list[ControllersOutput] = []
        pending: list[ControllerEvent] = [event]
        while pending:
            slot = state.slots[index]
            assert slot.state is not None
            step = machine.on_event(definition, self.config, slot.state, pending.pop(0))
            state = self._with_slot(state, index, msgspec.structs.replace(slot, state=step.state))
            for command in step.commands:
                state, answer = self._carry_out(state, index, command, outputs)
                if answer is not None:
                    pending.append(answer)
        return state, outputs

    def _carry_out(
        self,
        state: ControllersState,
        index: int,
        command: ControllerCommand,
        outputs: list[ControllersOutput],
    ) -> tuple[ControllersState, Answered | None]:
        if isinstance(command, Reconciled):
            return state, None
        assert isinstance(command, Call)
        slot, name = state.slots[index], DEFINITIONS[index].name
        if slot.lose_next and command.call.method != "GET":
            # A lost write: it never reaches the server, and no answer comes back.
            state = self._with_slot(state, index, msgspec.structs.replace(slot, lose_next=False))
            return state, Answered(request_id=command.request_id, status=0, body=b"")
        state, status, body = self.send(state, _request(command.call))
        if command.call.method != "GET":
            outputs.append(
                Wrote(
                    controller=name,
                    method=command.call.method,
                    path=command.call.path,
                    status=status,
                )
            )
        return state, Answered(request_id=command.request_id, status=status, body=body)

    def _with_slot(self, state: ControllersState, index: int, slot: Slot) -> ControllersState:
        slots = list(state.slots)
        slots[index] = slot
        return msgspec.structs.replace(state, slots=tuple(slots))

    def start(
        self, state: ControllersState, index: int
    ) -> tuple[ControllersState, list[ControllersOutput]]:
        """(Re)start controller ``index`` from nothing: list every resource, then watch."""
        now_ms = state.api.now_seconds * 1000
        fresh = machine.init(DEFINITIONS[index], self.config, now_ms).state
        state = self._with_slot(state, index, Slot(state=fresh))
        outputs: list[ControllersOutput] = []
        for resource in sorted({w.resource for w in DEFINITIONS[index].watches}):
            state, more = self.relist(state, index, resource)
            outputs.extend(more)
        return state, outputs

    def relist(
        self, state: ControllersState, index: int, resource: str
    ) -> tuple[ControllersState, list[ControllersOutput]]:
        path = RESOURCES[resource].collection_path()
        state, status, body = self.send(state, ApiRequest(method="GET", path=path))
        assert status == 200, body
        listed = msgspec.json.decode(body)
        items = tuple(msgspec.json.encode(item) for item in listed.get("items") or ())
        revision = listed["metadata"]["resourceVersion"]
        query = (("watch", "true"), ("resourceVersion", revision), ("allowWatchBookmarks", "false"))
        watch_id = state.api.next_request
        state, _, _ = self.send(state, ApiRequest(method="GET", path=path, query=query))
        slot = state.slots[index]
        informers = slot.informers.set(resource, Informer(watch_id=watch_id))
        state = self._with_slot(state, index, msgspec.structs.replace(slot, informers=informers))
        return self.feed(state, index, Listed(resource=resource, items=items))

    # Actions ----------------------------------------------------------------------------

    def apply(self, state: ControllersState, action: ControllersAction) -> Step | NotEnabled:
        match action:
            case Deliver():
                return self._deliver(state, action)
            case Work(controller=index):
                slot = state.slots[index]
                if slot.state is None or not machine.has_work(
                    DEFINITIONS[index], self.config, slot.state
                ):
                    return NotEnabled("no free worker with a ready key")
                state, outputs = self.feed(state, index, WorkEvent())
                return Applied(state, tuple(outputs))
            case Kubelet():
                return self._kubelet(state, action.pod)
            case Advance():
                return self._advance(state, action.seconds)
            case User():
                state, status, _ = self.send(state, user_request(action))
                return Applied(
                    state,
                    (
                        Wrote(
                            controller="user", method=action.verb, path=action.name, status=status
                        ),
                    ),
                )
            case Crash(controller=index):
                if state.slots[index].state is None:
                    return NotEnabled("already down")
                return Applied(self._with_slot(state, index, Slot()), ())
            case Restart(controller=index):
                if state.slots[index].state is not None:
                    return NotEnabled("running")
                state, outputs = self.start(state, index)
                return Applied(state, tuple(outputs))
            case Failover():
                every: list[ControllersOutput] = []
                for index in range(len(DEFINITIONS)):
                    state, outputs = self.start(state, index)
                    every.extend(outputs)
                return Applied(state, tuple(every))
            case BreakWatch(controller=index, resource=resource):
                if state.slots[index].state is None or resource not in state.slots[index].informers:
                    return NotEnabled("no such informer")
                state, outputs = self.relist(state, index, resource)
                return Applied(state, tuple(outputs))
            case LoseAnswer(controller=index):
                slot = msgspec.structs.replace(state.slots[index], lose_next=True)
                return Applied(self._with_slot(state, index, slot), ())
        raise AssertionError(f"unknown action {action!r}")

    def _deliver(self, state: ControllersState, action: Deliver) -> Step | NotEnabled:
        slot = state.slots[action.controller]
        informer = slot.informers.get(action.resource)
        if slot.state is None or informer is None or not informer.pending:
            return NotEnabled("nothing to deliver")
        line, rest = informer.pending[0], informer.pending[1:]
        informers = slot.informers.set(
            action.resource, msgspec.structs.replace(informer, pending=rest)
        )
        state = self._with_slot(
            state, action.controller, msgspec.structs.replace(slot, informers=informers)
        )
        event = msgspec.json.decode(line)
        if event.get("type") not in ("ADDED", "MODIFIED", "DELETED"):
            return Applied(state, ())
        observed = Observed(
            resource=action.resource, change=event["type"], raw=msgspec.json.encode(event["object"])
        )
        state, outputs = self.feed(state, action.controller, observed)
        return Applied(state, tuple(outputs))

    def _kubelet(self, state: ControllersState, key: str) -> Step | NotEnabled:
        namespace, name = key.split("/", 1)
        path = f"/api/v1/namespaces/{namespace}/pods/{name}"
        state, status, body = self.send(state, ApiRequest(method="GET", path=path))
        if status != 200 or not _kubelet_ready(msgspec.json.decode(body), state.api.now_seconds):
            return NotEnabled("nothing for the kubelet to do")
        box = [state]
        outputs: list[ControllersOutput] = []

        def call(method: str, call_path: str, payload: Any, content_type: str) -> None:
            data = msgspec.json.encode(payload)
            request = ApiRequest(
                method=method, path=call_path, content_type=content_type, body=data
            )
            box[0], code, _ = self.send(box[0], request)
            outputs.append(Wrote(controller="kubelet", method=method, path=call_path, status=code))

        fixture.act(call, msgspec.json.decode(body), state.api.now_seconds)
        return Applied(box[0], tuple(outputs))

    def _advance(self, state: ControllersState, seconds: int) -> Step:
        api, answered = world_api.tick(self.api_config, state.api, seconds)
        state = self._route(msgspec.structs.replace(state, api=api), answered)
        outputs: list[ControllersOutput] = [Advanced(seconds=seconds)]
        for index, slot in enumerate(state.slots):
            if slot.state is not None:
                state, more = self.feed(state, index, Tick(now_ms=state.api.now_seconds * 1000))
                outputs.extend(more)
        return Applied(state, tuple(outputs))

    def initial(self) -> Step:
        api = world_api.boot(self.api_config, self.setup.seed)
        state = ControllersState(api=api, slots=tuple(Slot() for _ in DEFINITIONS))
        node = msgspec.json.encode(fixture.node_object())
        request = ApiRequest(
            method="POST", path="/api/v1/nodes", content_type="application/json", body=node
        )
        state, status, _ = self.send(state, request)
        assert status == 201
        every: list[ControllersOutput] = []
        for index in range(len(DEFINITIONS)):
            state, outputs = self.start(state, index)
            every.extend(outputs)
        return Applied(state, tuple(every))

    def pods_needing_work(self, state: ControllersState) -> list[str]:
        objects = world_api.stored_objects(state.api)
        pods = [obj for obj in objects if obj.get("kind") == "Pod"]
        now = state.api.now_seconds
        return [
            f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
            for pod in fixture.pods_needing_work(pods)
            if _kubelet_ready(pod, now)
        ]


def _kubelet_ready(pod: dict[str, Any], now_seconds: int) -> bool:
    """The kubelet has a step to take; a deleted pod's containers take their whole grace
    period to stop (``deletionTimestamp`` is when it ends), so it lingers, terminating."""
    work = fixture.pending_work(pod)
    if work != "finish":
        return bool(work)
    ends = parse_rfc3339(pod["metadata"].get("deletionTimestamp"))
    return ends is None or ends <= now_seconds
