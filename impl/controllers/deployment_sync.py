"""The Deployment controller's sync, call by call as kube-controller-manager makes it.

From ``pkg/controller/deployment/{deployment_controller,sync,rolling,recreate,progress}.go``
(v1.35). Written against a :class:`~impl.controllers.script.Script` (each call returns its
answer) and a snapshot taken when the sync started: the Deployment (a private copy the sync
changes as Go's does, so a status written twice in one sync meets a conflict the second time,
as it does on a real cluster), its claimed ReplicaSets and its pods.

- ``sync_deployment``: selector-everything guard, deletion (status only), paused conditions,
  pause or scaling event (``sync``: proportional scaling), else Recreate or RollingUpdate;
- ``new_replica_set``: find or create the new ReplicaSet, keeping revisions and annotations;
- ``rollout_rolling``/``rollout_recreate``; ``scale``; ``cleanup``; the status and progress.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from impl.controllers import deployment_util as du
from impl.controllers import events
from impl.controllers.arithmetic import INTEGERS
from impl.controllers.cache import decode
from impl.controllers.calls import create, delete, failure_text, plain, update, update_status
from impl.controllers.deployment_status import calculate_status, rollout_status, stuck_requeue_ms
from impl.controllers.objects import annotations_of, controller_of, deleting, meta, uid
from impl.controllers.rollout_math import (
    new_replicas_rolling,
)
from impl.controllers.script import Script
from models.controllers.config import ControllerConfig
from models.controllers.resources import RESOURCES
from models.k8s.apps import Deployment, DeploymentStatus, ReplicaSet, ReplicaSetSpec
from models.k8s.base import FrozenMap
from models.k8s.core.pod import Pod
from models.k8s.meta import LabelSelector, ObjectMeta, OwnerReference

DEPLOYMENTS = RESOURCES["deployments"]
REPLICASETS = RESOURCES["replicasets"]
NAMESPACE_TERMINATING = "NamespaceTerminating"


class Snapshot(msgspec.Struct, frozen=True, kw_only=True, tag="deployment-snapshot"):
    deployment: Deployment
    replica_sets: tuple[ReplicaSet, ...]
    pods: tuple[Pod, ...]
    now_ms: int


class Result(msgspec.Struct, frozen=True, kw_only=True):
    """How a sync ended: an error text, and when to look again."""

    error: str = ""
    requeue_after_ms: int | None = None
    requeue_rate_limited: bool = False
    namespace_terminating: bool = False


@dataclass
class Env:
    """One run: the calls, the private Deployment copy, settings and time."""

    script: Script
    d: Deployment
    config: ControllerConfig
    now_ms: int
    requeue: Result | None = None
    events: int = 0


def status_of(d: Deployment) -> DeploymentStatus:
    return d.status or DeploymentStatus()


def with_status(d: Deployment, status: DeploymentStatus) -> Deployment:
    return msgspec.structs.replace(d, status=status)


def _rs_from(body: bytes) -> ReplicaSet | None:
    found: ReplicaSet | None = decode(REPLICASETS, body, metadata_only=False)
    return found


def update_rs(env: Env, rs: ReplicaSet) -> tuple[ReplicaSet | None, str]:
    answer = env.script.call(update(REPLICASETS, rs))
    if 200 <= answer.status < 300:
        return _rs_from(answer.body), ""
    return None, failure_text(answer)


def update_deployment_status(env: Env) -> str:
    answer = env.script.call(update_status(DEPLOYMENTS, env.d))
    return "" if 200 <= answer.status < 300 else failure_text(answer)


def set_revision(d: Deployment, value: str) -> tuple[Deployment, bool]:
    values = dict(meta(d).annotation_map())
    if values.get(du.REVISION) == value:
        return d, False
    values[du.REVISION] = value
    return msgspec.structs.replace(
        d, metadata=msgspec.structs.replace(meta(d), annotations=FrozenMap(values))
    ), True


def _set_d_condition(env: Env, kind: str, status: str, reason: str, message: str) -> None:
    new = du.new_condition(kind, status, reason, message, env.now_ms)
    env.d = with_status(env.d, du.set_condition(status_of(env.d), new))


# The new ReplicaSet --------------------------------------------------------------------------


def _existing_new(env: Env, rs: ReplicaSet, new_revision: int) -> tuple[ReplicaSet | None, str]:
    updated, annotations_changed = du.set_new_replica_set_annotations(
        env.d, rs, new_revision, exists=True
    )
    min_ready = env.d.spec.min_ready_seconds if env.d.spec else None
    rs_min_ready = rs.spec.min_ready_seconds if rs.spec else None
    if annotations_changed or (min_ready or 0) != (rs_min_ready or 0):
        spec = msgspec.structs.replace(
            updated.spec or ReplicaSetSpec(), min_ready_seconds=min_ready
        )
        return update_rs(env, msgspec.structs.replace(updated, spec=spec))
    env.d, needs_update = set_revision(env.d, annotations_of(updated).get(du.REVISION, ""))
    if du.has_progress_deadline(env.d) and du.condition(status_of(env.d), "Progressing") is None:
        message = f'Found new replica set "{meta(updated).name}"'
        _set_d_condition(env, "Progressing", "True", "FoundNewReplicaSet", message)
        needs_update = True
    if needs_update:
        error = update_deployment_status(env)
        if error:
            return None, error
    return updated, ""


def _fresh_new(env: Env, old: list[ReplicaSet], new_revision: int) -> ReplicaSet:
    """The new ReplicaSet ``getNewReplicaSet`` would create."""
    d = env.d
    spec = d.spec
    assert spec is not None
    assert spec.template is not None
    hash_value = du.template_hash(spec.template, status_of(d).collision_count)
    template_meta = spec.template.metadata or ObjectMeta()
    labels = template_meta.label_map().set(du.POD_TEMPLATE_HASH, hash_value)
    template = msgspec.structs.replace(
        spec.template, metadata=msgspec.structs.replace(template_meta, labels=labels)
    )
    selector = spec.selector or LabelSelector()
    match_labels = (selector.match_labels or FrozenMap()).set(du.POD_TEMPLATE_HASH, hash_value)
    owner = OwnerReference(
        api_version="apps/v1",
        kind="Deployment",
        name=meta(d).name,
        uid=uid(d),
        controller=True,
        block_owner_deletion=True,
    )
    rs = ReplicaSet(
        api_version="apps/v1",
        kind="ReplicaSet",
        metadata=ObjectMeta(
            name=f"{meta(d).name}-{hash_value}",
            namespace=meta(d).namespace,
            labels=labels,
            owner_references=(owner,),
        ),
        spec=ReplicaSetSpec(
            replicas=0,
            min_ready_seconds=spec.min_ready_seconds,
            selector=msgspec.structs.replace(selector, match_labels=match_labels),
            template=template,
        ),
    )
    count = new_rs_replicas(d, [*old, rs], rs)
    rs = msgspec.structs.replace(
        rs, spec=msgspec.structs.replace(rs.spec or ReplicaSetSpec(), replicas=count)
    )
    rs, _ = du.set_new_replica_set_annotations(d, rs, new_revision, exists=False)
    return rs


def new_rs_replicas(d: Deployment, all_rss: list[ReplicaSet], new: ReplicaSet) -> int:
    """``NewRSNewReplicas``."""
    if not du.is_rolling(d):
        return du.replicas_of(d)
    return new_replicas_rolling(
        INTEGERS, du.replicas_of(d), du.max_surge(d), du.spec_total(all_rss), du.rs_replicas(new)
    )


def _create_new(
    env: Env, rs_list: tuple[ReplicaSet, ...], old: list[ReplicaSet], new_revision: int
) -> tuple[ReplicaSet | None, str]:
    rs = _fresh_new(env, old, new_revision)
    body = plain(rs)
    answer = env.script.call(create(REPLICASETS, meta(rs).namespace or "", body))
    created: ReplicaSet | None = None
    already_exists = False
    if answer.status == 409 and _reason(answer.body) == "AlreadyExists":
        already_exists = True
        existing = next((x for x in rs_list if meta(x).name == meta(rs).name), None)
        if existing is None:
            return None, f'replicaset "{meta(rs).name}" not found in the cache'
        reference = controller_of(existing)
        template = env.d.spec.template if env.d.spec else None
        same = reference is not None and reference.uid == uid(env.d)
        if not (
            same
            and du.equal_ignore_hash(template, existing.spec.template if existing.spec else None)
        ):
            status = status_of(env.d)
            env.d = with_status(
                env.d,
                msgspec.structs.replace(status, collision_count=(status.collision_count or 0) + 1),
            )
            update_deployment_status(env)
            return None, failure_text(answer)
        created = existing
    elif not 200 <= answer.status < 300:
        if NAMESPACE_TERMINATING in _causes(answer.body):
            return None, failure_text(answer)
        message = f'Failed to create new replica set "{meta(rs).name}": {failure_text(answer)}'
        if du.has_progress_deadline(env.d):
            _set_d_condition(env, "Progressing", "False", "ReplicaSetCreateError", message)
            update_deployment_status(env)
        return None, message
    else:
        created = _rs_from(answer.body)
    if not already_exists and created is not None and du.rs_replicas(created) > 0:
        record_scaling(
            env, f"Scaled up replica set {meta(created).name} from 0 to {du.rs_replicas(created)}"
        )
    env.d, needs_update = set_revision(env.d, str(new_revision))
    if not already_exists and du.has_progress_deadline(env.d):
        message = f'Created new replica set "{meta(created).name if created else meta(rs).name}"'
        _set_d_condition(env, "Progressing", "True", "NewReplicaSetCreated", message)
        needs_update = True
    if needs_update:
        error = update_deployment_status(env)
        if error:
            return created, error
    return created, ""


def _reason(body: bytes) -> str:
    try:
        decoded = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return ""
    return str(decoded.get("reason", "")) if isinstance(decoded, dict) else ""


def _causes(body: bytes) -> set[str]:
    try:
        decoded = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return set()
    details = decoded.get("details") if isinstance(decoded, dict) else None
    causes = details.get("causes") if isinstance(details, dict) else None
    return {str(c.get("type")) for c in causes or () if isinstance(c, dict)}


def new_replica_set(
    env: Env, rs_list: tuple[ReplicaSet, ...], old: list[ReplicaSet], create_missing: bool
) -> tuple[ReplicaSet | None, str]:
    """``getNewReplicaSet``."""
    existing = du.find_new(env.d, rs_list)
    new_revision = du.max_revision(old) + 1
    if existing is not None:
        return _existing_new(env, existing, new_revision)
    if not create_missing:
        return None, ""
    return _create_new(env, rs_list, old, new_revision)


def all_replica_sets(
    env: Env, rs_list: tuple[ReplicaSet, ...], create_missing: bool
) -> tuple[ReplicaSet | None, list[ReplicaSet], str]:
    """``getAllReplicaSetsAndSyncRevision``: (new, old, error)."""
    old = du.find_old(env.d, rs_list)
    new, error = new_replica_set(env, rs_list, old, create_missing)
    return new, old, error


# Scaling -------------------------------------------------------------------------------------


def scale_replica_set(
    env: Env, rs: ReplicaSet, new_scale: int
) -> tuple[bool, ReplicaSet | None, str]:
    """``scaleReplicaSet``: write the size and the replica annotations if either changed."""
    desired = du.replicas_of(env.d)
    maximum = desired + du.max_surge(env.d)
    size_changes = du.rs_replicas(rs) != new_scale
    if not size_changes and not du.replicas_annotations_need_update(rs, desired, maximum):
        return False, rs, ""
    spec = msgspec.structs.replace(rs.spec or ReplicaSetSpec(), replicas=new_scale)
    copy = du.set_replicas_annotations(msgspec.structs.replace(rs, spec=spec), desired, maximum)
    updated, error = update_rs(env, copy)
    if not error and size_changes:
        old_scale = du.rs_replicas(rs)
        direction = "up" if old_scale < new_scale else "down"
        record_scaling(
            env, f"Scaled {direction} replica set {meta(rs).name} from {old_scale} to {new_scale}"
        )
    return (not error and size_changes), updated, error


def record_scaling(env: Env, message: str) -> None:
    """The Deployment's ScalingReplicaSet event (its answer is not read)."""
    env.events += 1
    recorded = events.event(
        env.config,
        "deployment-controller",
        env.d,
        "Deployment",
        "apps/v1",
        "ScalingReplicaSet",
        message,
        env.now_ms,
        env.events,
    )
    if recorded is not None:
        env.script.call(recorded.call)


def scale_and_record(
    env: Env, rs: ReplicaSet, new_scale: int
) -> tuple[bool, ReplicaSet | None, str]:
    """``scaleReplicaSetAndRecordEvent``: nothing when the size is already right."""
    if du.rs_replicas(rs) == new_scale:
        return False, rs, ""
    return scale_replica_set(env, rs, new_scale)


def _fraction(rs: ReplicaSet, d: Deployment) -> int:
    """``getReplicaSetFraction``."""
    if du.replicas_of(d) == 0:
        return -du.rs_replicas(rs)
    maximum = du.replicas_of(d) + du.max_surge(d)
    before = du.max_replicas_annotation(rs)
    if not before:
        before = (d.status.replicas or 0) if d.status else 0
        if before == 0:
            return 0
    numerator = du.rs_replicas(rs) * maximum
    rounded = (2 * abs(numerator) + before) // (2 * before)
    return (rounded if numerator >= 0 else -rounded) - du.rs_replicas(rs)


def proportion(rs: ReplicaSet, d: Deployment, to_add: int, added: int) -> int:
    """``GetProportion``: this ReplicaSet's share of ``to_add``, within what is left."""
    if du.rs_replicas(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    fraction, allowed = _fraction(rs, d), to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def scale(env: Env, new: ReplicaSet | None, old: list[ReplicaSet]) -> str:
    """``scale``: one active ReplicaSet takes the full size; a saturated new one empties the
    old; otherwise the change is shared in proportion (rolling updates only)."""
    d = env.d
    replicas = du.replicas_of(d)
    only = find_active_or_latest(new, old)
    if only is not None:
        if du.rs_replicas(only) == replicas:
            return ""
        return scale_and_record(env, only, replicas)[2]
    if is_saturated(d, new):
        for rs in du.active(old):
            error = scale_and_record(env, rs, 0)[2]
            if error:
                return error
        return ""
    if not du.is_rolling(d):
        return ""
    everyone = du.active([*old, new])
    allowed = replicas + du.max_surge(d) if replicas > 0 else 0
    to_add = allowed - du.spec_total(everyone)
    if to_add > 0:
        everyone = du.by_size_newer(everyone)
    elif to_add < 0:
        everyone = du.by_size_older(everyone)
    sizes: list[int] = []
    added = 0
    for rs in everyone:
        share = proportion(rs, d, to_add, added) if to_add != 0 else 0
        sizes.append(du.rs_replicas(rs) + share)
        added += share
    for index, rs in enumerate(everyone):
        if index == 0 and to_add != 0:
            sizes[0] = max(0, sizes[0] + to_add - added)
        error = scale_replica_set(env, rs, sizes[index])[2]
        if error:
            return error
    return ""


def find_active_or_latest(new: ReplicaSet | None, old: list[ReplicaSet]) -> ReplicaSet | None:
    """``FindActiveOrLatest``: the one active ReplicaSet, the newest when none is active."""
    if new is None and not old:
        return None
    newest_first = list(reversed(du.by_creation(old)))
    candidates = du.active([*newest_first, new])
    if not candidates:
        return new if new is not None else newest_first[0]
    return candidates[0] if len(candidates) == 1 else None


def is_saturated(d: Deployment, rs: ReplicaSet | None) -> bool:
    if rs is None:
        return False
    desired = du.desired_replicas_annotation(rs)
    replicas = du.replicas_of(d)
    available = (rs.status.available_replicas or 0) if rs.status else 0
    return du.rs_replicas(rs) == replicas and desired == replicas and available == replicas


def is_scaling_event(env: Env, rs_list: tuple[ReplicaSet, ...]) -> tuple[bool, str]:
    """``isScalingEvent``: an active ReplicaSet records another desired size."""
    new, old, error = all_replica_sets(env, rs_list, create_missing=False)
    if error:
        return False, error
    for rs in du.active([*old, new]):
        desired = du.desired_replicas_annotation(rs)
        if desired is not None and desired != du.replicas_of(env.d):
            return True, ""
    return False, ""


def cleanup(env: Env, old: list[ReplicaSet]) -> str:
    """``cleanupDeployment``: delete the oldest empty ReplicaSets beyond the history limit."""
    d = env.d
    if not du.has_revision_history_limit(d):
        return ""
    limit = d.spec.revision_history_limit if d.spec else None
    alive = [rs for rs in old if not deleting(rs)]
    diff = len(alive) - (limit or 0)
    if diff <= 0:
        return ""
    for rs in du.by_revision(alive)[:diff]:
        status = rs.status
        if (
            (status.replicas or 0 if status else 0) != 0
            or du.rs_replicas(rs) != 0
            or (meta(rs).generation or 0) > ((status.observed_generation or 0) if status else 0)
            or deleting(rs)
        ):
            continue
        answer = env.script.call(delete(REPLICASETS, meta(rs).namespace or "", meta(rs).name or ""))
        if not 200 <= answer.status < 300 and answer.status != 404:
            return failure_text(answer)
    return ""


# Status ----------------------------------------------------------------------------------------


def sync_deployment_status(
    env: Env, all_rss: list[ReplicaSet | None], new: ReplicaSet | None
) -> str:
    status = _calculate(env, all_rss, new)
    if status == status_of(env.d):
        return ""
    env.d = with_status(env.d, status)
    return update_deployment_status(env)


def _calculate(
    env: Env, all_rss: list[ReplicaSet | None], new: ReplicaSet | None
) -> DeploymentStatus:
    return calculate_status(env.config, all_rss, new, env.d, env.now_ms)


def sync_rollout_status(env: Env, all_rss: list[ReplicaSet | None], new: ReplicaSet | None) -> str:
    """``syncRolloutStatus``: write the status with its conditions, or plan a timeout check."""
    status = rollout_status(env.config, all_rss, new, env.d, env.now_ms)
    if status == status_of(env.d):
        after = stuck_requeue_ms(env.d, status, env.now_ms)
        if after == 0:
            env.requeue = Result(requeue_rate_limited=True)
        elif after is not None:
            env.requeue = Result(requeue_after_ms=after)
        return ""
    env.d = with_status(env.d, status)
    return update_deployment_status(env)


def check_paused_conditions(env: Env) -> str:
    """``checkPausedConditions``: Progressing Unknown with DeploymentPaused/DeploymentResumed."""
    if not du.has_progress_deadline(env.d):
        return ""
    current = du.condition(status_of(env.d), "Progressing")
    if current is not None and current.reason == "ProgressDeadlineExceeded":
        return ""
    paused_shown = current is not None and current.reason == "DeploymentPaused"
    paused = bool(env.d.spec and env.d.spec.paused)
    if paused and not paused_shown:
        _set_d_condition(env, "Progressing", "Unknown", "DeploymentPaused", "Deployment is paused")
    elif not paused and paused_shown:
        _set_d_condition(
            env, "Progressing", "Unknown", "DeploymentResumed", "Deployment is resumed"
        )
    else:
        return ""
    return update_deployment_status(env)


def sync_scale(env: Env, rs_list: tuple[ReplicaSet, ...]) -> str:
    """``sync``: scaling events and paused Deployments."""
    new, old, error = all_replica_sets(env, rs_list, create_missing=False)
    if error:
        return error
    error = scale(env, new, old)
    if error:
        return error
    if env.d.spec and env.d.spec.paused:
        error = cleanup(env, old)
        if error:
            return error
    return sync_deployment_status(env, [*old, new], new)
