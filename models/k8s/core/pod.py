"""core/v1 Pod: spec (containers, resources, probes, scheduling constraints) and status.

What the control plane reads is typed: containers and their resources (``Quantity`` maps),
ports, probes' timing, nodeName, nodeSelector, affinity, tolerations, topology spread
constraints, priority, scheduler name, overhead, scheduling gates, and the status the kubelet
and scheduler write. What it does not interpret (volumes, env, securityContext, volumeMounts,
lifecycle, dnsConfig, ...) is kept as ``Opaque`` JSON. Fields are ``None`` when absent.
"""

from __future__ import annotations

from typing import Literal

import msgspec
from msgspec import UNSET, UnsetType

from models.k8s.base import ApiStruct, FrozenMap, Opaque
from models.k8s.meta import LabelSelector, ObjectMeta, Timestamp
from models.quantity import Quantity

ResourceList = FrozenMap[str, Quantity]
IntOrString = int | str


class ResourceRequirements(ApiStruct, frozen=True, kw_only=True):
    """Requests and limits per resource name (``cpu``, ``memory``, extended resources)."""

    limits: ResourceList | None = None
    requests: ResourceList | None = None
    claims: Opaque | UnsetType = UNSET


class ContainerPort(ApiStruct, frozen=True, kw_only=True):
    name: str | None = None
    host_port: int | None = None
    container_port: int | None = None
    protocol: str | None = None
    host_ip: str | None = msgspec.field(default=None, name="hostIP")


class Probe(ApiStruct, frozen=True, kw_only=True):
    """A probe: the handler (exec, httpGet, tcpSocket, grpc) is opaque, the timing is typed."""

    exec: Opaque | UnsetType = UNSET
    http_get: Opaque | UnsetType = UNSET
    tcp_socket: Opaque | UnsetType = UNSET
    grpc: Opaque | UnsetType = UNSET
    initial_delay_seconds: int | None = None
    timeout_seconds: int | None = None
    period_seconds: int | None = None
    success_threshold: int | None = None
    failure_threshold: int | None = None
    termination_grace_period_seconds: int | None = None


class Container(ApiStruct, frozen=True, kw_only=True):
    """A container (also an init container; ``restartPolicy: Always`` makes it a sidecar)."""

    name: str | None = None
    image: str | None = None
    command: tuple[str, ...] | None = None
    args: tuple[str, ...] | None = None
    working_dir: str | None = None
    ports: tuple[ContainerPort, ...] | None = None
    env_from: Opaque | UnsetType = UNSET
    env: Opaque | UnsetType = UNSET
    resources: ResourceRequirements | None = None
    resize_policy: Opaque | UnsetType = UNSET
    restart_policy: str | None = None
    restart_policy_rules: Opaque | UnsetType = UNSET
    volume_mounts: Opaque | UnsetType = UNSET
    volume_devices: Opaque | UnsetType = UNSET
    liveness_probe: Probe | None = None
    readiness_probe: Probe | None = None
    startup_probe: Probe | None = None
    lifecycle: Opaque | UnsetType = UNSET
    termination_message_path: str | None = None
    termination_message_policy: str | None = None
    image_pull_policy: str | None = None
    security_context: Opaque | UnsetType = UNSET
    stdin: bool | None = None
    stdin_once: bool | None = None
    tty: bool | None = None

    def requests(self) -> ResourceList:
        """``resources.requests``, empty when absent."""
        if self.resources is None or self.resources.requests is None:
            return FrozenMap()
        return self.resources.requests

    def limits(self) -> ResourceList:
        """``resources.limits``, empty when absent."""
        if self.resources is None or self.resources.limits is None:
            return FrozenMap()
        return self.resources.limits


class NodeSelectorRequirement(ApiStruct, frozen=True, kw_only=True):
    """Operators: In, NotIn, Exists, DoesNotExist, Gt, Lt."""

    key: str | None = None
    operator: str | None = None
    values: tuple[str, ...] | None = None


class NodeSelectorTerm(ApiStruct, frozen=True, kw_only=True):
    match_expressions: tuple[NodeSelectorRequirement, ...] | None = None
    match_fields: tuple[NodeSelectorRequirement, ...] | None = None


class NodeSelector(ApiStruct, frozen=True, kw_only=True):
    """Terms are ORed."""

    node_selector_terms: tuple[NodeSelectorTerm, ...] | None = None


class PreferredSchedulingTerm(ApiStruct, frozen=True, kw_only=True):
    weight: int | None = None
    preference: NodeSelectorTerm | None = None


class NodeAffinity(ApiStruct, frozen=True, kw_only=True):
    required_during_scheduling_ignored_during_execution: NodeSelector | None = None
    preferred_during_scheduling_ignored_during_execution: (
        tuple[PreferredSchedulingTerm, ...] | None
    ) = None


class PodAffinityTerm(ApiStruct, frozen=True, kw_only=True):
    label_selector: LabelSelector | None = None
    namespaces: tuple[str, ...] | None = None
    topology_key: str | None = None
    namespace_selector: LabelSelector | None = None
    match_label_keys: tuple[str, ...] | None = None
    mismatch_label_keys: tuple[str, ...] | None = None


class WeightedPodAffinityTerm(ApiStruct, frozen=True, kw_only=True):
    weight: int | None = None
    pod_affinity_term: PodAffinityTerm | None = None


class PodAffinity(ApiStruct, frozen=True, kw_only=True):
    required_during_scheduling_ignored_during_execution: tuple[PodAffinityTerm, ...] | None = None
    preferred_during_scheduling_ignored_during_execution: (
        tuple[WeightedPodAffinityTerm, ...] | None
    ) = None


class PodAntiAffinity(ApiStruct, frozen=True, kw_only=True):
    required_during_scheduling_ignored_during_execution: tuple[PodAffinityTerm, ...] | None = None
    preferred_during_scheduling_ignored_during_execution: (
        tuple[WeightedPodAffinityTerm, ...] | None
    ) = None


class Affinity(ApiStruct, frozen=True, kw_only=True):
    node_affinity: NodeAffinity | None = None
    pod_affinity: PodAffinity | None = None
    pod_anti_affinity: PodAntiAffinity | None = None


class Toleration(ApiStruct, frozen=True, kw_only=True):
    """Operator Equal (default) or Exists; an empty effect matches every effect."""

    key: str | None = None
    operator: str | None = None
    value: str | None = None
    effect: str | None = None
    toleration_seconds: int | None = None


class TopologySpreadConstraint(ApiStruct, frozen=True, kw_only=True):
    max_skew: int | None = None
    topology_key: str | None = None
    when_unsatisfiable: str | None = None
    label_selector: LabelSelector | None = None
    min_domains: int | None = None
    node_affinity_policy: str | None = None
    node_taints_policy: str | None = None
    match_label_keys: tuple[str, ...] | None = None


class PodSchedulingGate(ApiStruct, frozen=True, kw_only=True):
    name: str | None = None


class PodSpec(ApiStruct, frozen=True, kw_only=True):
    """``core/v1 PodSpec``."""

    volumes: Opaque | UnsetType = UNSET
    init_containers: tuple[Container, ...] | None = None
    containers: tuple[Container, ...] | None = None
    ephemeral_containers: Opaque | UnsetType = UNSET
    restart_policy: str | None = None
    termination_grace_period_seconds: int | None = None
    active_deadline_seconds: int | None = None
    dns_policy: str | None = None
    node_selector: FrozenMap[str, str] | None = None
    service_account_name: str | None = None
    service_account: str | None = None
    automount_service_account_token: bool | None = None
    node_name: str | None = None
    host_network: bool | None = None
    host_pid: bool | None = msgspec.field(default=None, name="hostPID")
    host_ipc: bool | None = msgspec.field(default=None, name="hostIPC")
    share_process_namespace: bool | None = None
    security_context: Opaque | UnsetType = UNSET
    image_pull_secrets: Opaque | UnsetType = UNSET
    hostname: str | None = None
    subdomain: str | None = None
    affinity: Affinity | None = None
    scheduler_name: str | None = None
    tolerations: tuple[Toleration, ...] | None = None
    host_aliases: Opaque | UnsetType = UNSET
    priority_class_name: str | None = None
    priority: int | None = None
    dns_config: Opaque | UnsetType = UNSET
    readiness_gates: Opaque | UnsetType = UNSET
    runtime_class_name: str | None = None
    enable_service_links: bool | None = None
    preemption_policy: str | None = None
    overhead: ResourceList | None = None
    topology_spread_constraints: tuple[TopologySpreadConstraint, ...] | None = None
    set_hostname_as_fqdn: bool | None = msgspec.field(default=None, name="setHostnameAsFQDN")
    os: Opaque | UnsetType = UNSET
    host_users: bool | None = None
    scheduling_gates: tuple[PodSchedulingGate, ...] | None = None
    resource_claims: Opaque | UnsetType = UNSET
    resources: ResourceRequirements | None = None
    hostname_override: str | None = None
    scheduling_group: Opaque | UnsetType = UNSET
    eviction_responders: Opaque | UnsetType = UNSET


class PodCondition(ApiStruct, frozen=True, kw_only=True):
    """Types: PodScheduled, Initialized, ContainersReady, Ready, DisruptionTarget, ..."""

    type: str | None = None
    observed_generation: int | None = None
    status: str | None = None
    last_probe_time: Timestamp = UNSET
    last_transition_time: Timestamp = UNSET
    reason: str | None = None
    message: str | None = None


class ContainerStateWaiting(ApiStruct, frozen=True, kw_only=True):
    reason: str | None = None
    message: str | None = None


class ContainerStateRunning(ApiStruct, frozen=True, kw_only=True):
    started_at: Timestamp = UNSET


class ContainerStateTerminated(ApiStruct, frozen=True, kw_only=True):
    exit_code: int | None = None
    signal: int | None = None
    reason: str | None = None
    message: str | None = None
    started_at: Timestamp = UNSET
    finished_at: Timestamp = UNSET
    container_id: str | None = msgspec.field(default=None, name="containerID")


class ContainerState(ApiStruct, frozen=True, kw_only=True):
    """At most one of waiting, running and terminated is set."""

    waiting: ContainerStateWaiting | None = None
    running: ContainerStateRunning | None = None
    terminated: ContainerStateTerminated | None = None


class ContainerStatus(ApiStruct, frozen=True, kw_only=True):
    name: str | None = None
    state: ContainerState | None = None
    last_state: ContainerState | None = None
    ready: bool | None = None
    restart_count: int | None = None
    image: str | None = None
    image_id: str | None = msgspec.field(default=None, name="imageID")
    container_id: str | None = msgspec.field(default=None, name="containerID")
    started: bool | None = None
    allocated_resources: ResourceList | None = None
    resources: ResourceRequirements | None = None
    volume_mounts: Opaque | UnsetType = UNSET
    user: Opaque | UnsetType = UNSET
    allocated_resources_status: Opaque | UnsetType = UNSET
    stop_signal: str | None = None


class PodIP(ApiStruct, frozen=True, kw_only=True):
    ip: str | None = None


class PodStatus(ApiStruct, frozen=True, kw_only=True):
    """``core/v1 PodStatus``. Phases: Pending, Running, Succeeded, Failed, Unknown."""

    observed_generation: int | None = None
    phase: str | None = None
    conditions: tuple[PodCondition, ...] | None = None
    message: str | None = None
    reason: str | None = None
    nominated_node_name: str | None = None
    host_ip: str | None = msgspec.field(default=None, name="hostIP")
    host_ips: tuple[PodIP, ...] | None = msgspec.field(default=None, name="hostIPs")
    pod_ip: str | None = msgspec.field(default=None, name="podIP")
    pod_ips: tuple[PodIP, ...] | None = msgspec.field(default=None, name="podIPs")
    start_time: str | None = None
    init_container_statuses: tuple[ContainerStatus, ...] | None = None
    container_statuses: tuple[ContainerStatus, ...] | None = None
    qos_class: str | None = None
    ephemeral_container_statuses: tuple[ContainerStatus, ...] | None = None
    resize: str | None = None
    resource_claim_statuses: Opaque | UnsetType = UNSET
    extended_resource_claim_status: Opaque | UnsetType = UNSET
    allocated_resources: ResourceList | None = None
    resources: ResourceRequirements | None = None
    node_allocatable_resource_claim_statuses: Opaque | UnsetType = UNSET
    volume_health: Opaque | UnsetType = UNSET


class Pod(ApiStruct, frozen=True, kw_only=True):
    """``core/v1 Pod``. ``api_version``/``kind`` are ``None`` when the JSON leaves them out (as
    items of a typed list from the API do)."""

    api_version: Literal["v1"] | None = None
    kind: Literal["Pod"] | None = None
    metadata: ObjectMeta | None = None
    spec: PodSpec | None = None
    status: PodStatus | None = None

    @property
    def meta(self) -> ObjectMeta:
        """``metadata``, empty when absent."""
        return self.metadata if self.metadata is not None else ObjectMeta()

    @property
    def pod_spec(self) -> PodSpec:
        """``spec``, empty when absent."""
        return self.spec if self.spec is not None else PodSpec()

    @property
    def pod_status(self) -> PodStatus:
        """``status``, empty when absent."""
        return self.status if self.status is not None else PodStatus()

    def field_set(self) -> FrozenMap[str, str]:
        """The fields a field selector can name (``pod.ToSelectableFields``); ``status.podIPs``
        is accepted by the API server but absent from this set, so it reads as empty."""
        spec, status, meta = self.pod_spec, self.pod_status, self.meta
        pod_ips = status.pod_ips or ()
        return FrozenMap(
            {
                "metadata.name": meta.name or "",
                "metadata.namespace": meta.namespace or "",
                "spec.nodeName": spec.node_name or "",
                "spec.restartPolicy": spec.restart_policy or "",
                "spec.schedulerName": spec.scheduler_name or "",
                "spec.serviceAccountName": spec.service_account_name or "",
                "spec.hostNetwork": "true" if spec.host_network else "false",
                "status.phase": status.phase or "",
                "status.podIP": (pod_ips[0].ip or "") if pod_ips else "",
                "status.nominatedNodeName": status.nominated_node_name or "",
            }
        )


class PodTemplateSpec(ApiStruct, frozen=True, kw_only=True):
    metadata: ObjectMeta | None = None
    spec: PodSpec | None = None
