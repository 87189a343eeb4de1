"""The whole-cluster world on the simulation kernel: etcd members on Raft, the API server, the
scheduler, two controller-manager replicas, N kubelets and kube-proxy; they talk only through
the API server.

Theory of operation. The state (``runner.cluster.world_state``) is one immutable value. An
action starts some work (a Raft message delivered, an informer handed a line, a worker, a
cycle, time passing, a user's request, a fault); what follows is worked off at once in a
:class:`~runner.cluster.world_api.Work`: every API request a component makes reaches the API
server, every answer and watch line the server emits is routed to whoever waits for it, every
storage operation goes to an etcd member and is answered when the member replies. After the
queue is empty, the members' newly applied entries reach the server's storage watch, and so on
until nothing is left. Time passes only with ``Advance`` (the API server's clock, every
component's tick, elections); etcd members tick with their own environment action.

At the start the members elect a leader and the API server loads its cache and creates its
start-up objects, the kubelets register, the scheduler and the managers list (all settled
deterministically before step 1), so every run begins with a working cluster.
"""

from __future__ import annotations

from typing import Final

import msgspec

from impl.apiserver.context import Config, builtin_config
from impl.apiserver.machine import init as api_init
from models.apiserver.messages import ApiRequest, ApiServerEvent, Tick
from models.cluster_world import ClusterSetup
from models.environment import Crash, DrawRandom, NodeId, Restart
from models.environment import Deliver as DeliverMessage
from models.environment import Tick as TickMember
from models.etcd_world import EtcdSetup
from runner.apiserver.bootstrap import bootstrap_requests
from runner.cluster import world_kubelets, world_user
from runner.cluster.world_api import Answer, ApiEngine, Work, member_state, now_seconds
from runner.cluster.world_kubelets import KubeletPart
from runner.cluster.world_managers import REPLICAS, ManagerPart
from runner.cluster.world_proxy import ProxyPart
from runner.cluster.world_scheduler import SchedulerPart
from runner.cluster.world_state import ApiSlot, Caller, ClusterState, KubeletSlot, ManagerSlot
from runner.etcd.sim_members import MemberClock, machines_config
from runner.sim import machines
from runner.sim.machines import MachinesConfig
from runner.sim.world import Applied, NotEnabled

SETTLE_STEPS_MAX: Final = 20_000
"""A bound on the steps the start-up takes."""

Output = tuple[str, object]
ClusterApplied = Applied[ClusterState, Output]


def etcd_setup(setup: ClusterSetup) -> EtcdSetup:
    """The members' options: Raft with PreVote and CheckQuorum, 100 ms ticks."""
    return EtcdSetup(
        members=setup.members,
        clients=1,
        watches=0,
        keys=1,
        workload="register",
        lease_ttl_seconds=10,
        election_timeout_ticks=10,
        pre_vote=True,
        check_quorum=True,
        tick_ms=100,
        request_timeout_ms=7000,
        snapshot_every_entries=1000,
        max_down=max(0, (setup.members - 1) // 2),
        max_in_flight=4 * (setup.members + 2) ** 2 + 64,
        mutant="none",
    )


class Engine:
    """Applies the work of an action to the cluster's state (pure given the setup)."""

    def __init__(self, setup: ClusterSetup) -> None:
        self.setup = setup
        self.network: MachinesConfig = machines_config(etcd_setup(setup))
        self.api_config: Config = builtin_config()
        self.api = ApiEngine(self.api_config, self.network, setup.seed)
        self.scheduler = SchedulerPart(self.api, setup.mutant)
        self.managers = ManagerPart(self.api, setup.mutant)
        self.kubelets = KubeletPart(self.api, setup.nodes, setup.mutant)
        self.proxy = ProxyPart(self.api)

    # Working off an action -----------------------------------------------------------------

    def drain(self, work: Work) -> None:
        """Carry out everything queued, then what the members applied, until quiet."""
        while True:
            while work.queue:
                work.handled += 1
                assert work.handled <= 20_000, "an action set off too much work"
                item = work.queue.popleft()
                if isinstance(item, Answer):
                    self._answer(work, item)
                else:
                    self.api.feed(work, item)
            self.api.deliver_storage_watch(work)
            if not work.queue:
                break
        if work.parked:
            api = work.state.api
            parked = (*api.parked, *work.parked)
            work.parked = []
            work.state = msgspec.structs.replace(
                work.state, api=msgspec.structs.replace(api, parked=parked)
            )

    def _answer(self, work: Work, answer: Answer) -> None:
        caller = answer.caller
        name = caller.component
        if name == "scheduler":
            self.scheduler.answer(work, caller, answer.status, answer.body)
        elif name.startswith("manager-"):
            self.managers.answer(work, caller, answer.status, answer.body)
        elif name.startswith("kubelet-"):
            self.kubelets.answer(work, caller, answer.status, answer.body)
        elif name == "proxy":
            self.proxy.answer(work, caller, answer.status, answer.body)
        elif name == "user":
            work.outputs.append(("user", (caller.text, answer.status, answer.body[:300])))
            self._evicted(work, caller, answer.status)

    def finish(self, work: Work) -> ClusterApplied:
        self.drain(work)
        return Applied(work.state, tuple(work.outputs))

    # The start ------------------------------------------------------------------------------

    def initial(self) -> ClusterApplied:
        started = machines.start(self.network)
        api_state = api_init(self.api_config)
        state = ClusterState(
            members=started.state,
            api=ApiSlot(state=None),
            scheduler=self.scheduler.boot(),
            managers=tuple(ManagerSlot() for _ in range(REPLICAS)),
            kubelets=tuple(KubeletSlot(machine=None) for _ in range(self.setup.nodes)),
            proxy=self.proxy.boot(),
        )
        work = Work(state)
        self._elect_first_leader(work)
        work.state = msgspec.structs.replace(work.state, api=ApiSlot(state=api_state.state))
        for command in api_state.commands:
            self.api._carry_out(work, command)
        self.settle(work)
        for request in bootstrap_requests(self.api_config):
            self.api.send(work, request, Caller(component="bootstrap", purpose="ignore"))
            self.settle(work)
        self.scheduler.start(work)
        for replica in range(REPLICAS):
            self.managers.boot(work, replica)
            self.managers.tick(work, replica)
        for index in range(self.setup.nodes):
            self.kubelets.boot(work, index)
        self.proxy.start(work)
        self.settle(work)
        work.outputs = []
        return Applied(work.state, ())

    def _elect_first_leader(self, work: Work) -> None:
        """Member 1 campaigns: tick it until it asks for votes, deliver everything."""
        for _ in range(SETTLE_STEPS_MAX):
            if any(
                slot.state is not None and slot.state.raft.role == "leader"
                for slot in work.state.members.nodes.values()
            ):
                return
            if not self._etcd_settle_step(work):
                self._etcd(work, TickMember(node=1))

    def _etcd_settle_step(self, work: Work) -> bool:
        """Deliver the oldest deliverable message or answer a random draw; False if none."""
        members = work.state.members
        ready = machines.ready_messages(self.network, members)
        if ready:
            self._etcd(work, DeliverMessage(message=ready[0]))
            return True
        for node in machines.up_nodes(members):
            request = members.nodes[node].random_request
            if request is not None:
                self._etcd(work, DrawRandom(node=node, value=request.low))
                return True
        return False

    def settle(self, work: Work) -> None:
        """Run etcd until no message is in flight (the start-up only)."""
        self.drain(work)
        for _ in range(SETTLE_STEPS_MAX):
            if not self._etcd_settle_step(work) and not work.state.api.parked:
                return
            if work.state.api.parked:
                self.unpark(work)
            self.drain(work)
        raise AssertionError("the cluster did not settle")

    # Actions --------------------------------------------------------------------------------

    def _etcd(self, work: Work, action: object) -> bool:
        """One environment action of the members; False when it cannot happen."""
        clock = None
        if isinstance(action, Crash):
            up = member_state(work.state, action.node)
            clock = None if up is None else MemberClock(now_ms=up.now_ms)
        applied = machines.apply_environment(self.network, work.state.members, action)  # type: ignore[arg-type]
        if isinstance(applied, NotEnabled):
            return False
        members = applied.state
        if isinstance(action, Crash) and clock is not None:
            # A restarted member's clock goes on from where it stopped (as in the etcd world).
            slot = msgspec.structs.replace(members.nodes[action.node], application=clock)
            members = msgspec.structs.replace(members, nodes=members.nodes.set(action.node, slot))
        work.state = msgspec.structs.replace(work.state, members=members)
        if isinstance(action, Crash):
            self.api.member_down(work, action.node)
        self.api.etcd_outputs(work, applied.outputs)
        return True

    def etcd_action(self, work: Work, action: object) -> bool:
        if isinstance(action, Restart) and member_state(work.state, action.node) is not None:
            return False
        return self._etcd(work, action)

    def unpark(self, work: Work) -> None:
        api = work.state.api
        if api.parked:
            work.state = msgspec.structs.replace(
                work.state, api=msgspec.structs.replace(api, parked=())
            )
            self.api.unpark(work, api.parked)

    def advance(self, work: Work, ms: int) -> None:
        """Time passes: the server's clock, every component's tick and election."""
        before = now_seconds(work.state)
        work.state = msgspec.structs.replace(work.state, now_ms=work.state.now_ms + ms)
        self.unpark(work)
        if work.state.api.state is not None and now_seconds(work.state) != before:
            event: ApiServerEvent = Tick(now_seconds=now_seconds(work.state))
            work.queue.append(event)
        self.drain(work)
        self.scheduler.tick(work)
        for replica in range(REPLICAS):
            self.managers.tick(work, replica)
        for index in range(self.setup.nodes):
            self.kubelets.tick(work, index)
        self.proxy.tick(work)
        self.retry_evictions(work)

    def restart_api(self, work: Work) -> None:
        """The API server process restarts: requests in flight and watches are lost (their
        callers learn it: no answer), storage operations in flight are forgotten."""
        state = work.state
        for _, caller in sorted(state.calls.items()):
            work.queue.append(Answer(caller, 0, b""))
        for _, caller in sorted(state.watches.items()):
            work.queue.append(Answer(caller, -2, b""))
        first = api_init(self.api_config)
        api = ApiSlot(
            state=first.state, member=state.api.member, incarnation=state.api.incarnation + 1,
            draws=state.api.draws,
        )  # fmt: skip
        work.state = msgspec.structs.replace(
            state, api=api, calls=type(state.calls)(), watches=type(state.watches)()
        )
        for command in first.commands:
            self.api._carry_out(work, command)

    def user(self, work: Work, request: ApiRequest, text: str, token: int = 0) -> None:
        self.api.send(
            work, request, Caller(component="user", purpose="user", text=text, token=token)
        )

    def evict(self, work: Work, key: str, give_up_ms: int) -> None:
        """A drain's eviction of pod ``key``; refused by a budget, it is sent again later."""
        self.user(work, world_user.eviction(key), f"evict {key}", give_up_ms)

    def _evicted(self, work: Work, caller: Caller, status: int) -> None:
        key = caller.text.removeprefix("evict ")
        now = work.state.now_ms
        if key == caller.text or status != 429 or now >= caller.token:
            return
        retry = (key, now + world_user.EVICTION_RETRY_MS, caller.token)
        work.state = msgspec.structs.replace(work.state, evictions=(*work.state.evictions, retry))

    def retry_evictions(self, work: Work) -> None:
        """Send again each refused eviction whose retry time came."""
        now = work.state.now_ms
        due = [e for e in work.state.evictions if e[1] <= now]
        if not due:
            return
        work.state = msgspec.structs.replace(
            work.state, evictions=tuple(e for e in work.state.evictions if e[1] > now)
        )
        for key, _, give_up in due:
            self.evict(work, key, give_up)

    def components(self) -> tuple[str, ...]:
        names = ["proxy", "scheduler", *(f"manager-{r}" for r in range(REPLICAS))]
        names.extend(world_kubelets.node_name(i) for i in range(self.setup.nodes))
        return tuple(names)

    def member_ids(self) -> tuple[NodeId, ...]:
        return self.network.node_ids
