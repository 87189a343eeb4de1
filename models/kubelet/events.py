"""What enters the kubelet (events) and what it asks the runner to do (commands).

Every source of nondeterminism enters as an event: the time (``Tick``), what the API server
holds (``NodeObserved``, ``PodObserved``, ``PodRemoved``), the outcome of each API call
(``ApiAnswered``), and what the container runtime did (``SandboxReady``, ``ContainerStarted``,
``ContainerExited``, ``ProbeAnswered``, ``PreStopDone``, ``UsageObserved``). Commands are
either API writes (``RegisterNode``, ``UpdateNodeStatus``, ``RenewLease``, ``PatchPodStatus``,
``DeletePod``) or runtime requests (``CreateSandbox``, ``StartContainer``, ``StopContainer``,
``RunProbe``, ``RunPreStop``, ``RemoveSandbox``); the runner carries them out and reports back
with events.
"""

from __future__ import annotations

from typing import Final, Literal

import msgspec

from models.k8s.coordination import Lease
from models.k8s.core.node import Node, NodeStatus
from models.k8s.core.pod import Container, Pod, PodStatus, Probe

ProbeKind = Literal["startup", "liveness", "readiness"]
ApiRequest = Literal["register", "lease", "status"]
Signal = Literal["SIGTERM", "SIGKILL"]

LEASE_NAMESPACE: Final = "kube-node-lease"


class _Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    pass


class Tick(_Event, frozen=True, kw_only=True, tag="Tick"):
    """The clock: Unix milliseconds (a clock jump is a Tick far from the last)."""

    now_ms: int


class NodeObserved(_Event, frozen=True, kw_only=True, tag="NodeObserved"):
    """The Node object as the API server holds it (labels, taints); None when it is absent."""

    node: Node | None


class PodObserved(_Event, frozen=True, kw_only=True, tag="PodObserved"):
    """A pod bound to this node, added or changed in the API."""

    pod: Pod


class PodRemoved(_Event, frozen=True, kw_only=True, tag="PodRemoved"):
    """The pod with this UID is gone from the API."""

    uid: str


class ApiAnswered(_Event, frozen=True, kw_only=True, tag="ApiAnswered"):
    """The outcome of the last node-level write of this kind (status 0: no answer)."""

    request: ApiRequest
    code: int


class SandboxReady(_Event, frozen=True, kw_only=True, tag="SandboxReady"):
    uid: str
    pod_ip: str


class ContainerStarted(_Event, frozen=True, kw_only=True, tag="ContainerStarted"):
    uid: str
    container: str
    attempt: int


class ContainerExited(_Event, frozen=True, kw_only=True, tag="ContainerExited"):
    """The runtime saw the container end. ``reason`` is Completed, Error, OOMKilled or
    ContainerCannotRun; the kubelet derives Completed/Error from the code when it is empty."""

    uid: str
    container: str
    attempt: int
    exit_code: int
    reason: str = ""
    signal: int = 0


class ProbeAnswered(_Event, frozen=True, kw_only=True, tag="ProbeAnswered"):
    """One probe's outcome (a timeout is a failure)."""

    uid: str
    container: str
    attempt: int
    probe: ProbeKind
    success: bool


class PreStopDone(_Event, frozen=True, kw_only=True, tag="PreStopDone"):
    """The container's preStop hook finished (whatever its outcome)."""

    uid: str
    container: str
    attempt: int


class PodUsage(msgspec.Struct, frozen=True, kw_only=True):
    uid: str
    cpu_millis: int
    memory_bytes: int
    disk_bytes: int = 0
    """Local ephemeral storage in use (writable layers, logs, emptyDir)."""
    inodes: int = 0
    processes: int = 0


DISK_SIGNALS: Final = (
    "nodefs.available",
    "nodefs.inodesFree",
    "imagefs.available",
    "imagefs.inodesFree",
)
PID_SIGNAL: Final = "pid.available"


class SignalObserved(msgspec.Struct, frozen=True, kw_only=True):
    """One eviction signal besides memory: what is available of what capacity (bytes for
    ``*.available``, inodes for ``*.inodesFree``, process IDs for ``pid.available``)."""

    signal: str
    available: int
    capacity: int


class UsageObserved(_Event, frozen=True, kw_only=True, tag="UsageObserved"):
    """The node's and each pod's resource use (what cAdvisor would report); ``signals``: the
    filesystem and PID signals observed (one not listed was not measured)."""

    memory_available_bytes: int
    pods: tuple[PodUsage, ...] = ()
    signals: tuple[SignalObserved, ...] = ()


Event = (
    Tick
    | NodeObserved
    | PodObserved
    | PodRemoved
    | ApiAnswered
    | SandboxReady
    | ContainerStarted
    | ContainerExited
    | ProbeAnswered
    | PreStopDone
    | UsageObserved
)


class _Command(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    pass


class RegisterNode(_Command, frozen=True, kw_only=True, tag="RegisterNode"):
    """POST the Node (409 AlreadyExists counts as registered)."""

    node: Node


class UpdateNodeStatus(_Command, frozen=True, kw_only=True, tag="UpdateNodeStatus"):
    """PATCH ``nodes/<name>/status`` with this status."""

    name: str
    status: NodeStatus


class RenewLease(_Command, frozen=True, kw_only=True, tag="RenewLease"):
    """Create or update the node's Lease in ``kube-node-lease``."""

    lease: Lease


class PatchPodStatus(_Command, frozen=True, kw_only=True, tag="PatchPodStatus"):
    """PATCH ``pods/<name>/status``: the kubelet owns every field it sends (conditions merge by
    type)."""

    namespace: str
    name: str
    uid: str
    status: PodStatus


class DeletePod(_Command, frozen=True, kw_only=True, tag="DeletePod"):
    """DELETE with gracePeriodSeconds 0 and a UID precondition (all containers stopped)."""

    namespace: str
    name: str
    uid: str


class CreateSandbox(_Command, frozen=True, kw_only=True, tag="CreateSandbox"):
    uid: str
    pod: Pod


class StartContainer(_Command, frozen=True, kw_only=True, tag="StartContainer"):
    uid: str
    pod: Pod
    container: Container
    attempt: int


class StopContainer(_Command, frozen=True, kw_only=True, tag="StopContainer"):
    """SIGTERM first (after preStop), SIGKILL when the grace period is over."""

    uid: str
    container: str
    attempt: int
    signal: Signal


class RunProbe(_Command, frozen=True, kw_only=True, tag="RunProbe"):
    uid: str
    pod: Pod
    container: str
    attempt: int
    probe: ProbeKind
    spec: Probe


class RunPreStop(_Command, frozen=True, kw_only=True, tag="RunPreStop"):
    """Run the container's ``lifecycle.preStop`` handler (exec, httpGet or sleep)."""

    uid: str
    pod: Pod
    container: str
    attempt: int


class RemoveSandbox(_Command, frozen=True, kw_only=True, tag="RemoveSandbox"):
    uid: str


Command = (
    RegisterNode
    | UpdateNodeStatus
    | RenewLease
    | PatchPodStatus
    | DeletePod
    | CreateSandbox
    | StartContainer
    | StopContainer
    | RunProbe
    | RunPreStop
    | RemoveSandbox
)
