"""kube-controller-manager's settings that change what the controllers do, with v1.35 defaults.

Sources: ``cmd/kube-controller-manager/app/options`` and each controller's config defaults
(``pkg/controller/*/config/v1alpha1/defaults.go``): concurrent syncs per controller, the
ReplicaSet burst, node-monitor timings (grace period 50 s since v1.32), eviction rates, HPA sync
period, tolerance and stabilization, terminated-pod GC threshold, EndpointSlice size.
"""

from __future__ import annotations

import msgspec

from models.feature_gates import FeatureGates


class ControllerConfig(msgspec.Struct, frozen=True, kw_only=True):
    """One controller-manager's settings (every controller reads the fields it needs)."""

    gates: FeatureGates = msgspec.field(default_factory=FeatureGates)
    concurrent_deployment_syncs: int = 5
    concurrent_replicaset_syncs: int = 5
    concurrent_gc_syncs: int = 20
    concurrent_namespace_syncs: int = 10
    concurrent_endpoint_syncs: int = 5
    concurrent_service_endpoint_syncs: int = 5
    concurrent_daemonset_syncs: int = 2
    concurrent_statefulset_syncs: int = 5
    concurrent_job_syncs: int = 5
    concurrent_serviceaccount_syncs: int = 5
    concurrent_horizontal_pod_autoscaler_syncs: int = 5
    burst_replicas: int = 500
    node_monitor_period_ms: int = 5_000
    node_monitor_grace_period_ms: int = 50_000
    node_startup_grace_period_ms: int = 60_000
    node_eviction_rate: float = 0.1
    secondary_node_eviction_rate: float = 0.01
    large_cluster_size_threshold: int = 50
    unhealthy_zone_threshold: float = 0.55
    horizontal_pod_autoscaler_sync_period_ms: int = 15_000
    horizontal_pod_autoscaler_tolerance: float = 0.1
    horizontal_pod_autoscaler_downscale_stabilization_ms: int = 300_000
    horizontal_pod_autoscaler_initial_readiness_delay_ms: int = 30_000
    horizontal_pod_autoscaler_cpu_initialization_period_ms: int = 300_000
    terminated_pod_gc_threshold: int = 12_500
    max_endpoints_per_slice: int = 100
    record_events: bool = False
    """Post core/v1 Events as kube-controller-manager's recorders do (``serve
    controller-manager`` turns it on; simulations and the unit tests' call sequences leave it
    off)."""
    mutant: str = ""
    """A deliberately broken behaviour (``runner.controllers.mutants``) for testing checkers."""
