"""core/v1 Node: spec (taints, unschedulable, pod CIDRs) and status (capacity, allocatable,
conditions, addresses, images, nodeInfo, daemonEndpoints)."""

from __future__ import annotations

from typing import Literal

import msgspec
from msgspec import UNSET, UnsetType

from models.k8s.base import ApiStruct, FrozenMap, Opaque
from models.k8s.core.pod import ResourceList
from models.k8s.meta import ObjectMeta, Timestamp


class Taint(ApiStruct, frozen=True, kw_only=True):
    """Effects: NoSchedule, PreferNoSchedule, NoExecute."""

    key: str | None = None
    value: str | None = None
    effect: str | None = None
    time_added: str | None = None


class NodeSpec(ApiStruct, frozen=True, kw_only=True):
    pod_cidr: str | None = msgspec.field(default=None, name="podCIDR")
    pod_cidrs: tuple[str, ...] | None = msgspec.field(default=None, name="podCIDRs")
    provider_id: str | None = msgspec.field(default=None, name="providerID")
    unschedulable: bool | None = None
    taints: tuple[Taint, ...] | None = None
    config_source: Opaque | UnsetType = UNSET
    external_id: str | None = msgspec.field(default=None, name="externalID")
    pod_preemption_policy: str | None = None


class NodeCondition(ApiStruct, frozen=True, kw_only=True):
    """Types: Ready, MemoryPressure, DiskPressure, PIDPressure, NetworkUnavailable."""

    type: str | None = None
    status: str | None = None
    last_heartbeat_time: Timestamp = UNSET
    last_transition_time: Timestamp = UNSET
    reason: str | None = None
    message: str | None = None


class NodeAddress(ApiStruct, frozen=True, kw_only=True):
    """Types: Hostname, InternalIP, ExternalIP, InternalDNS, ExternalDNS."""

    type: str | None = None
    address: str | None = None


class DaemonEndpoint(ApiStruct, frozen=True, kw_only=True):
    port: int | None = msgspec.field(default=None, name="Port")


class NodeDaemonEndpoints(ApiStruct, frozen=True, kw_only=True):
    kubelet_endpoint: DaemonEndpoint | None = None


class NodeSystemInfo(ApiStruct, frozen=True, kw_only=True):
    machine_id: str | None = msgspec.field(default=None, name="machineID")
    system_uuid: str | None = msgspec.field(default=None, name="systemUUID")
    boot_id: str | None = msgspec.field(default=None, name="bootID")
    kernel_version: str | None = None
    os_image: str | None = None
    container_runtime_version: str | None = None
    kubelet_version: str | None = None
    kube_proxy_version: str | None = None
    operating_system: str | None = None
    architecture: str | None = None
    swap: Opaque | UnsetType = UNSET


class ContainerImage(ApiStruct, frozen=True, kw_only=True):
    names: tuple[str, ...] | None = None
    size_bytes: int | None = None


class NodeStatus(ApiStruct, frozen=True, kw_only=True):
    capacity: ResourceList | None = None
    allocatable: ResourceList | None = None
    phase: str | None = None
    conditions: tuple[NodeCondition, ...] | None = None
    addresses: tuple[NodeAddress, ...] | None = None
    daemon_endpoints: NodeDaemonEndpoints | None = None
    node_info: NodeSystemInfo | None = None
    images: tuple[ContainerImage, ...] | None = None
    volumes_in_use: tuple[str, ...] | None = None
    volumes_attached: Opaque | UnsetType = UNSET
    config: Opaque | UnsetType = UNSET
    runtime_handlers: Opaque | UnsetType = UNSET
    features: Opaque | UnsetType = UNSET
    declared_features: tuple[str, ...] | None = None


class Node(ApiStruct, frozen=True, kw_only=True):
    """``core/v1 Node`` (cluster-scoped)."""

    api_version: Literal["v1"] | None = None
    kind: Literal["Node"] | None = None
    metadata: ObjectMeta | None = None
    spec: NodeSpec | None = None
    status: NodeStatus | None = None

    @property
    def meta(self) -> ObjectMeta:
        return self.metadata if self.metadata is not None else ObjectMeta()

    @property
    def node_spec(self) -> NodeSpec:
        return self.spec if self.spec is not None else NodeSpec()

    @property
    def node_status(self) -> NodeStatus:
        return self.status if self.status is not None else NodeStatus()

    def allocatable(self) -> ResourceList:
        """``status.allocatable``, empty when absent."""
        allocatable = self.node_status.allocatable
        return allocatable if allocatable is not None else FrozenMap()

    def field_set(self) -> FrozenMap[str, str]:
        """The fields a field selector can name (``node.ToSelectableFields``)."""
        return FrozenMap(
            {
                "metadata.name": self.meta.name or "",
                "spec.unschedulable": "true" if self.node_spec.unschedulable else "false",
            }
        )
