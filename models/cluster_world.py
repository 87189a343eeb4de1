"""The vocabulary of the whole-cluster simulation world: its setup and its actions.

The world (``runner.cluster``) is etcd members on Raft, one API server machine, the scheduler,
two controller-manager replicas electing a leader on a Lease, N kubelets on the simulated
runtime and kube-proxy; they talk only through the API server. Components are named
``scheduler``, ``manager-0``, ``manager-1``, ``kubelet-<i>`` and ``proxy``.

Actions: an environment action of the etcd members (``Etcd``: deliver, drop, tick, crash,
restart, partition, heal a Raft message or member), hand a component's informer its next watch
line (``Inform``), offer a controller a worker (``Work``), run a scheduling cycle (``Cycle``),
let time pass (``Advance``), change the desired state as a user would (``User``), and faults:
crash and boot a node (``CrashNode``, ``BootNode``), cut a component off the API server and
reconnect it (``Cut``, ``Reconnect``), restart the API server (``RestartApi``), break one
informer's watch (``BreakWatch``: it lists again), stop and start a controller-manager replica
(``StopManager``, ``StartManager``: failover), and skew a node's clock (``Skew``).
"""

from __future__ import annotations

from typing import Annotated, Literal, TypeAlias

import msgspec

from models.environment import EnvironmentAction

MUTANTS: tuple[str, ...] = (
    "scheduler-ignores-taint-update",
    "controller-stale-cache-after-failover",
    "kubelet-runs-deleted-pod",
)


class ClusterSetup(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Everything replay needs besides the actions."""

    seed: int
    nodes: Annotated[int, msgspec.Meta(ge=1, le=200)] = 3
    members: Annotated[int, msgspec.Meta(ge=1, le=5)] = 3
    deployments: Annotated[int, msgspec.Meta(ge=1, le=5)] = 2
    max_replicas: Annotated[int, msgspec.Meta(ge=1, le=20)] = 4
    mutant: str = ""

    def __post_init__(self) -> None:
        if self.mutant and self.mutant not in MUTANTS:
            raise ValueError(f"unknown mutant {self.mutant!r} (known: {', '.join(MUTANTS)})")


class Etcd(msgspec.Struct, frozen=True, kw_only=True, tag="etcd"):
    """An environment action of the etcd members' machines world."""

    action: EnvironmentAction


class Inform(msgspec.Struct, frozen=True, kw_only=True, tag="inform"):
    """Component ``component``'s informer of ``resource`` takes its next watch line (or lists
    again when its watch ended)."""

    component: str
    resource: str


class Work(msgspec.Struct, frozen=True, kw_only=True, tag="work"):
    """A worker of controller ``controller`` of replica ``replica`` takes a ready key."""

    replica: int
    controller: int


class Cycle(msgspec.Struct, frozen=True, kw_only=True, tag="cycle"):
    """One scheduling cycle; ``draw`` breaks score ties."""

    draw: int


class Advance(msgspec.Struct, frozen=True, kw_only=True, tag="advance"):
    """Time passes for every component (etcd members tick on their own)."""

    ms: Annotated[int, msgspec.Meta(ge=1, le=600_000)]


UserVerb: TypeAlias = Literal[
    "create",
    "scale",
    "rollout",
    "delete-pod",
    "force-delete-pod",
    "taint",
    "untaint",
    "drain",
    "budget",
]


class User(msgspec.Struct, frozen=True, kw_only=True, tag="user"):
    """A user's change through the API: ``create``/``scale``/``rollout`` Deployment
    ``target`` (``value``: its replicas, or the image generation), delete a pod (gracefully or
    forced), taint or untaint node ``target`` with a NoSchedule taint, drain it (cordon,
    then evict each of its pods), or give Deployment ``target`` a PodDisruptionBudget
    (``budget``: ``minAvailable`` ``value``)."""

    verb: UserVerb
    target: str
    value: int = 0


class CrashNode(msgspec.Struct, frozen=True, kw_only=True, tag="crash-node"):
    node: int


class BootNode(msgspec.Struct, frozen=True, kw_only=True, tag="boot-node"):
    node: int


class Cut(msgspec.Struct, frozen=True, kw_only=True, tag="cut"):
    """Component ``component`` can no longer reach the API server (nor hear its watches)."""

    component: str


class Reconnect(msgspec.Struct, frozen=True, kw_only=True, tag="reconnect"):
    component: str


class RestartApi(msgspec.Struct, frozen=True, kw_only=True, tag="restart-api"):
    pass


class BreakWatch(msgspec.Struct, frozen=True, kw_only=True, tag="break-watch"):
    component: str
    resource: str


class StopManager(msgspec.Struct, frozen=True, kw_only=True, tag="stop-manager"):
    replica: int


class StartManager(msgspec.Struct, frozen=True, kw_only=True, tag="start-manager"):
    replica: int


class Skew(msgspec.Struct, frozen=True, kw_only=True, tag="skew"):
    """Node ``node``'s clock runs ``offset_ms`` ahead of (negative: behind) the world's."""

    node: int
    offset_ms: Annotated[int, msgspec.Meta(ge=-120_000, le=120_000)]


ClusterAction: TypeAlias = (
    Etcd
    | Inform
    | Work
    | Cycle
    | Advance
    | User
    | CrashNode
    | BootNode
    | Cut
    | Reconnect
    | RestartApi
    | BreakWatch
    | StopManager
    | StartManager
    | Skew
)
