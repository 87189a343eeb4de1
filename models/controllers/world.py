"""The vocabulary of the controllers' simulation world: its setup and its actions.

The world is the reference API server, the kube-controller-manager's controllers (Deployment,
ReplicaSet, garbage collector) and simulated kubelets. Actions: hand one informer its next watch
event, offer a controller a worker, let a kubelet take a pod one step (bind, run, finish), let
time pass, change the desired state as a user would (``User``), and faults: crash and restart a
controller, fail the leader over (every controller restarts with cold caches), break one
informer's watch (it lists again), lose a controller's next write.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

import msgspec


class ControllersSetup(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    seed: int
    deployments: int = 2
    max_replicas: int = 6
    mutant: str = ""

    def __post_init__(self) -> None:
        if not 1 <= self.deployments <= 5 or not 1 <= self.max_replicas <= 50:
            raise ValueError("deployments must be 1..5 and max_replicas 1..50")


class Deliver(msgspec.Struct, frozen=True, kw_only=True, tag="deliver"):
    controller: int
    resource: str


class Work(msgspec.Struct, frozen=True, kw_only=True, tag="work"):
    controller: int


class Kubelet(msgspec.Struct, frozen=True, kw_only=True, tag="kubelet"):
    pod: str
    """``namespace/name``."""


class Advance(msgspec.Struct, frozen=True, kw_only=True, tag="advance"):
    seconds: int


UserVerb = Literal["create", "scale", "image", "pause", "resume", "delete"]


class User(msgspec.Struct, frozen=True, kw_only=True, tag="user"):
    """A desired-state change: ``create`` (with ``replicas``, ``image``, ``surge``,
    ``unavailable`` or ``recreate``), ``scale``, ``image``, ``pause``, ``resume``, ``delete``
    (with ``policy`` Background, Foreground or Orphan)."""

    verb: UserVerb
    name: str
    replicas: int = 0
    image: str = ""
    surge: str = ""
    unavailable: str = ""
    recreate: bool = False
    policy: str = ""


class Crash(msgspec.Struct, frozen=True, kw_only=True, tag="crash"):
    controller: int


class Restart(msgspec.Struct, frozen=True, kw_only=True, tag="restart"):
    controller: int


class Failover(msgspec.Struct, frozen=True, kw_only=True, tag="failover"):
    """The leader's Lease passes to a standby: every controller starts again from nothing."""


class BreakWatch(msgspec.Struct, frozen=True, kw_only=True, tag="break-watch"):
    controller: int
    resource: str


class LoseAnswer(msgspec.Struct, frozen=True, kw_only=True, tag="lose-answer"):
    """The controller's next write is lost on the way: never applied, never answered."""

    controller: int


ControllersAction: TypeAlias = (
    Deliver | Work | Kubelet | Advance | User | Crash | Restart | Failover | BreakWatch | LoseAnswer
)


class Wrote(msgspec.Struct, frozen=True, kw_only=True, tag="wrote"):
    """An output: a controller's (or the user's, ``controller`` "user") write and its status."""

    controller: str
    method: str
    path: str
    status: int


class Advanced(msgspec.Struct, frozen=True, kw_only=True, tag="advanced"):
    seconds: int


ControllersOutput: TypeAlias = Wrote | Advanced
