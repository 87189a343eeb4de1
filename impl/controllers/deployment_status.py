"""A Deployment's status from its ReplicaSets, and its Progressing condition.

``calculateStatus`` (sync.go) and ``syncRolloutStatus``'s condition logic (progress.go), v1.35:
counts summed over the ReplicaSets, the Available condition from ``replicas - maxUnavailable``,
and Progressing: NewReplicaSetAvailable once complete, ReplicaSetUpdated (with a fresh
``lastUpdateTime``) while progress shows, ProgressDeadlineExceeded once the deadline passed
without progress; ReplicaFailure copied from the ReplicaSets (the new one's first).
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from impl.controllers import deployment_util as du
from impl.controllers.objects import meta, seconds
from models.controllers.config import ControllerConfig
from models.k8s.apps import Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet


def calculate_status(
    config: ControllerConfig,
    all_rss: Sequence[ReplicaSet | None],
    new: ReplicaSet | None,
    d: Deployment,
    now_ms: int,
) -> DeploymentStatus:
    available = du.available_total(all_rss)
    total = du.spec_total(all_rss)
    old = d.status or DeploymentStatus()
    status = DeploymentStatus(
        observed_generation=meta(d).generation,
        replicas=du.actual_total(all_rss),
        updated_replicas=du.actual_total([new]),
        ready_replicas=du.ready_total(all_rss),
        available_replicas=available,
        unavailable_replicas=max(0, total - available),
        collision_count=old.collision_count,
        conditions=old.conditions,
    )
    if config.gates.enabled("DeploymentReplicaSetTerminatingReplicas"):
        status = msgspec.structs.replace(status, terminating_replicas=du.terminating_total(all_rss))
    if available >= du.replicas_of(d) - du.max_unavailable_of(d):
        condition = du.new_condition(
            "Available",
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
            now_ms,
        )
    else:
        condition = du.new_condition(
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
            now_ms,
        )
    return du.set_condition(status, condition)


def _replica_failures(
    all_rss: Sequence[ReplicaSet | None], new: ReplicaSet | None
) -> list[DeploymentCondition]:
    def of(rs: ReplicaSet) -> list[DeploymentCondition]:
        return [
            DeploymentCondition(
                type=c.type,
                status=c.status,
                last_transition_time=c.last_transition_time,
                last_update_time=c.last_transition_time,
                reason=c.reason,
                message=c.message,
            )
            for c in (rs.status.conditions or () if rs.status else ())
            if c.type == "ReplicaFailure"
        ]

    if new is not None and (found := of(new)):
        return found
    return [c for rs in all_rss if rs is not None for c in of(rs)]


def _progress(
    d: Deployment, status: DeploymentStatus, new: ReplicaSet | None, now_ms: int
) -> DeploymentStatus:
    current = du.condition(d.status or DeploymentStatus(), "Progressing")
    name = meta(new).name if new is not None else meta(d).name
    subject = f'ReplicaSet "{name}"' if new is not None else f'Deployment "{name}"'
    if du.complete(d, status):
        condition = du.new_condition(
            "Progressing",
            "True",
            "NewReplicaSetAvailable",
            f"{subject} has successfully progressed.",
            now_ms,
        )
        return du.set_condition(status, condition)
    if du.progressing(d, status):
        condition = du.new_condition(
            "Progressing", "True", "ReplicaSetUpdated", f"{subject} is progressing.", now_ms
        )
        if current is not None:
            if current.status == "True":
                condition = msgspec.structs.replace(
                    condition, last_transition_time=current.last_transition_time
                )
            status = du.remove_condition(status, "Progressing")
        return du.set_condition(status, condition)
    if du.timed_out(d, status, now_ms):
        condition = du.new_condition(
            "Progressing",
            "False",
            "ProgressDeadlineExceeded",
            f"{subject} has timed out progressing.",
            now_ms,
        )
        return du.set_condition(status, condition)
    return status


def rollout_status(
    config: ControllerConfig,
    all_rss: Sequence[ReplicaSet | None],
    new: ReplicaSet | None,
    d: Deployment,
    now_ms: int,
) -> DeploymentStatus:
    """The status ``syncRolloutStatus`` would write."""
    status = calculate_status(config, all_rss, new, d, now_ms)
    if not du.has_progress_deadline(d):
        status = du.remove_condition(status, "Progressing")
    current = du.condition(d.status or DeploymentStatus(), "Progressing")
    is_complete = (
        status.replicas == status.updated_replicas
        and current is not None
        and current.reason == "NewReplicaSetAvailable"
    )
    if du.has_progress_deadline(d) and not is_complete:
        status = _progress(d, status, new, now_ms)
    failures = _replica_failures(all_rss, new)
    if failures:
        return du.set_condition(status, failures[0])
    return du.remove_condition(status, "ReplicaFailure")


def stuck_requeue_ms(d: Deployment, status: DeploymentStatus, now_ms: int) -> int | None:
    """``requeueStuckDeployment``: when to look for a timeout again (0: rate-limited now)."""
    current = du.condition(d.status or DeploymentStatus(), "Progressing")
    if not du.has_progress_deadline(d) or current is None:
        return None
    if du.complete(d, status) or current.reason == "ProgressDeadlineExceeded":
        return None
    updated = seconds(current.last_update_time) or 0
    deadline = d.spec.progress_deadline_seconds if d.spec else 0
    after_ms = (updated + (deadline or 0)) * 1000 - now_ms
    if after_ms < 1000:
        return 0
    return after_ms + 1000
