"""The cluster world as the kernel sees it: the kind registered as ``cluster``, one run's
world (actions applied, the enabled choices with their fault kinds, the liveness driver).

Fault kinds (swarm testing picks a mix per seed): ``node-crash`` (a node crashes, boots
later), ``partition`` (a component cut off the API server; etcd members cut from each other),
``etcd-leader-loss`` (the etcd leader crashes, restarts later), ``apiserver-restart``,
``watch-disconnect`` (an informer's watch breaks: it lists again), ``controller-failover``
(a controller-manager replica stops, starts later) and ``clock-skew`` (a node's clock runs
ahead or behind). The first Deployment starts with a PodDisruptionBudget keeping one pod, and
a Job ``batch-0`` runs three pods to success. The liveness phase heals every fault, undoes
taints and cordons, drains the node running most pods once one runs any (maintenance: its
evictions wait on the budgets), and runs a fair schedule of everything else until every
Deployment has its replicas ready and every Job finished.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any, Final, final

import msgspec

from models.cluster_world import (
    Advance,
    BootNode,
    BreakWatch,
    ClusterAction,
    ClusterSetup,
    CrashNode,
    Cut,
    Cycle,
    Etcd,
    Inform,
    Reconnect,
    RestartApi,
    Skew,
    StartManager,
    StopManager,
    User,
    UserVerb,
    Work,
)
from models.environment import Crash, Deliver, DrawRandom, Drop, Heal, Partition, Restart, Tick
from models.trace import SwarmOptions
from runner.cluster import world_informers as inf
from runner.cluster import world_kubelets, world_user
from runner.cluster.world import ClusterApplied, Engine
from runner.cluster.world_api import Answer
from runner.cluster.world_api import Work as Scratch
from runner.cluster.world_checks import ClusterChecker, DeploymentsReady, Tally
from runner.cluster.world_managers import DEFINITIONS, REPLICAS
from runner.cluster.world_state import ClusterState
from runner.sim import machines
from runner.sim.world import ActionKind, Applied, Choice, NotEnabled, check_world_kind

ADVANCE_CHOICES_MS: Final = (100, 500, 1000, 2000, 5000)
USER_VERBS: Final[tuple[UserVerb, ...]] = (
    "scale", "scale", "rollout", "delete-pod", "force-delete-pod", "force-delete-pod",
    "force-delete-pod", "force-delete-pod", "taint", "untaint", "drain", "drain", "budget",
)  # fmt: skip
UNTAINT_EVERY: Final = 8
FAIR_KINDS: Final = (
    "etcd-deliver",
    "etcd-tick",
    "etcd-random",
    "inform",
    "work",
    "cycle",
    "advance",
)


def pods_in_cache(state: ClusterState) -> list[tuple[str, dict[str, Any]]]:
    """Every pod in the API server's cache (``namespace/name``, object), sorted."""
    api = state.api.state
    if api is None:
        return []
    found = []
    for key, cached in api.cache.objects.items():
        if key.startswith("/registry/pods/"):
            found.append((key.removeprefix("/registry/pods/"), msgspec.json.decode(cached.value)))
    return sorted(found, key=lambda item: item[0])


def nodes_marked(state: ClusterState) -> frozenset[str]:
    """The nodes the API server's cache holds tainted or cordoned."""
    api = state.api.state
    if api is None:
        return frozenset()
    found = set()
    for key, cached in api.cache.objects.items():
        if key.startswith(("/registry/minions/", "/registry/nodes/")):
            node: Any = msgspec.json.decode(cached.value)
            spec = node.get("spec") or {}
            if spec.get("taints") or spec.get("unschedulable"):
                found.add(str((node.get("metadata") or {}).get("name") or ""))
    return frozenset(found)


def _busiest(state: ClusterState) -> str:
    """The node the API server's cache shows running most pods ("": none runs any)."""
    counts: dict[str, int] = {}
    for _, pod in pods_in_cache(state):
        node = str((pod.get("spec") or {}).get("nodeName") or "")
        if node and (pod.get("status") or {}).get("phase") == "Running":
            counts[node] = counts.get(node, 0) + 1
    return min(counts, key=lambda n: (-counts[n], n)) if counts else ""


def _leader(state: ClusterState) -> int | None:
    for node, slot in sorted(state.members.nodes.items()):
        if slot.state is not None and slot.state.raft.role == "leader":
            return node
    return None


@final
class ClusterWorld:
    """One run of the cluster world."""

    def __init__(self, setup: ClusterSetup) -> None:
        self.setup = setup
        self.engine = Engine(setup)
        self.components = self.engine.components()

    def initial(self) -> ClusterApplied:
        applied = self.engine.initial()
        work = Scratch(applied.state)
        shape = random.Random(self.setup.seed)
        for index in range(self.setup.deployments):
            create = User(
                verb="create",
                target=world_user.deployment_name(index),
                value=shape.randint(1, self.setup.max_replicas),
            )
            for request in world_user.requests(create, ()):
                self.engine.user(work, request, "create")
            service = world_user.service_request(create.target)
            self.engine.user(work, service, "create-service")
        if self.setup.deployments:
            # The first Deployment starts with a budget keeping one pod (drains wait for it).
            first = world_user.deployment_name(0)
            self.engine.user(work, world_user.budget_request(first, 1), "budget")
        self.engine.user(work, world_user.job_request("batch-0", 3), "create-job")
        self.engine.settle(work)
        return self.engine.finish(work)

    # Actions --------------------------------------------------------------------------------

    def apply(self, state: ClusterState, action: ClusterAction) -> ClusterApplied | NotEnabled:
        work = Scratch(state)
        self.engine.unpark(work)
        refusal = self._start(work, action)
        if refusal is not None:
            return NotEnabled(refusal)
        return self.engine.finish(work)

    def _start(self, work: Scratch, action: ClusterAction) -> str | None:
        engine = self.engine
        state = work.state
        match action:
            case Etcd(action=inner):
                return None if engine.etcd_action(work, inner) else "the etcd action cannot happen"
            case Inform(component=name, resource=resource):
                return None if self._inform(work, name, resource) else "nothing to inform"
            case Work(replica=replica, controller=index):
                if replica >= REPLICAS or index >= len(DEFINITIONS):
                    return "no such controller"
                return None if engine.managers.work(work, replica, index) else "no ready key"
            case Cycle(draw=draw):
                return None if engine.scheduler.cycle(work, draw) else "no pod is ready"
            case Advance(ms=ms):
                engine.advance(work, ms)
                return None
            case User():
                return self._user(work, action)
            case CrashNode(node=index) | BootNode(node=index):
                if index >= len(state.kubelets):
                    return "no such node"
                up = state.kubelets[index].machine is not None
                if isinstance(action, CrashNode) != up:
                    return "the node is already so"
                if up:
                    engine.kubelets.crash(work, index)
                else:
                    engine.kubelets.boot(work, index)
                return None
            case Cut(component=name) | Reconnect(component=name):
                if name not in self.components or isinstance(action, Cut) == (name in state.cut):
                    return "no such component, or already so"
                cut = state.cut | {name} if isinstance(action, Cut) else state.cut - {name}
                work.state = msgspec.structs.replace(state, cut=cut)
                if isinstance(action, Cut):
                    self._break_watches(work, name)
                return None
            case RestartApi():
                engine.restart_api(work)
                return None
            case BreakWatch(component=name, resource=resource):
                return None if self._break_watch(work, name, resource) else "no such watch"
            case StopManager(replica=replica) | StartManager(replica=replica):
                if (
                    replica >= REPLICAS
                    or isinstance(action, StopManager) != state.managers[replica].up
                ):
                    return "no such replica, or already so"
                if isinstance(action, StopManager):
                    engine.managers.stop(work, replica)
                else:
                    engine.managers.boot(work, replica)
                return None
            case Skew(node=index, offset_ms=offset):
                if index >= len(state.kubelets):
                    return "no such node"
                slot = msgspec.structs.replace(state.kubelets[index], skew_ms=offset)
                kubelets = (*state.kubelets[:index], slot, *state.kubelets[index + 1 :])
                work.state = msgspec.structs.replace(state, kubelets=kubelets)
                return None
        return f"unknown action {action!r}"

    def _inform(self, work: Scratch, name: str, resource: str) -> bool:
        engine = self.engine
        if name in work.state.cut:
            return False
        if name == "scheduler":
            return engine.scheduler.inform(work, resource)
        if name == "proxy":
            return engine.proxy.inform(work, resource)
        if name.startswith("manager-"):
            return engine.managers.inform(work, int(name.rsplit("-", 1)[1]), resource)
        if name.startswith("kubelet-"):
            index = world_kubelets.index_of(name)
            return index < len(work.state.kubelets) and engine.kubelets.inform(
                work, index, resource
            )
        return False

    def _break_watches(self, work: Scratch, name: str) -> None:
        for watch_id, caller in sorted(work.state.watches.items()):
            if caller.component == name:
                self._close(work, watch_id)

    def _break_watch(self, work: Scratch, name: str, resource: str) -> bool:
        found = [
            watch_id
            for watch_id, caller in sorted(work.state.watches.items())
            if caller.component == name and caller.resource == resource
        ]
        for watch_id in found:
            self._close(work, watch_id)
        return bool(found)

    def _close(self, work: Scratch, watch_id: int) -> None:
        """The connection of watch ``watch_id`` breaks: the server forgets the watcher, the
        informer lists again."""
        from models.apiserver.messages import WatchClosed

        caller = work.state.watches[watch_id]
        work.state = msgspec.structs.replace(
            work.state, watches=work.state.watches.delete(watch_id)
        )
        work.queue.append(WatchClosed(watch_id=watch_id))
        work.queue.append(Answer(caller, -2, b""))

    def _user(self, work: Scratch, action: User) -> str | None:
        state = work.state
        tainted, cordoned = state.tainted, state.cordoned
        node_pods: tuple[str, ...] = ()
        if action.verb == "taint":
            tainted = tainted | {action.target}
        elif action.verb == "untaint":
            tainted, cordoned = tainted - {action.target}, cordoned - {action.target}
        elif action.verb == "drain":
            cordoned = cordoned | {action.target}
            node_pods = tuple(
                key for key, pod in pods_in_cache(state)
                if (pod.get("spec") or {}).get("nodeName") == action.target
            )  # fmt: skip
        work.state = msgspec.structs.replace(state, tainted=tainted, cordoned=cordoned)
        requests = world_user.requests(action, node_pods)
        if action.verb == "drain":
            requests = requests[:1]
        for request in requests:
            self.engine.user(work, request, action.verb)
        give_up = work.state.now_ms + world_user.DRAIN_TIMEOUT_MS
        for key in node_pods:
            self.engine.evict(work, key, give_up)
        return None

    # Choices --------------------------------------------------------------------------------

    def choices(self, state: ClusterState, last: ClusterApplied) -> Sequence[Choice[ClusterAction]]:
        del last
        found: list[Choice[ClusterAction]] = []
        network = self.engine.network
        members = state.members
        ready = machines.ready_messages(network, members)
        if ready:
            found.append(
                Choice("etcd-deliver", lambda p: Etcd(action=Deliver(message=p.choice(ready))))
            )
            found.append(Choice("etcd-drop", lambda p: Etcd(action=Drop(message=p.choice(ready)))))
        up = machines.up_nodes(members)
        if up:
            found.append(Choice("etcd-tick", lambda p: Etcd(action=Tick(node=p.choice(up)))))
        waiting = [n for n in up if members.nodes[n].random_request is not None]
        if waiting:
            found.append(Choice("etcd-random", lambda p: self._draw(state, p.choice(waiting), p)))
        informing = self._informing(state)
        if informing:
            found.append(Choice("inform", lambda p: p.choice(informing)))
        workers = [
            Work(replica=r, controller=i)
            for r in range(REPLICAS)
            for i in range(len(DEFINITIONS))
            if self.engine.managers.can_work(state.managers[r], i)
        ]
        if workers:
            found.append(Choice("work", lambda p: p.choice(workers)))
        if self.engine.scheduler.can_cycle(state.scheduler):
            found.append(Choice("cycle", lambda p: Cycle(draw=p.randrange(2**31))))
        found.append(Choice("advance", lambda p: Advance(ms=p.choice(ADVANCE_CHOICES_MS))))
        found.append(Choice("user", lambda p: self._user_action(state, p)))
        found.extend(self._fault_choices(state, up))
        return found

    def _draw(self, state: ClusterState, node: int, prng: random.Random) -> Etcd:
        request = state.members.nodes[node].random_request
        assert request is not None
        return Etcd(action=DrawRandom(node=node, value=prng.randrange(request.low, request.high)))

    def _informing(self, state: ClusterState) -> list[Inform]:
        found: list[Inform] = []
        slots: list[tuple[str, Any]] = [
            ("proxy", state.proxy.informers),
            ("scheduler", state.scheduler.informers),
        ]
        for replica, manager in enumerate(state.managers):
            if manager.up and manager.leading and manager.controllers:
                slots.append((f"manager-{replica}", manager.informers))
        for index, kubelet in enumerate(state.kubelets):
            if kubelet.machine is not None:
                slots.append((world_kubelets.node_name(index), kubelet.informers))
        for name, informers in slots:
            if name not in state.cut:
                found.extend(Inform(component=name, resource=r) for r in inf.ready(informers))
        return found

    def _user_action(self, state: ClusterState, prng: random.Random) -> User:
        names = [world_user.deployment_name(i) for i in range(self.setup.deployments)]
        nodes = [world_kubelets.node_name(i) for i in range(self.setup.nodes)]
        pods = [key for key, _ in pods_in_cache(state)]
        running = [
            key for key, pod in pods_in_cache(state)
            if (pod.get("status") or {}).get("phase") == "Running"
        ]  # fmt: skip
        verb: UserVerb = prng.choice(USER_VERBS)
        if verb in ("delete-pod", "force-delete-pod") and pods:
            return User(verb=verb, target=prng.choice(running or pods))
        if verb == "budget":
            return User(
                verb="budget",
                target=prng.choice(names),
                value=prng.randint(1, self.setup.max_replicas),
            )
        if verb in ("taint", "untaint", "drain"):
            return User(verb=verb, target=prng.choice(nodes))
        if verb == "rollout":
            return User(verb="rollout", target=prng.choice(names), value=prng.randint(2, 9))
        return User(
            verb="scale", target=prng.choice(names), value=prng.randint(0, self.setup.max_replicas)
        )

    def _fault_choices(self, state: ClusterState, up: list[int]) -> list[Choice[ClusterAction]]:
        found: list[Choice[ClusterAction]] = []
        nodes = range(self.setup.nodes)
        live = [i for i in nodes if state.kubelets[i].machine is not None]
        dead = [i for i in nodes if state.kubelets[i].machine is None]
        if len(live) > 1:
            found.append(Choice("crash-node", lambda p: CrashNode(node=p.choice(live))))
        if dead:
            found.append(Choice("boot-node", lambda p: BootNode(node=p.choice(dead))))
        connected = [c for c in self.components if c not in state.cut]
        if state.cut:
            cut = sorted(state.cut)
            found.append(Choice("reconnect", lambda p: Reconnect(component=p.choice(cut))))
        if connected:
            found.append(Choice("cut", lambda p: Cut(component=p.choice(connected))))
        members = self.engine.member_ids()
        if not state.members.cut_links and len(members) > 1:
            found.append(
                Choice("etcd-partition", lambda p: Etcd(action=self._partition(members, p)))
            )
        if state.members.cut_links:
            found.append(Choice("etcd-heal", lambda _: Etcd(action=Heal())))
        leader = _leader(state)
        if leader is not None and len(up) == len(members) and len(members) > 1:
            found.append(Choice("etcd-crash-leader", lambda _: Etcd(action=Crash(node=leader))))
        down = [m for m in members if m not in up]
        if down:
            found.append(
                Choice("etcd-restart", lambda p: Etcd(action=Restart(node=p.choice(down))))
            )
        if state.api.state is not None:
            found.append(Choice("restart-api", lambda _: RestartApi()))
        watched = sorted((c.component, c.resource) for c in state.watches.values() if c.resource)
        if watched:
            found.append(
                Choice(
                    "break-watch",
                    lambda p: BreakWatch(component=(w := p.choice(watched))[0], resource=w[1]),
                )
            )
        running = [r for r in range(REPLICAS) if state.managers[r].up]
        stopped = [r for r in range(REPLICAS) if not state.managers[r].up]
        if len(running) > 1:
            found.append(Choice("stop-manager", lambda p: StopManager(replica=p.choice(running))))
        if stopped:
            found.append(Choice("start-manager", lambda p: StartManager(replica=p.choice(stopped))))
        found.append(
            Choice(
                "skew",
                lambda p: Skew(
                    node=p.choice(list(nodes)),
                    offset_ms=p.choice((-30_000, -2_000, 0, 2_000, 30_000)),
                ),
            )
        )
        return found

    def _partition(self, members: tuple[int, ...], prng: random.Random) -> Partition:
        alone = prng.choice(members)
        links = sorted(
            {(alone, other) for other in members if other != alone}
            | {(other, alone) for other in members if other != alone}
        )
        return Partition(links=tuple(links))

    # Kernel hooks ---------------------------------------------------------------------------

    def checkers(self) -> tuple[ClusterChecker]:
        return (ClusterChecker(self.setup),)

    def progress(self) -> DeploymentsReady:
        return DeploymentsReady()

    def driver(self, prng: random.Random) -> FairDriver:
        return FairDriver(self, prng)

    def statistics(self) -> Tally:
        return Tally()


class FairDriver:
    """Heal every fault, undo taints and cordons, deliver every etcd message in order, and
    between them go round the fair kinds (each enabled one in turn, time in 500 ms steps)."""

    def __init__(self, world: ClusterWorld, prng: random.Random) -> None:
        self.world, self.prng = world, prng
        self.turn = 0
        self.untaints = 0
        self.drained = False

    def next_action(self, state: ClusterState, index: int) -> ClusterAction:
        del index
        heal = self._heal(state)
        if heal is not None:
            return heal
        node = "" if self.drained else _busiest(state)
        if node:
            # Maintenance once the faults healed and a node runs pods: drain it, its evictions
            # waiting on the budgets (the untaint above uncordons it later).
            self.drained = True
            return User(verb="drain", target=node)
        ready = machines.ready_messages(self.world.engine.network, state.members)
        if ready:
            return Etcd(action=Deliver(message=ready[0]))
        enabled = {c.kind: c for c in self.world.choices(state, Applied(state, ()))}
        for _ in range(len(FAIR_KINDS)):
            kind = FAIR_KINDS[self.turn % len(FAIR_KINDS)]
            self.turn += 1
            if kind in enabled:
                action = enabled[kind].make(self.prng)
                return Advance(ms=500) if isinstance(action, Advance) else action
        return Advance(ms=500)

    def _heal(self, state: ClusterState) -> ClusterAction | None:
        if state.cut:
            return Reconnect(component=sorted(state.cut)[0])
        if state.members.cut_links:
            return Etcd(action=Heal())
        down = [
            m for m in self.world.engine.member_ids() if m not in machines.up_nodes(state.members)
        ]
        if down:
            return Etcd(action=Restart(node=down[0]))
        dead = [i for i, k in enumerate(state.kubelets) if k.machine is None]
        if dead:
            return BootNode(node=dead[0])
        stopped = [r for r, m in enumerate(state.managers) if not m.up]
        if stopped:
            return StartManager(replica=stopped[0])
        marked = sorted(state.tainted | state.cordoned | nodes_marked(state))
        self.untaints += 1
        if marked and self.untaints % UNTAINT_EVERY == 1:
            # Every few turns only: an untaint the API server refused is sent again, while the
            # rest of the cluster goes on.
            return User(verb="untaint", target=marked[0])
        return None

    def observe(self, index: int, applied: ClusterApplied) -> None:
        del index, applied


class ClusterWorldKind:
    name = "cluster"
    setup_type = ClusterSetup
    action_type = ClusterAction
    action_kinds = (
        ActionKind("etcd-deliver", None, 60, 150),
        ActionKind("etcd-tick", None, 30, 60),
        ActionKind("etcd-random", None, 5, 10),
        ActionKind("inform", None, 20, 60),
        ActionKind("work", None, 10, 30),
        ActionKind("cycle", None, 10, 30),
        ActionKind("advance", None, 3, 10),
        ActionKind("user", None, 4, 10),
        ActionKind("etcd-drop", "partition", 1, 3),
        ActionKind("crash-node", "node-crash", 1, 2),
        ActionKind("boot-node", None, 2, 5),
        ActionKind("cut", "partition", 1, 2),
        ActionKind("reconnect", None, 2, 6),
        ActionKind("etcd-partition", "partition", 1, 2),
        ActionKind("etcd-heal", None, 3, 8),
        ActionKind("etcd-crash-leader", "etcd-leader-loss", 1, 2),
        ActionKind("etcd-restart", None, 3, 8),
        ActionKind("restart-api", "apiserver-restart", 1, 2),
        ActionKind("break-watch", "watch-disconnect", 1, 3),
        ActionKind("stop-manager", "controller-failover", 1, 2),
        ActionKind("start-manager", None, 1, 3),
        ActionKind("skew", "clock-skew", 1, 2),
    )
    fault_kinds = (
        "apiserver-restart",
        "clock-skew",
        "controller-failover",
        "etcd-leader-loss",
        "node-crash",
        "partition",
        "watch-disconnect",
    )

    def view_lane(self, action: Any, lane: str) -> str:
        """``kubeoracle view``'s lane of an action: the component it acts on, by the name the
        world gives it (``replica 1`` is ``manager-1``, ``node 2`` of a node fault is
        ``kubelet-2``)."""
        tag = action.get("type") if isinstance(action, dict) else None
        if isinstance(action, dict) and "replica" in action:
            return f"manager-{action['replica']}"
        if tag in ("crash-node", "boot-node", "skew"):
            return world_kubelets.node_name(int(action["node"]))
        if tag == "cycle":
            return "scheduler"
        if tag == "restart-api":
            return "apiserver"
        return lane

    def build(self, setup: ClusterSetup, swarm: SwarmOptions) -> ClusterWorld:
        del swarm
        return ClusterWorld(setup)


CLUSTER: Final = ClusterWorldKind()
check_world_kind(CLUSTER)
