"""Deployment bookkeeping: revisions, annotations, the new ReplicaSet, counts and conditions.

From ``pkg/controller/deployment/util/deployment_util.go`` and
``pkg/controller/controller_utils.go`` (v1.35). The new ReplicaSet is the oldest one whose
template equals the Deployment's, ignoring the ``pod-template-hash`` label; every other one is
old. A new ReplicaSet's name is ``<deployment>-<hash>`` where the hash is FNV-32a of the
template (and the collision count), spelled in ``bcdfghjklmnpqrstvwxz2456789``. Kubernetes
hashes the Go struct as printed by ``spew``; the reference hashes the template's canonical
JSON, so names differ from a real cluster's while following the same rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cmp_to_key
from typing import Final

import msgspec

from impl.controllers.arithmetic import INTEGERS
from impl.controllers.objects import annotations_of, creation_seconds, meta, seconds, timestamp
from impl.controllers.rollout_math import max_unavailable, resolve_fenceposts
from models.k8s.apps import Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet
from models.k8s.base import FrozenMap
from models.k8s.codec import encode_json
from models.k8s.core.pod import PodTemplateSpec

REVISION: Final = "deployment.kubernetes.io/revision"
REVISION_HISTORY: Final = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS: Final = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS: Final = "deployment.kubernetes.io/max-replicas"
LAST_APPLIED: Final = "kubectl.kubernetes.io/last-applied-configuration"
ROLLBACK_TO: Final = "deprecated.deployment.rollback.to"
POD_TEMPLATE_HASH: Final = "pod-template-hash"
SKIPPED_ANNOTATIONS: Final = frozenset(
    {LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS, ROLLBACK_TO}
)
MAX_REVISION_HISTORY_CHARS: Final = 2000
MAX_INT32: Final = 2**31 - 1
_ALPHABET: Final = "bcdfghjklmnpqrstvwxz2456789"


def replicas_of(d: Deployment) -> int:
    return 1 if d.spec is None or d.spec.replicas is None else d.spec.replicas


def rs_replicas(rs: ReplicaSet) -> int:
    return 0 if rs.spec is None or rs.spec.replicas is None else rs.spec.replicas


def is_rolling(d: Deployment) -> bool:
    strategy = d.spec.strategy if d.spec else None
    return strategy is None or strategy.type in (None, "RollingUpdate")


def _int_or_percent(value: int | str | None) -> tuple[int, bool]:
    if value is None:
        return 0, False
    if isinstance(value, int):
        return value, False
    text = value[:-1] if value.endswith("%") else value
    try:
        return int(text), True
    except ValueError:
        return 0, True


def fenceposts(d: Deployment) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) resolved for the Deployment's replicas."""
    strategy = d.spec.strategy if d.spec else None
    rolling = strategy.rolling_update if strategy else None
    surge, surge_percent = _int_or_percent(rolling.max_surge if rolling else None)
    unavailable, unavailable_percent = _int_or_percent(rolling.max_unavailable if rolling else None)
    return resolve_fenceposts(
        INTEGERS, surge, surge_percent, unavailable, unavailable_percent, replicas_of(d)
    )


def max_surge(d: Deployment) -> int:
    return fenceposts(d)[0] if is_rolling(d) else 0


def max_unavailable_of(d: Deployment) -> int:
    if not is_rolling(d):
        return 0
    return max_unavailable(INTEGERS, fenceposts(d)[1], replicas_of(d))


# Revisions and annotations -------------------------------------------------------------------


def revision(obj: ReplicaSet | Deployment) -> int | None:
    """The revision annotation (0 when absent, None when unreadable)."""
    text = annotations_of(obj).get(REVISION)
    if text is None:
        return 0
    try:
        return int(text)
    except ValueError:
        return None


def max_revision(replica_sets: Sequence[ReplicaSet]) -> int:
    return max((r for rs in replica_sets if (r := revision(rs)) is not None), default=0)


def with_annotations(rs: ReplicaSet, values: dict[str, str]) -> ReplicaSet:
    metadata = msgspec.structs.replace(meta(rs), annotations=FrozenMap(values))
    return msgspec.structs.replace(rs, metadata=metadata)


def replicas_annotations_need_update(rs: ReplicaSet, desired: int, maximum: int) -> bool:
    current = annotations_of(rs)
    return current.get(DESIRED_REPLICAS) != str(desired) or current.get(MAX_REPLICAS) != str(
        maximum
    )


def set_replicas_annotations(rs: ReplicaSet, desired: int, maximum: int) -> ReplicaSet:
    values = annotations_of(rs)
    values[DESIRED_REPLICAS], values[MAX_REPLICAS] = str(desired), str(maximum)
    return with_annotations(rs, values)


def set_new_replica_set_annotations(
    d: Deployment, rs: ReplicaSet, new_revision: int, exists: bool
) -> tuple[ReplicaSet, bool]:
    """``SetNewReplicaSetAnnotations``: copy the Deployment's annotations, raise the revision
    (keeping the old one in the history when rolling back), and for a new ReplicaSet set the
    replica annotations. The ReplicaSet and whether it changed."""
    values = annotations_of(rs)
    changed = False
    for key, value in sorted(annotations_of(d).items()):
        if key not in SKIPPED_ANNOTATIONS and values.get(key) != value:
            values[key], changed = value, True
    old_text = values.get(REVISION)
    try:
        old_revision = int(old_text) if old_text else 0
    except ValueError:
        return rs, False
    if old_revision < new_revision:
        values[REVISION], changed = str(new_revision), True
        if old_text is not None:
            values[REVISION_HISTORY] = _history(values.get(REVISION_HISTORY, ""), old_text)
    rs = with_annotations(rs, values)
    if not exists:
        desired = replicas_of(d)
        if replicas_annotations_need_update(rs, desired, desired + max_surge(d)):
            rs, changed = set_replicas_annotations(rs, desired, desired + max_surge(d)), True
    return rs, changed


def _history(history: str, old: str) -> str:
    entries = history.split(",")
    if not entries[0]:
        return old
    total = len(history) + len(old) + 1
    start = 0
    while total > MAX_REVISION_HISTORY_CHARS and start < len(entries):
        total -= len(entries[start]) + 1
        start += 1
    if total <= MAX_REVISION_HISTORY_CHARS:
        return ",".join([*entries[start:], old])
    return history


def desired_replicas_annotation(rs: ReplicaSet) -> int | None:
    text = annotations_of(rs).get(DESIRED_REPLICAS)
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def max_replicas_annotation(rs: ReplicaSet) -> int | None:
    text = annotations_of(rs).get(MAX_REPLICAS)
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


# Templates and hashes ------------------------------------------------------------------------


def _without_hash(template: PodTemplateSpec | None) -> PodTemplateSpec | None:
    if template is None or template.metadata is None or template.metadata.labels is None:
        return template
    labels = template.metadata.labels
    if POD_TEMPLATE_HASH not in labels:
        return template
    metadata = msgspec.structs.replace(template.metadata, labels=labels.delete(POD_TEMPLATE_HASH))
    return msgspec.structs.replace(template, metadata=metadata)


def equal_ignore_hash(left: PodTemplateSpec | None, right: PodTemplateSpec | None) -> bool:
    return _without_hash(left) == _without_hash(right)


def template_hash(template: PodTemplateSpec | None, collision_count: int | None) -> str:
    """``controller.ComputeHash``: FNV-32a, then ``rand.SafeEncodeString`` of its decimal."""
    data = encode_json(template) if template is not None else b"null"
    if collision_count is not None:
        data += (collision_count & 0xFFFFFFFF).to_bytes(8, "little")
    value = 0x811C9DC5
    for byte in data:
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return "".join(_ALPHABET[ord(digit) % len(_ALPHABET)] for digit in str(value))


# Ordering -----------------------------------------------------------------------------------


def by_creation(replica_sets: Sequence[ReplicaSet]) -> list[ReplicaSet]:
    """``ReplicaSetsByCreationTimestamp``: oldest first, then by name."""
    return sorted(replica_sets, key=lambda rs: (creation_seconds(rs), meta(rs).name or ""))


def _by_size(replica_sets: Sequence[ReplicaSet], newer_first: bool) -> list[ReplicaSet]:
    def order(left: ReplicaSet, right: ReplicaSet) -> int:
        if rs_replicas(left) != rs_replicas(right):
            return -1 if rs_replicas(left) > rs_replicas(right) else 1
        key_left = (creation_seconds(left), meta(left).name or "")
        key_right = (creation_seconds(right), meta(right).name or "")
        if key_left == key_right:
            return 0
        older = -1 if key_left < key_right else 1
        return -older if newer_first else older

    return sorted(replica_sets, key=cmp_to_key(order))


def by_size_newer(replica_sets: Sequence[ReplicaSet]) -> list[ReplicaSet]:
    return _by_size(replica_sets, newer_first=True)


def by_size_older(replica_sets: Sequence[ReplicaSet]) -> list[ReplicaSet]:
    return _by_size(replica_sets, newer_first=False)


def by_revision(replica_sets: Sequence[ReplicaSet]) -> list[ReplicaSet]:
    def order(left: ReplicaSet, right: ReplicaSet) -> int:
        a, b = revision(left), revision(right)
        if a is None or b is None or a == b:
            key_left = (creation_seconds(left), meta(left).name or "")
            key_right = (creation_seconds(right), meta(right).name or "")
            return -1 if key_left < key_right else (1 if key_left > key_right else 0)
        return -1 if a < b else 1

    return sorted(replica_sets, key=cmp_to_key(order))


def find_new(d: Deployment, replica_sets: Sequence[ReplicaSet]) -> ReplicaSet | None:
    template = d.spec.template if d.spec else None
    for rs in by_creation(replica_sets):
        if equal_ignore_hash(rs.spec.template if rs.spec else None, template):
            return rs
    return None


def find_old(d: Deployment, replica_sets: Sequence[ReplicaSet]) -> list[ReplicaSet]:
    """Every ReplicaSet but the new one (``FindOldReplicaSets``' allRSs)."""
    new = find_new(d, replica_sets)
    return [rs for rs in replica_sets if new is None or meta(rs).uid != meta(new).uid]


def active(replica_sets: Sequence[ReplicaSet | None]) -> list[ReplicaSet]:
    return [rs for rs in replica_sets if rs is not None and rs_replicas(rs) > 0]


# Counts, conditions and status --------------------------------------------------------------


def spec_total(replica_sets: Sequence[ReplicaSet | None]) -> int:
    return sum(rs_replicas(rs) for rs in replica_sets if rs is not None)


def _status_sum(replica_sets: Sequence[ReplicaSet | None], field: str) -> int:
    return sum(
        (getattr(rs.status, field) or 0)
        for rs in replica_sets
        if rs is not None and rs.status is not None
    )


def actual_total(replica_sets: Sequence[ReplicaSet | None]) -> int:
    return _status_sum(replica_sets, "replicas")


def available_total(replica_sets: Sequence[ReplicaSet | None]) -> int:
    return _status_sum(replica_sets, "available_replicas")


def ready_total(replica_sets: Sequence[ReplicaSet | None]) -> int:
    return _status_sum(replica_sets, "ready_replicas")


def terminating_total(replica_sets: Sequence[ReplicaSet | None]) -> int | None:
    """``GetTerminatingReplicaCountForReplicaSets``: None if any ReplicaSet does not report it."""
    total = 0
    for rs in replica_sets:
        if rs is None:
            continue
        count = rs.status.terminating_replicas if rs.status is not None else None
        if count is None:
            return None
        total += count
    return total


def condition(status: DeploymentStatus, kind: str) -> DeploymentCondition | None:
    return next((c for c in status.conditions or () if c.type == kind), None)


def new_condition(
    kind: str, status: str, reason: str, message: str, now_ms: int
) -> DeploymentCondition:
    now = timestamp(now_ms)
    return DeploymentCondition(
        type=kind,
        status=status,
        reason=reason,
        message=message,
        last_update_time=now,
        last_transition_time=now,
    )


def set_condition(status: DeploymentStatus, new: DeploymentCondition) -> DeploymentStatus:
    """``SetDeploymentCondition``: same status and reason is no change; same status keeps the
    transition time; the condition moves to the end."""
    current = condition(status, new.type or "")
    if current is not None and current.status == new.status and current.reason == new.reason:
        return status
    if current is not None and current.status == new.status:
        new = msgspec.structs.replace(new, last_transition_time=current.last_transition_time)
    rest = tuple(c for c in status.conditions or () if c.type != new.type)
    return msgspec.structs.replace(status, conditions=(*rest, new))


def remove_condition(status: DeploymentStatus, kind: str) -> DeploymentStatus:
    rest = tuple(c for c in status.conditions or () if c.type != kind)
    return msgspec.structs.replace(status, conditions=rest or None)


def has_progress_deadline(d: Deployment) -> bool:
    seconds = d.spec.progress_deadline_seconds if d.spec else None
    return seconds is not None and seconds != MAX_INT32


def has_revision_history_limit(d: Deployment) -> bool:
    limit = d.spec.revision_history_limit if d.spec else None
    return limit is not None and limit != MAX_INT32


def complete(d: Deployment, status: DeploymentStatus) -> bool:
    """``DeploymentComplete``."""
    replicas = replicas_of(d)
    return (
        (status.updated_replicas or 0) == replicas
        and (status.replicas or 0) == replicas
        and (status.available_replicas or 0) == replicas
        and (status.observed_generation or 0) >= (meta(d).generation or 0)
    )


def progressing(d: Deployment, new: DeploymentStatus) -> bool:
    """``DeploymentProgressing``: more updated, fewer old, more ready or more available."""
    old = d.status or DeploymentStatus()
    old_old = (old.replicas or 0) - (old.updated_replicas or 0)
    new_old = (new.replicas or 0) - (new.updated_replicas or 0)
    return (
        (new.updated_replicas or 0) > (old.updated_replicas or 0)
        or new_old < old_old
        or (new.ready_replicas or 0) > (old.ready_replicas or 0)
        or (new.available_replicas or 0) > (old.available_replicas or 0)
    )


def timed_out(d: Deployment, status: DeploymentStatus, now_ms: int) -> bool:
    """``DeploymentTimedOut``: the Progressing condition was last updated more than
    ``progressDeadlineSeconds`` ago."""
    if not has_progress_deadline(d):
        return False
    found = condition(status, "Progressing")
    if found is None or found.reason == "NewReplicaSetAvailable":
        return False
    if found.reason == "ProgressDeadlineExceeded":
        return True
    from_s = seconds(found.last_update_time)
    deadline = d.spec.progress_deadline_seconds if d.spec else None
    return from_s is not None and deadline is not None and (from_s + deadline) * 1000 < now_ms
