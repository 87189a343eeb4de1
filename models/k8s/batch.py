"""batch/v1 Job: run pods to completion (``completions``, ``parallelism``, ``backoffLimit``)."""

from __future__ import annotations

from typing import Literal

from msgspec import UNSET, UnsetType

from models.k8s.base import ApiStruct, Int32, Int64, Opaque
from models.k8s.core.pod import PodTemplateSpec
from models.k8s.meta import LabelSelector, ObjectMeta, Timestamp


class JobSpec(ApiStruct, frozen=True, kw_only=True):
    """``selector`` and the template's ``controller-uid``/``job-name`` labels are generated
    unless ``manualSelector`` is true; ``template.spec.restartPolicy`` must be Never or
    OnFailure. What the control plane does not interpret stays opaque."""

    parallelism: Int32 | None = None
    completions: Int32 | None = None
    active_deadline_seconds: Int64 | None = None
    pod_failure_policy: Opaque | UnsetType = UNSET
    success_policy: Opaque | UnsetType = UNSET
    backoff_limit: Int32 | None = None
    backoff_limit_per_index: Int32 | None = None
    max_failed_indexes: Int32 | None = None
    selector: LabelSelector | None = None
    manual_selector: bool | None = None
    template: PodTemplateSpec | None = None
    ttl_seconds_after_finished: Int32 | None = None
    completion_mode: str | None = None
    suspend: bool | None = None
    pod_replacement_policy: str | None = None
    managed_by: str | None = None


class JobCondition(ApiStruct, frozen=True, kw_only=True):
    type: str | None = None
    status: str | None = None
    last_probe_time: Timestamp = UNSET
    last_transition_time: Timestamp = UNSET
    reason: str | None = None
    message: str | None = None


class JobStatus(ApiStruct, frozen=True, kw_only=True):
    conditions: tuple[JobCondition, ...] | None = None
    start_time: Timestamp = UNSET
    completion_time: Timestamp = UNSET
    active: Int32 | None = None
    succeeded: Int32 | None = None
    failed: Int32 | None = None
    terminating: Int32 | None = None
    completed_indexes: str | None = None
    failed_indexes: str | None = None
    uncounted_terminated_pods: Opaque | UnsetType = UNSET
    ready: Int32 | None = None


class Job(ApiStruct, frozen=True, kw_only=True):
    api_version: Literal["batch/v1"] | None = None
    kind: Literal["Job"] | None = None
    metadata: ObjectMeta | None = None
    spec: JobSpec | None = None
    status: JobStatus | None = None
