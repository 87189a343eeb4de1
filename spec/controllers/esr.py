"""Eventually stable reconciliation (Anvil's ESR) for Deployments, ReplicaSets and the garbage
collector: once desired state stops changing and faults heal, the cluster reaches the state
below and the controllers stop writing (the world's progress property checks the silence).

Reconciled means (Kubernetes docs "Deployments", "ReplicaSet", "Garbage Collection"):

- nothing is left half-deleted: no object carries a deletionTimestamp;
- no dependent names an owner that no longer exists (the collector removed it);
- every ReplicaSet has exactly ``spec.replicas`` active pods, all Running and ready, and its
  status says so for its current generation;
- every Deployment's status is for its current generation; unless paused, its newest
  ReplicaSet has the Deployment's template image and all of its replicas, every older one
  none, and ``updatedReplicas == availableReplicas == replicas``.
"""

from __future__ import annotations

from spec.controllers.view import (
    Obj,
    View,
    active,
    available,
    key_of,
    owner_refs,
    replicas,
    terminating,
)

REVISION = "deployment.kubernetes.io/revision"


def _images(obj: Obj) -> list[str]:
    spec = obj.get("spec", {}).get("template", {}).get("spec", {})
    return [str(c.get("image")) for c in spec.get("containers") or ()]


def _observed(obj: Obj) -> bool:
    generation = obj.get("metadata", {}).get("generation")
    return bool(obj.get("status", {}).get("observedGeneration") == generation)


def _replica_set_gaps(view: View, rs: Obj) -> list[str]:
    pods = [pod for pod in view.controlled(rs, "Pod") if active(pod)]
    gaps = []
    if len(pods) != replicas(rs) or not all(available(pod) for pod in pods):
        ready = sum(1 for pod in pods if available(pod))
        gaps.append(f"{key_of(rs)}: {len(pods)} active ({ready} ready), wants {replicas(rs)}")
    status = rs.get("status", {})
    if not _observed(rs) or int(status.get("replicas") or 0) != replicas(rs):
        gaps.append(f"{key_of(rs)}: status not up to date ({status})")
    return gaps


def _deployment_gaps(view: View, deployment: Obj) -> list[str]:
    if not _observed(deployment):
        return [f"{key_of(deployment)}: generation not observed"]
    if deployment.get("spec", {}).get("paused"):
        return []
    sets = view.controlled(deployment, "ReplicaSet")
    revision = deployment.get("metadata", {}).get("annotations", {}).get(REVISION)
    newest = [rs for rs in sets if rs["metadata"].get("annotations", {}).get(REVISION) == revision]
    want = replicas(deployment)
    gaps = []
    if len(newest) != 1 or _images(newest[0]) != _images(deployment):
        gaps.append(f"{key_of(deployment)}: no single ReplicaSet for revision {revision}")
    elif replicas(newest[0]) != want:
        gaps.append(f"{key_of(deployment)}: newest ReplicaSet has {replicas(newest[0])}/{want}")
    if any(replicas(rs) for rs in sets if rs not in newest):
        gaps.append(f"{key_of(deployment)}: an older ReplicaSet still has replicas")
    status = deployment.get("status", {})
    counts = (status.get("updatedReplicas") or 0, status.get("availableReplicas") or 0)
    if counts != (want, want):
        gaps.append(f"{key_of(deployment)}: status updated/available {counts}, wants {want}")
    return gaps


def gaps(view: View) -> list[str]:
    """Why the cluster is not reconciled yet (empty: it is)."""
    found = [
        f"{key_of(obj)} is still being deleted" for obj in view.by_uid.values() if terminating(obj)
    ]
    for obj in view.by_uid.values():
        for ref in owner_refs(obj):
            if ref.get("uid") not in view.by_uid:
                found.append(f"{key_of(obj)} still names deleted owner {ref.get('name')}")
    for rs in view.of("ReplicaSet"):
        found.extend(_replica_set_gaps(view, rs))
    for deployment in view.of("Deployment"):
        found.extend(_deployment_gaps(view, deployment))
    return found
