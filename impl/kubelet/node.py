"""The node side of the kubelet: registration, NodeStatus and the Lease heartbeat.

Theory of operation. Until the API server accepts the Node (201, or 409 when it already
exists) the kubelet retries registration on every tick. Then two loops run on the clock:

- the Lease ``kube-node-lease/<node>`` is renewed every quarter of
  ``nodeLeaseDurationSeconds`` (10 s of 40 s); a failed renewal is retried on the next tick;
- every ``nodeStatusUpdateFrequency`` (10 s) the status is computed, and posted when it differs
  from the last posted one (heartbeat times aside) or ``nodeStatusReportFrequency`` (5 min) has
  passed since the last post.

Conditions: MemoryPressure, DiskPressure and PIDPressure (from eviction's signals, with the
kubelet's reasons and messages), Ready (KubeletReady, "kubelet is posting ready status").
"""

from __future__ import annotations

from typing import Final

import msgspec

from impl.kubelet.eviction import disk_pressure, pid_pressure, under_pressure
from impl.kubelet.status import fold_conditions
from models.apiserver.clock import rfc3339
from models.k8s.base import FrozenMap
from models.k8s.coordination import Lease, LeaseSpec
from models.k8s.core.node import (
    ContainerImage,
    DaemonEndpoint,
    Node,
    NodeAddress,
    NodeCondition,
    NodeDaemonEndpoints,
    NodeStatus,
    NodeSystemInfo,
)
from models.k8s.meta import ObjectMeta, OwnerReference
from models.kubelet.config import KUBELET_VERSION, KubeletConfig, NodeResources
from models.kubelet.events import (
    LEASE_NAMESPACE,
    ApiRequest,
    Command,
    RegisterNode,
    RenewLease,
    UpdateNodeStatus,
)
from models.kubelet.state import KubeletState
from models.quantity import Quantity, QuantityFormat

RETRY_MS: Final = 1000
"""A refused node-level write is tried again this long after."""


def _quantities(resources: NodeResources) -> FrozenMap[str, Quantity]:
    cpu = resources.cpu_millis
    return FrozenMap(
        {
            "cpu": Quantity.from_milli(cpu, QuantityFormat.DECIMAL_SI),
            "memory": Quantity.from_int(resources.memory_bytes, QuantityFormat.BINARY_SI),
            "ephemeral-storage": Quantity.from_int(
                resources.ephemeral_storage_bytes, QuantityFormat.BINARY_SI
            ),
            "pods": Quantity.from_int(resources.pods, QuantityFormat.DECIMAL_SI),
        }
    )


def labels(config: KubeletConfig) -> FrozenMap[str, str]:
    base = {
        "kubernetes.io/hostname": config.node_name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "beta.kubernetes.io/arch": "amd64",
    }
    base.update(dict(config.labels))
    return FrozenMap(base)


def _wanted_conditions(
    config: KubeletConfig, state: KubeletState
) -> tuple[tuple[str, str, str, str], ...]:
    pressure = under_pressure(config, state)
    memory = (
        (
            "MemoryPressure",
            "True",
            "KubeletHasInsufficientMemory",
            "kubelet has insufficient memory available",
        )
        if pressure
        else (
            "MemoryPressure",
            "False",
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available",
        )
    )
    disk = (
        ("DiskPressure", "True", "KubeletHasDiskPressure", "kubelet has disk pressure")
        if disk_pressure(config, state)
        else ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure")
    )
    pid = (
        (
            "PIDPressure",
            "True",
            "KubeletHasInsufficientPID",
            "kubelet has insufficient PID available",
        )
        if pid_pressure(config, state)
        else (
            "PIDPressure",
            "False",
            "KubeletHasSufficientPID",
            "kubelet has sufficient PID available",
        )
    )
    return (memory, disk, pid, ("Ready", "True", "KubeletReady", "kubelet is posting ready status"))


def status(config: KubeletConfig, state: KubeletState) -> NodeStatus:
    """The NodeStatus as of ``state.now_ms`` (heartbeat times are now)."""
    now = rfc3339(state.now_ms // 1000)
    images = sorted(
        {c.image or "" for r in state.pods for c in r.pod.pod_spec.containers or () if c.image}
    )
    return NodeStatus(
        capacity=_quantities(config.capacity),
        allocatable=_quantities(config.allocatable()),
        conditions=tuple(
            NodeCondition(
                type=c.type,
                status=c.status,
                last_heartbeat_time=now,
                last_transition_time=rfc3339(c.since_ms // 1000),
                reason=c.reason,
                message=c.message,
            )
            for c in state.node_conditions
        ),
        addresses=(
            NodeAddress(type="InternalIP", address=config.node_ip),
            NodeAddress(type="Hostname", address=config.node_name),
        ),
        daemon_endpoints=NodeDaemonEndpoints(
            kubelet_endpoint=DaemonEndpoint(port=config.kubelet_port)
        ),
        node_info=NodeSystemInfo(
            machine_id=config.node_name,
            system_uuid=config.node_name,
            boot_id=config.boot_id,
            kernel_version="",
            os_image="kubeoracle",
            container_runtime_version="kubeoracle://1.0.0",
            kubelet_version=KUBELET_VERSION,
            kube_proxy_version="",
            operating_system="linux",
            architecture="amd64",
        ),
        images=tuple(ContainerImage(names=(name,), size_bytes=0) for name in images[:50]) or None,
    )


def node_object(config: KubeletConfig, state: KubeletState) -> Node:
    """The Node the kubelet registers."""
    return Node(
        api_version="v1",
        kind="Node",
        metadata=ObjectMeta(name=config.node_name, labels=labels(config)),
        status=status(config, state),
    )


def lease(config: KubeletConfig, state: KubeletState) -> Lease:
    owner: tuple[OwnerReference, ...] = ()
    if state.node is not None and state.node.meta.uid:
        owner = (
            OwnerReference(
                api_version="v1", kind="Node", name=config.node_name, uid=state.node.meta.uid
            ),
        )
    seconds, millis = divmod(state.now_ms, 1000)
    renew = rfc3339(seconds)[:-1] + f".{millis:03d}000Z"
    return Lease(
        api_version="coordination.k8s.io/v1",
        kind="Lease",
        metadata=ObjectMeta(
            name=config.node_name, namespace=LEASE_NAMESPACE, owner_references=owner or None
        ),
        spec=LeaseSpec(
            holder_identity=config.node_name,
            lease_duration_seconds=config.node_lease_duration_seconds,
            renew_time=renew,
        ),
    )


def _without_heartbeats(node_status: NodeStatus | None) -> NodeStatus | None:
    if node_status is None:
        return None
    conditions = tuple(
        msgspec.structs.replace(c, last_heartbeat_time=None) for c in node_status.conditions or ()
    )
    return msgspec.structs.replace(node_status, conditions=conditions)


def _pend(state: KubeletState, request: ApiRequest) -> frozenset[ApiRequest]:
    return state.pending | {request}


def sync(config: KubeletConfig, state: KubeletState) -> tuple[KubeletState, tuple[Command, ...]]:
    """Registration, lease renewal and status posting due at ``state.now_ms``."""
    now = state.now_ms
    conditions = fold_conditions(state.node_conditions, _wanted_conditions(config, state), now)
    state = msgspec.structs.replace(state, node_conditions=conditions)
    if not state.registered:
        tried = state.register_tried_ms
        if "register" in state.pending or (tried is not None and 0 <= now - tried < RETRY_MS):
            return state, ()
        registering = msgspec.structs.replace(
            state, pending=_pend(state, "register"), register_tried_ms=now
        )
        return registering, (RegisterNode(node=node_object(config, state)),)
    commands: list[Command] = []
    tried = state.lease_tried_ms
    if "lease" not in state.pending and (
        tried is None or now - tried >= config.lease_renew_interval_ms or now < tried
    ):
        commands.append(RenewLease(lease=lease(config, state)))
        state = msgspec.structs.replace(state, pending=_pend(state, "lease"), lease_tried_ms=now)
    checked = state.status_checked_ms
    if "status" not in state.pending and (
        checked is None or now - checked >= config.node_status_update_frequency_ms or now < checked
    ):
        current = status(config, state)
        sent_ms = state.status_sent_ms
        stale = (
            sent_ms is None
            or now - sent_ms >= config.node_status_report_frequency_ms
            or now < sent_ms
        )
        if stale or _without_heartbeats(current) != _without_heartbeats(state.status_sent):
            commands.append(UpdateNodeStatus(name=config.node_name, status=current))
            state = msgspec.structs.replace(
                state, pending=_pend(state, "status"), status_sent=current, status_sent_ms=now
            )
        state = msgspec.structs.replace(state, status_checked_ms=now)
    return state, tuple(commands)


def answered(
    config: KubeletConfig, state: KubeletState, request: ApiRequest, code: int
) -> KubeletState:
    """Fold the outcome of a node-level write."""
    ok = 200 <= code < 300
    pending = state.pending - {request}
    match request:
        case "register":
            return msgspec.structs.replace(state, pending=pending, registered=ok or code == 409)
        case "lease":
            if ok:
                return msgspec.structs.replace(
                    state, pending=pending, lease_renewed_ms=state.lease_tried_ms
                )
            retry = state.now_ms - config.lease_renew_interval_ms + RETRY_MS
            return msgspec.structs.replace(state, pending=pending, lease_tried_ms=retry)
        case "status":
            if ok:
                return msgspec.structs.replace(state, pending=pending)
            retry = state.now_ms - config.node_status_update_frequency_ms + RETRY_MS
            return msgspec.structs.replace(
                state,
                pending=pending,
                status_sent=None,
                status_sent_ms=None,
                status_checked_ms=retry,
            )
