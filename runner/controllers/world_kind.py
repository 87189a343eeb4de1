"""The controllers world for the simulation kernel: what the swarm may do in each state, the
fair schedule of the liveness phase, and the kind registered as ``controllers``."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any, Final

from impl.controllers import machine
from models.controllers.world import (
    Advance,
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
)
from models.trace import SwarmOptions
from runner.controllers import world_api
from runner.controllers.world import DEFINITIONS, ControllersState, Engine
from runner.controllers.world_checks import Reconciled, SafetyChecker, Tally
from runner.sim.world import ActionKind, Applied, Choice, NotEnabled, check_world_kind

IMAGES: Final = ("nginx:1", "nginx:2", "nginx:3")
FENCEPOSTS: Final = (("25%", "25%"), ("1", "0"), ("0", "1"), ("2", "1"), ("50%", "0"), ("0", "50%"))
POLICIES: Final = ("Background", "Foreground", "Orphan")
Step = Applied[ControllersState, ControllersOutput]


def _deployment_names(state: ControllersState) -> set[str]:
    return {
        obj["metadata"]["name"]
        for obj in world_api.stored_objects(state.api)
        if obj.get("kind") == "Deployment" and not obj["metadata"].get("deletionTimestamp")
    }


class ControllersWorld:
    def __init__(self, setup: ControllersSetup) -> None:
        self.setup = setup
        self.engine = Engine(setup)

    def initial(self) -> Step:
        return self.engine.initial()

    def apply(self, state: ControllersState, action: ControllersAction) -> Step | NotEnabled:
        return self.engine.apply(state, action)

    def _user(self, state: ControllersState) -> Any:
        live = _deployment_names(state)
        names = [f"d{i}" for i in range(self.setup.deployments)]

        def make(prng: random.Random) -> User:
            name = prng.choice(names)
            if name not in live:
                surge, unavailable = prng.choice(FENCEPOSTS)
                return User(
                    verb="create",
                    name=name,
                    replicas=prng.randint(1, self.setup.max_replicas),
                    image=prng.choice(IMAGES),
                    surge=surge,
                    unavailable=unavailable,
                    recreate=prng.random() < 0.15,
                )
            verb = prng.choice(("scale", "scale", "image", "image", "pause", "resume", "delete"))
            if verb == "scale":
                return User(
                    verb="scale", name=name, replicas=prng.randint(0, self.setup.max_replicas)
                )
            if verb == "image":
                return User(verb="image", name=name, image=prng.choice(IMAGES))
            if verb == "delete":
                return User(verb="delete", name=name, policy=prng.choice(POLICIES))
            return User(verb="pause" if verb == "pause" else "resume", name=name)

        return make

    def choices(self, state: ControllersState, last: Step) -> Sequence[Choice[ControllersAction]]:
        del last
        config = self.engine.config
        up = [i for i, slot in enumerate(state.slots) if slot.state is not None]
        down = [i for i, slot in enumerate(state.slots) if slot.state is None]
        pending = [
            (i, resource)
            for i in up
            for resource, informer in sorted(state.slots[i].informers.items())
            if informer.pending
        ]
        workers = [
            i
            for i in up
            if machine.has_work(DEFINITIONS[i], config, state.slots[i].state)  # type: ignore[arg-type]
        ]
        pods = self.engine.pods_needing_work(state)
        out: list[Choice[ControllersAction]] = [
            Choice("advance", lambda prng: Advance(seconds=prng.choice((1, 1, 2, 5)))),
            Choice("user", self._user(state)),
        ]
        if pending:
            out.append(
                Choice(
                    "deliver",
                    lambda prng: Deliver(controller=(p := prng.choice(pending))[0], resource=p[1]),
                )
            )
        if workers:
            out.append(Choice("work", lambda prng: Work(controller=prng.choice(workers))))
        if pods:
            out.append(Choice("kubelet", lambda prng: Kubelet(pod=prng.choice(pods))))
        if up:
            out.append(Choice("crash", lambda prng: Crash(controller=prng.choice(up))))
            out.append(Choice("lose", lambda prng: LoseAnswer(controller=prng.choice(up))))
            informers = [(i, r) for i in up for r in sorted(state.slots[i].informers)]
            out.append(
                Choice(
                    "break-watch",
                    lambda prng: BreakWatch(
                        controller=(p := prng.choice(informers))[0], resource=p[1]
                    ),
                )
            )
        if down:
            out.append(Choice("restart", lambda prng: Restart(controller=prng.choice(down))))
        out.append(Choice("failover", lambda _prng: Failover()))
        return out

    def checkers(self) -> tuple[SafetyChecker, ...]:
        return (SafetyChecker(),)

    def progress(self) -> Reconciled:
        return Reconciled()

    def driver(self, prng: random.Random) -> FairDriver:
        del prng  # the fair schedule is fixed
        return FairDriver(self)

    def statistics(self) -> Tally:
        return Tally()


class FairDriver:
    """Restart what is down, then deliver every watch event, then let workers run, then the
    kubelets; when nothing is left, let a second pass."""

    def __init__(self, world: ControllersWorld) -> None:
        self.world = world

    def next_action(self, state: ControllersState, index: int) -> ControllersAction:
        del index
        for i, slot in enumerate(state.slots):
            if slot.state is None:
                return Restart(controller=i)
        for i, slot in enumerate(state.slots):
            for resource, informer in sorted(slot.informers.items()):
                if informer.pending:
                    return Deliver(controller=i, resource=resource)
        for i, slot in enumerate(state.slots):
            if machine.has_work(DEFINITIONS[i], self.world.engine.config, slot.state):  # type: ignore[arg-type]
                return Work(controller=i)
        pods = self.world.engine.pods_needing_work(state)
        if pods:
            return Kubelet(pod=pods[0])
        return Advance(seconds=1)

    def observe(self, index: int, applied: Step) -> None:
        pass


class ControllersWorldKind:
    name: Final = "controllers"
    setup_type: Final = ControllersSetup
    action_type: Final[Any] = ControllersAction
    action_kinds: Final = (
        ActionKind("deliver", None, 30, 60),
        ActionKind("work", None, 20, 40),
        ActionKind("kubelet", None, 10, 30),
        ActionKind("advance", None, 2, 6),
        ActionKind("user", None, 5, 12),
        ActionKind("crash", "crash", 1, 2),
        ActionKind("restart", "crash", 3, 6),
        ActionKind("failover", "failover", 1, 2),
        ActionKind("break-watch", "watch", 1, 3),
        ActionKind("lose", "lose", 1, 3),
    )
    fault_kinds: Final = ("crash", "failover", "watch", "lose")

    def build(self, setup: ControllersSetup, swarm: SwarmOptions) -> ControllersWorld:
        del swarm
        return ControllersWorld(setup)


CONTROLLERS: Final = ControllersWorldKind()
check_world_kind(CONTROLLERS)
