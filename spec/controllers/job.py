"""What a Job's status promises, judged on stored objects (decoded JSON) step by step, each with
a ``sometimes`` companion.

From the Kubernetes docs ("Jobs": "Job tracking with finalizers", "Termination of Job pods",
"Pod backoff failure policy", "Job termination and cleanup"):

- ``job.counted_once`` (safety, every state): a Job never counts more succeeded pods
  (``status.succeeded`` plus the UIDs in ``uncountedTerminatedPods.succeeded``) than distinct
  pods of it were ever seen Succeeded, nor more failed ones than were seen Failed or deleted
  before finishing; for an Indexed Job, ``succeeded`` is the number of
  ``completedIndexes``. The counters never go down. Companion ``job.uncounted_seen``: a status
  listed uncounted pods (the finalizer protocol's interim step happened).
- ``job.terminal_justified`` (safety, every state): Complete=True comes with
  ``succeeded >= completions`` (1 without completions), nothing uncounted, a
  ``completionTime`` and SuccessCriteriaMet=True; Failed=True with reason
  BackoffLimitExceeded comes with ``failed > backoffLimit`` and FailureTarget=True; no Job is
  both Complete and Failed. Companions ``job.completed`` and ``job.failed``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from spec.property import Violation

Obj = Mapping[str, Any]
SOMETIMES = ("job.uncounted_seen", "job.completed", "job.failed")


def _violation(name: str, reason: str) -> Violation:
    return Violation(property_name=name, nodes=(), reason=reason)


def _meta(obj: Obj) -> Mapping[str, Any]:
    found = obj.get("metadata")
    return found if isinstance(found, Mapping) else {}


def _of(objects: Iterable[Obj], kind: str) -> list[Obj]:
    return [obj for obj in objects if obj.get("kind") == kind]


def _owner_uid(pod: Obj) -> str:
    for ref in _meta(pod).get("ownerReferences") or ():
        if ref.get("controller") and ref.get("kind") == "Job":
            return str(ref.get("uid"))
    return ""


def _indexes(text: str) -> int:
    count = 0
    for part in (p for p in text.split(",") if p):
        low, _, high = part.partition("-")
        count += (int(high) if high else int(low)) - int(low) + 1
    return count


@dataclass
class History:
    """Per Job UID: the pods ever seen Succeeded, or failed (Failed, or deleted before
    finishing), and the last counters."""

    succeeded: dict[str, set[str]] = field(default_factory=dict)
    failed: dict[str, set[str]] = field(default_factory=dict)
    counters: dict[str, tuple[int, int]] = field(default_factory=dict)
    uncounted_seen: bool = False


def counted_once(objects: Iterable[Obj], history: History) -> list[Violation]:
    """``job.counted_once`` on one state, with the history so far (updated)."""
    listed = list(objects)
    for pod in _of(listed, "Pod"):
        owner = _owner_uid(pod)
        if not owner:
            continue
        phase = (pod.get("status") or {}).get("phase")
        pod_uid = str(_meta(pod).get("uid"))
        if phase == "Succeeded":
            history.succeeded.setdefault(owner, set()).add(pod_uid)
        elif phase == "Failed" or _meta(pod).get("deletionTimestamp"):
            history.failed.setdefault(owner, set()).add(pod_uid)
    found: list[Violation] = []
    for job in _of(listed, "Job"):
        job_uid = str(_meta(job).get("uid"))
        status = job.get("status") or {}
        uncounted = status.get("uncountedTerminatedPods") or {}
        if uncounted.get("succeeded") or uncounted.get("failed"):
            history.uncounted_seen = True
        succeeded = (status.get("succeeded") or 0) + len(uncounted.get("succeeded") or ())
        failed = (status.get("failed") or 0) + len(uncounted.get("failed") or ())
        name = f"{_meta(job).get('namespace')}/{_meta(job).get('name')}"
        seen_succeeded = len(history.succeeded.get(job_uid, ()))
        seen_failed = len(history.failed.get(job_uid, ()))
        if succeeded > seen_succeeded or failed > seen_failed:
            found.append(
                _violation(
                    "job.counted_once",
                    f"Job {name} counts {succeeded} succeeded and {failed} failed pods; "
                    f"{seen_succeeded} and {seen_failed} were seen",
                )
            )
        spec = job.get("spec") or {}
        if spec.get("completionMode") == "Indexed" and (status.get("succeeded") or 0) != _indexes(
            status.get("completedIndexes") or ""
        ):
            found.append(
                _violation(
                    "job.counted_once",
                    f"Job {name}: succeeded {status.get('succeeded')} but completedIndexes "
                    f"{status.get('completedIndexes')!r}",
                )
            )
        before = history.counters.get(job_uid, (0, 0))
        now = (status.get("succeeded") or 0, status.get("failed") or 0)
        if now[0] < before[0] or now[1] < before[1]:
            found.append(
                _violation("job.counted_once", f"Job {name}: counters went from {before} to {now}")
            )
        history.counters[job_uid] = now
    return found


def _condition(job: Obj, kind: str) -> Mapping[str, Any] | None:
    for condition in (job.get("status") or {}).get("conditions") or ():
        if condition.get("type") == kind and condition.get("status") == "True":
            found: Mapping[str, Any] = condition
            return found
    return None


def terminal_justified(objects: Iterable[Obj]) -> list[Violation]:
    found: list[Violation] = []
    for job in _of(objects, "Job"):
        name = f"{_meta(job).get('namespace')}/{_meta(job).get('name')}"
        spec, status = job.get("spec") or {}, job.get("status") or {}
        uncounted = status.get("uncountedTerminatedPods") or {}
        complete, failed = _condition(job, "Complete"), _condition(job, "Failed")
        reasons: list[str] = []
        if complete is not None:
            needed = spec.get("completions") or 1
            if (status.get("succeeded") or 0) < needed:
                reasons.append(f"Complete with {status.get('succeeded')} of {needed} succeeded")
            if uncounted.get("succeeded") or uncounted.get("failed"):
                reasons.append("Complete with uncounted pods")
            if not status.get("completionTime"):
                reasons.append("Complete without completionTime")
            if _condition(job, "SuccessCriteriaMet") is None:
                reasons.append("Complete without SuccessCriteriaMet")
        if failed is not None:
            if failed.get("reason") == "BackoffLimitExceeded" and (status.get("failed") or 0) <= (
                spec.get("backoffLimit") or 0
            ):
                reasons.append(f"Failed with {status.get('failed')} failures")
            if _condition(job, "FailureTarget") is None:
                reasons.append("Failed without FailureTarget")
        if complete is not None and failed is not None:
            reasons.append("both Complete and Failed")
        found += [_violation("job.terminal_justified", f"Job {name}: {r}") for r in reasons]
    return found


def completed(objects: Iterable[Obj]) -> bool:
    return any(_condition(job, "Complete") is not None for job in _of(objects, "Job"))


def failed(objects: Iterable[Obj]) -> bool:
    return any(_condition(job, "Failed") is not None for job in _of(objects, "Job"))
