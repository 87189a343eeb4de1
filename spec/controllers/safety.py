"""Safety properties of the Deployment, ReplicaSet and garbage-collector controllers, judged on
each step's stored objects before and after, each with a ``sometimes`` companion that shows the
situation it guards arises.

- ``replicaset.no_excess_pods``: a ReplicaSet-controller sync that creates pods for a
  ReplicaSet leaves it with at most ``spec.replicas`` active pods (the larger of the stored
  value and the one in the controller's cache): expectations stop a controller from creating
  again before its informer saw its own creates. Companion ``replicaset.full``: some
  ReplicaSet of two or more replicas has exactly its replicas active.
- ``replicaset.status_counts_available``: a ReplicaSet-controller sync on an up-to-date cache
  writes ``status.availableReplicas`` no larger than the non-terminating available pods it saw
  (the Deployment controller's scale-down arithmetic trusts this number). Companion
  ``replicaset.terminating_counted``: a ReplicaSet with a status had terminating pods.
- ``deployment.max_surge``: a Deployment-controller sync, made on a cache that had seen every
  event, must not take a RollingUpdate Deployment's ReplicaSets (same spec) above
  ``replicas + maxSurge`` replicas in total. Companion ``deployment.surged``: a Deployment had
  pods in two ReplicaSets.
- ``deployment.min_available``: likewise, such a sync must not leave fewer than
  ``replicas - maxUnavailable`` available pods (ready, not terminating) that the ReplicaSets
  keep, if there were not fewer before. Companion ``deployment.at_min_available``: available
  exactly ``replicas - maxUnavailable`` during a rollout, with pods in two ReplicaSets.

Why "on a cache that had seen every event": the Deployment controller keeps no expectations
for ReplicaSets. A sync on a cache that has not yet seen the ReplicaSet it just created makes a
new ReplicaSet sized as if no old one existed (Kubernetes does the same; the simulation found
it), so the rollout bounds are the controller's promise only for syncs on a current cache.
- ``gc.orphan_keeps_dependents``: a ReplicaSet whose Deployment was deleted with
  ``propagationPolicy: Orphan`` is not deleted (until something adopts it). Companion
  ``gc.orphaned``: such a ReplicaSet exists with no owner.
- ``gc.foreground_waits``: a Deployment deleted in the foreground is not removed while a
  dependent that blocks its deletion still exists. Companion ``gc.foreground_waited``: such an
  owner was seen waiting for a blocking dependent.

Sources: the Kubernetes docs "Deployments" (Rolling Update: Max Unavailable, Max Surge),
"ReplicaSet", "Garbage Collection" and "Use Cascading Deletion".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from spec.controllers.view import (
    Obj,
    View,
    active,
    available,
    fenceposts,
    key_of,
    owner_refs,
    replicas,
    terminating,
    uid_of,
)
from spec.property import Violation

SOMETIMES = (
    "replicaset.full",
    "replicaset.terminating_counted",
    "deployment.surged",
    "deployment.at_min_available",
    "gc.orphaned",
    "gc.foreground_waited",
)


def _violation(name: str, reason: str) -> Violation:
    return Violation(property_name=name, nodes=(), reason=reason)


def no_excess_pods(before: View, after: View, seen_replicas: Mapping[str, int]) -> list[Violation]:
    """Judge one ReplicaSet-controller sync. ``seen_replicas``: each ReplicaSet's
    ``spec.replicas`` in the controller's cache (by UID): it acts on what it saw, so a scale-down
    it has not seen yet does not count against it."""
    found = []
    for rs in after.of("ReplicaSet"):
        pods = after.controlled(rs, "Pod")
        created = [pod for pod in pods if uid_of(pod) not in before.by_uid]
        count = sum(1 for pod in pods if active(pod))
        bound = max(replicas(rs), seen_replicas.get(uid_of(rs), 0))
        if created and count > bound:
            found.append(
                _violation(
                    "replicaset.no_excess_pods",
                    f"{key_of(rs)} has {count} active pods after creating "
                    f"{len(created)}, but spec.replicas is {bound}",
                )
            )
    return found


def status_counts_available(before: View, after: View) -> list[Violation]:
    """Judge one ReplicaSet-controller sync made on an up-to-date cache: a status it wrote
    counts as available only non-terminating pods (API reference, ``availableReplicas``: "the
    number of available non-terminating pods"), of those it saw (``before``; a pod it deletes in
    the same sync may still be counted, as Kubernetes computes the status from the list it
    synced)."""
    found = []
    for rs in after.of("ReplicaSet"):
        old = before.by_uid.get(uid_of(rs))
        if old is None or old.get("status") == rs.get("status"):
            continue
        seen = sum(1 for pod in before.controlled(old, "Pod") if available(pod))
        claimed = int(rs.get("status", {}).get("availableReplicas") or 0)
        if claimed > seen:
            found.append(
                _violation(
                    "replicaset.status_counts_available",
                    f"{key_of(rs)} status says {claimed} available pods; "
                    f"{seen} were available and not terminating",
                )
            )
    return found


def _same_spec(before: View, deployment: Obj) -> Obj | None:
    old = before.by_uid.get(uid_of(deployment))
    if old is None or old.get("metadata", {}).get("generation") != deployment.get(
        "metadata", {}
    ).get("generation"):
        return None
    return old


def _kept_available(view: View, deployment: Obj) -> int:
    """Available pods the Deployment's ReplicaSets keep: a ReplicaSet of ``k`` replicas keeps
    at most ``k`` of its available pods (it deletes unready pods first)."""
    kept = 0
    for rs in view.controlled(deployment, "ReplicaSet"):
        ready = sum(1 for pod in view.controlled(rs, "Pod") if available(pod))
        kept += min(replicas(rs), ready)
    return kept


def rollout_bounds(before: View, after: View) -> list[Violation]:
    """Judge one Deployment-controller sync made on an up-to-date cache (the world decides)."""
    found = []
    for deployment in after.of("Deployment"):
        old = _same_spec(before, deployment)
        posts = fenceposts(deployment)
        if old is None or posts is None or terminating(deployment):
            continue
        surge, unavailable = posts
        want = replicas(deployment)
        # The same ReplicaSets before and after: adopting one (an orphan of an earlier owner)
        # is not a scaling decision; a new one had 0 replicas before.
        sets = after.controlled(deployment, "ReplicaSet")
        total_after = sum(replicas(rs) for rs in sets)
        total_before = sum(
            replicas(before.by_uid[uid_of(rs)]) for rs in sets if uid_of(rs) in before.by_uid
        )
        if total_before <= want + surge < total_after:
            found.append(
                _violation(
                    "deployment.max_surge",
                    f"{key_of(deployment)}'s ReplicaSets went from {total_before} to "
                    f"{total_after} replicas; replicas {want} + maxSurge {surge} = "
                    f"{want + surge}",
                )
            )
        kept_before = _kept_available(before, old)
        kept_after = _kept_available(after, deployment)
        if kept_after < want - unavailable <= kept_before:
            found.append(
                _violation(
                    "deployment.min_available",
                    f"{key_of(deployment)} keeps {kept_after} available pods (was "
                    f"{kept_before}); replicas {want} - maxUnavailable {unavailable} = "
                    f"{want - unavailable}",
                )
            )
    return found


def orphans_kept(after: View, orphaned: Iterable[str]) -> list[Violation]:
    """``orphaned``: UIDs of ReplicaSets whose owner was deleted with Orphan, not adopted since."""
    found = []
    for uid in orphaned:
        rs = after.by_uid.get(uid)
        if rs is None or terminating(rs):
            what = "removed" if rs is None else "being deleted"
            found.append(
                _violation(
                    "gc.orphan_keeps_dependents",
                    f"ReplicaSet {uid} was orphaned by its Deployment's deletion, yet is {what}",
                )
            )
    return found


def foreground_waits(before: View, after: View) -> list[Violation]:
    found = []
    for deployment in before.of("Deployment"):
        uid = uid_of(deployment)
        finalizers = deployment.get("metadata", {}).get("finalizers") or ()
        if uid in after.by_uid or "foregroundDeletion" not in finalizers:
            continue
        blocking = [
            obj
            for obj in after.dependents.get(uid, ())
            if any(r.get("uid") == uid and r.get("blockOwnerDeletion") for r in owner_refs(obj))
        ]
        if blocking:
            found.append(
                _violation(
                    "gc.foreground_waits",
                    f"{key_of(deployment)} was removed while {key_of(blocking[0])} still "
                    "blocks its foreground deletion",
                )
            )
    return found


def witnessed(after: View, orphaned: Iterable[str]) -> set[str]:
    """The ``sometimes`` companions this state shows."""
    seen = set()
    for rs in after.of("ReplicaSet"):
        count = sum(1 for pod in after.controlled(rs, "Pod") if active(pod))
        if replicas(rs) >= 2 and count == replicas(rs):
            seen.add("replicaset.full")
        if any(terminating(pod) for pod in after.controlled(rs, "Pod")) and rs.get("status"):
            seen.add("replicaset.terminating_counted")
    for deployment in after.of("Deployment"):
        sets = [rs for rs in after.controlled(deployment, "ReplicaSet") if replicas(rs) > 0]
        posts = fenceposts(deployment)
        if len(sets) >= 2:
            seen.add("deployment.surged")
            ready = sum(1 for pod in after.deployment_pods(deployment) if available(pod))
            if posts is not None and ready == replicas(deployment) - posts[1]:
                seen.add("deployment.at_min_available")
        finalizers = deployment.get("metadata", {}).get("finalizers") or ()
        if "foregroundDeletion" in finalizers and after.dependents.get(uid_of(deployment)):
            seen.add("gc.foreground_waited")
    if any(uid in after.by_uid and not owner_refs(after.by_uid[uid]) for uid in orphaned):
        seen.add("gc.orphaned")
    return seen
