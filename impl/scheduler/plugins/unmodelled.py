"""The default plugins whose subject this model does not hold: the volume plugins
(VolumeRestrictions, NodeVolumeLimits, VolumeBinding, VolumeZone) and DynamicResources.

For a pod that uses none of it (no persistent, ephemeral or CSI volumes; no resource claims)
each returns Skip at PreFilter and PreScore, as the real plugins do, and so changes nothing.
For a pod that does, the plugin is reported as not evaluated (``context.state``), and the pod
is treated as if the plugin passed. DynamicResources' PostFilter for a pod without claims
answers kube-scheduler's ``no new claims to deallocate`` (v1.35 still prints it; v1.37 drops
it, kubernetes#140222).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, final

import immutables

from impl.scheduler.framework import (
    PRE_FILTER_SKIP,
    SKIP,
    CycleContext,
    Plugin,
    PreFilterResult,
    Status,
    unschedulable,
)
from impl.scheduler.nodeinfo import NodeInfo
from impl.scheduler.podinfo import PodInfo
from models.k8s.base import Opaque

NOT_EVALUATED: Final = "notEvaluated"
NO_NEW_CLAIMS: Final = "no new claims to deallocate"
VOLUME_PLUGINS: Final = ("VolumeRestrictions", "NodeVolumeLimits", "VolumeBinding", "VolumeZone")
NODE_LOCAL_VOLUMES: Final = frozenset(
    {"name", "emptyDir", "configMap", "secret", "downwardAPI", "projected", "hostPath", "image"}
)


def uses_volumes(pod: PodInfo) -> bool:
    """Does the pod mount a volume the volume plugins look at (anything but emptyDir,
    configMap, secret, downwardAPI, projected, hostPath and image volumes)?"""
    volumes = pod.pod.pod_spec.volumes
    if not isinstance(volumes, Opaque) or not isinstance(volumes.value, tuple):
        return False
    for volume in volumes.value:
        if isinstance(volume, immutables.Map) and set(volume.keys()) - NODE_LOCAL_VOLUMES:
            return True
    return False


def uses_claims(pod: PodInfo) -> bool:
    """Does the pod reference ResourceClaims (``spec.resourceClaims``)?"""
    claims = pod.pod.pod_spec.resource_claims
    return isinstance(claims, Opaque) and bool(claims.value)


def _note(context: CycleContext, plugin: str) -> None:
    noted = context.state.get(NOT_EVALUATED, ())
    assert isinstance(noted, tuple)
    context.state[NOT_EVALUATED] = (*noted, plugin)


@final
class VolumePlugin(Plugin):
    """A volume plugin: Skip for pods without such volumes, not evaluated otherwise."""

    def __init__(self, name: str) -> None:
        self.name = name

    def pre_filter(self, context: CycleContext) -> PreFilterResult:
        if uses_volumes(context.pod):
            _note(context, self.name)
        return PRE_FILTER_SKIP

    def filter(self, context: CycleContext, node: NodeInfo) -> Status:
        raise AssertionError("skipped at PreFilter")


@final
class DynamicResources(Plugin):
    """DynamicResources: Skip for pods without claims; its PostFilter message."""

    name = "DynamicResources"

    def pre_filter(self, context: CycleContext) -> PreFilterResult:
        if uses_claims(context.pod):
            _note(context, self.name)
        return PRE_FILTER_SKIP

    def filter(self, context: CycleContext, node: NodeInfo) -> Status:
        raise AssertionError("skipped at PreFilter")

    def pre_score(self, context: CycleContext, nodes: Sequence[NodeInfo]) -> Status:
        return SKIP

    def score(self, context: CycleContext, node: NodeInfo) -> int:
        raise AssertionError("skipped at PreScore")

    def post_filter_status(self, context: CycleContext) -> Status:
        """PostFilter: nothing to deallocate for a pod without claims."""
        return unschedulable(NO_NEW_CLAIMS)
