"""The Deployment sync's entry (``syncDeployment``), and the rolling update and Recreate
rollouts as ``rolling.go`` and ``recreate.go`` (v1.35) run them.

Rolling: find or create the new ReplicaSet; grow it up to ``replicas + maxSurge`` in total; if
it did not grow, shrink old ReplicaSets (their unavailable replicas first, then down to
``replicas - maxUnavailable`` available), oldest first; once complete, clean up history; then
the status. The counts come from :mod:`impl.controllers.rollout_math`, the code the proofs
check. Recreate: empty every old ReplicaSet, wait until no old pod runs, then create or grow the
new one to full size.
"""

from __future__ import annotations

import msgspec

from impl.controllers import deployment_util as du
from impl.controllers.arithmetic import INTEGERS
from impl.controllers.deployment_sync import (
    Env,
    Result,
    Snapshot,
    all_replica_sets,
    check_paused_conditions,
    cleanup,
    is_scaling_event,
    new_rs_replicas,
    scale_and_record,
    status_of,
    sync_deployment_status,
    sync_rollout_status,
    sync_scale,
    update_deployment_status,
    with_status,
)
from impl.controllers.objects import controller_of, deleting, meta, phase, uid
from impl.controllers.rollout_math import cleanup_unhealthy, max_scaled_down, scale_down_old
from models.k8s.apps import Deployment, ReplicaSet
from models.k8s.core.pod import Pod


def reconcile_new(env: Env, all_rss: list[ReplicaSet], new: ReplicaSet) -> tuple[bool, str]:
    replicas = du.replicas_of(env.d)
    if du.rs_replicas(new) == replicas:
        return False, ""
    if du.rs_replicas(new) > replicas:
        scaled, _, error = scale_and_record(env, new, replicas)
        return scaled, error
    scaled, _, error = scale_and_record(env, new, new_rs_replicas(env.d, all_rss, new))
    return scaled, error


def reconcile_old(
    env: Env, all_rss: list[ReplicaSet], old: list[ReplicaSet], new: ReplicaSet
) -> bool:
    """``reconcileOldReplicaSets``; write errors end it quietly, as in Go."""
    if du.spec_total(old) == 0:
        return False
    d = env.d
    min_available = du.replicas_of(d) - du.max_unavailable_of(d)
    new_available = (new.status.available_replicas or 0) if new.status else 0
    budget = max_scaled_down(
        INTEGERS, du.spec_total(all_rss), min_available, du.rs_replicas(new), new_available
    )
    if budget <= 0:
        return False
    ordered = du.by_creation(old)
    available = [(rs.status.available_replicas or 0) if rs.status else 0 for rs in ordered]
    sizes, _ = cleanup_unhealthy(
        INTEGERS, [du.rs_replicas(rs) for rs in ordered], available, budget
    )
    cleaned = 0
    for index, rs in enumerate(ordered):
        if sizes[index] != du.rs_replicas(rs):
            _, updated, error = scale_and_record(env, rs, sizes[index])
            if error or updated is None:
                return False
            cleaned += du.rs_replicas(rs) - sizes[index]
            ordered[index] = updated
    everyone: list[ReplicaSet | None] = [*ordered, new]
    sizes, _ = scale_down_old(
        INTEGERS,
        [du.rs_replicas(rs) for rs in ordered],
        du.available_total(everyone),
        min_available,
    )
    scaled = 0
    for index, rs in enumerate(ordered):
        if sizes[index] != du.rs_replicas(rs):
            _, _, error = scale_and_record(env, rs, sizes[index])
            if error:
                return False
            scaled += du.rs_replicas(rs) - sizes[index]
    return cleaned + scaled > 0


def rollout_rolling(env: Env, rs_list: tuple[ReplicaSet, ...]) -> str:
    new, old, error = all_replica_sets(env, rs_list, create_missing=True)
    if error:
        return error
    assert new is not None
    all_rss: list[ReplicaSet] = [*old, new]
    scaled_up, error = reconcile_new(env, all_rss, new)
    if error:
        return error
    if scaled_up:
        return sync_rollout_status(env, [*all_rss], new)
    if reconcile_old(env, all_rss, du.active(old), new):
        return sync_rollout_status(env, [*all_rss], new)
    if du.complete(env.d, status_of(env.d)):
        error = cleanup(env, old)
        if error:
            return error
    return sync_rollout_status(env, [*all_rss], new)


def old_pods_running(
    new: ReplicaSet | None,
    old: list[ReplicaSet],
    pods: tuple[Pod, ...],
    rs_list: tuple[ReplicaSet, ...],
) -> bool:
    """``oldPodsRunning``: an old ReplicaSet reports pods, or an old pod is not terminal."""
    if du.actual_total(old) > 0:
        return True
    owners = {uid(rs) for rs in rs_list}
    new_uid = uid(new) if new is not None else None
    for pod in pods:
        reference = controller_of(pod)
        if reference is None or reference.uid not in owners or reference.uid == new_uid:
            continue
        if phase(pod) not in ("Failed", "Succeeded"):
            return True
    return False


def rollout_recreate(env: Env, rs_list: tuple[ReplicaSet, ...], pods: tuple[Pod, ...]) -> str:
    new, old, error = all_replica_sets(env, rs_list, create_missing=False)
    if error:
        return error
    all_rss: list[ReplicaSet | None] = [*old, new]
    scaled_down = False
    for rs in du.active(old):
        scaled, _, error = scale_and_record(env, rs, 0)
        if error:
            return error
        scaled_down = scaled_down or scaled
    if scaled_down:
        return sync_rollout_status(env, all_rss, new)
    if old_pods_running(new, old, pods, rs_list):
        return sync_rollout_status(env, all_rss, new)
    if new is None:
        new, old, error = all_replica_sets(env, rs_list, create_missing=True)
        if error:
            return error
        all_rss = [*old, new]
    if new is not None:
        _, _, error = scale_and_record(env, new, du.replicas_of(env.d))
        if error:
            return error
    if du.complete(env.d, status_of(env.d)):
        error = cleanup(env, old)
        if error:
            return error
    return sync_rollout_status(env, all_rss, new)


def _selects_everything(d: Deployment) -> bool:
    selector = d.spec.selector if d.spec else None
    return selector is not None and not selector.match_labels and not selector.match_expressions


def sync_deployment(env: Env, snapshot: Snapshot) -> Result:
    """``syncDeployment`` after the ReplicaSets were claimed."""
    d = env.d
    rs_list = snapshot.replica_sets
    if _selects_everything(d):
        status = status_of(d)
        if (status.observed_generation or 0) < (meta(d).generation or 0):
            env.d = with_status(
                d, msgspec.structs.replace(status, observed_generation=meta(d).generation)
            )
            return Result(error=update_deployment_status(env))
        return Result()
    if deleting(d):
        new, old, error = all_replica_sets(env, rs_list, create_missing=False)
        return Result(error=error or sync_deployment_status(env, [*old, new], new))
    error = check_paused_conditions(env)
    if error:
        return Result(error=error)
    if d.spec and d.spec.paused:
        return _ended(env, sync_scale(env, rs_list))
    scaling, error = is_scaling_event(env, rs_list)
    if error:
        return _ended(env, error)
    if scaling:
        return _ended(env, sync_scale(env, rs_list))
    if du.is_rolling(d):
        return _ended(env, rollout_rolling(env, rs_list))
    return _ended(env, rollout_recreate(env, rs_list, snapshot.pods))


def _ended(env: Env, error: str) -> Result:
    if error:
        return Result(error=error)
    return env.requeue or Result()
