"""The kubelet world's vocabulary: its setup, its actions and its state, for the simulation
kernel (``runner/kubelet/world.py``).

Nodes run the kubelet machine on the simulated runtime; a small stand-in for the API server
holds the pods (bound round-robin by the world, which plays the scheduler), the nodes' Leases
and the statuses the kubelets write. Actions: time passes (``Advance``); a user creates a pod
from one of the scripted templates or deletes one; faults: the API server becomes unreachable
from a node (``Partition``, ``Heal``), a node reboots (``Reboot``), a node's clock jumps
(``ClockJump``), a node runs short of memory (``Pressure``).
"""

from __future__ import annotations

from typing import TypeAlias

import msgspec

from models.k8s.core.pod import Pod
from models.kubelet.state import KubeletState


class KubeletSetup(msgspec.Struct, frozen=True, kw_only=True):
    seed: int = 1
    nodes: int = 2
    max_pods: int = 6
    mutant: str = ""

    def __post_init__(self) -> None:
        if not 1 <= self.nodes <= 5 or not 1 <= self.max_pods <= 20:
            raise ValueError("nodes must be 1..5 and max_pods 1..20")


class Advance(msgspec.Struct, frozen=True, kw_only=True, tag="advance"):
    seconds: int


class CreatePod(msgspec.Struct, frozen=True, kw_only=True, tag="create-pod"):
    template: int
    priority: int = 0


class DeletePod(msgspec.Struct, frozen=True, kw_only=True, tag="delete-pod"):
    name: str
    grace_seconds: int


class Partition(msgspec.Struct, frozen=True, kw_only=True, tag="partition"):
    node: int


class Heal(msgspec.Struct, frozen=True, kw_only=True, tag="heal"):
    node: int


class Reboot(msgspec.Struct, frozen=True, kw_only=True, tag="reboot"):
    node: int


class ClockJump(msgspec.Struct, frozen=True, kw_only=True, tag="clock-jump"):
    node: int
    seconds: int


class Pressure(msgspec.Struct, frozen=True, kw_only=True, tag="pressure"):
    """A usage observation on one node: ``memory.available`` of ``available_mib`` MiB, or for
    another signal ``available_permille`` of its capacity."""

    node: int
    available_mib: int
    signal: str = "memory.available"
    available_permille: int = 0


KubeletAction: TypeAlias = (
    Advance | CreatePod | DeletePod | Partition | Heal | Reboot | ClockJump | Pressure
)


class Wrote(msgspec.Struct, frozen=True, kw_only=True, tag="wrote"):
    """An output: a node's API write and the code the stand-in answered (0: unreachable)."""

    node: int
    kind: str
    code: int


KubeletOutput: TypeAlias = Wrote


class NodeSlot(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    state: KubeletState
    runtime: bytes
    """The simulated runtime, encoded (``runner.kubelet.simulated.Runtime``)."""
    reachable: bool = True
    clock_offset_ms: int = 0
    lease_renewed_ms: int | None = None
    """The last renewTime the API server holds for the node's Lease (node clock)."""
    boots: int = 0


class ApiPod(msgspec.Struct, frozen=True, kw_only=True):
    pod: Pod
    node: int


class KubeletWorldState(msgspec.Struct, frozen=True, kw_only=True):
    now_ms: int
    nodes: tuple[NodeSlot, ...]
    pods: tuple[ApiPod, ...] = ()
    created: int = 0
