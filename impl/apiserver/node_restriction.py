"""NodeRestriction admission (``--enable-admission-plugins NodeRestriction``): what a node
(``system:node:NAME`` in ``system:nodes``) may write, beyond what the Node authorizer let through.

A node may create and update only its own Node (its name), may not change its taints, and may
set or change only the kubelet's labels (``kubernetes.io/hostname``, ``kubernetes.io/arch``,
``kubernetes.io/os``, the instance-type, region and zone labels and anything under
``kubelet.kubernetes.io/`` or ``node.kubernetes.io/``, never under
``node-restriction.kubernetes.io/``). It may create only mirror pods (annotated
``kubernetes.io/config.mirror``) bound to itself, owned by its Node (the one controller owner
reference, with the Node's uid) and using no ServiceAccount, secret, configmap,
PersistentVolumeClaim or ClusterTrustBundle; delete, evict and update the status of only pods
bound to itself (a status update may not change the pod's labels); update a PVC's status only
in ``status.capacity`` and ``status.conditions`` (and the allocated-resources fields); request
a token only bound to a pod on itself; and write only its own Lease in ``kube-node-lease`` and
its own CSINode. Refusals are kube's 403 (``nodes "b" is forbidden: node "a" is not allowed to
modify node "b"``).

Here the check runs on the object as the write would store it (after the mutating plugins and
defaulting), where kube runs it among the mutating plugins; a node's request that is also
invalid may therefore get the validation error first.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any, Final

from impl.apiserver.authz import forbidden_status, qualified_resource
from impl.apiserver.node_authz import (
    NODE_LEASE_NAMESPACE,
    node_name,
    pod_configmap_names,
    pod_secret_names,
)
from models.apiserver.auth import UserInfo
from models.k8s.meta_ops import Status

Json = dict[str, Any]
PLUGIN: Final = "NodeRestriction"
MIRROR_ANNOTATION: Final = "kubernetes.io/config.mirror"
KUBELET_LABELS: Final = frozenset(
    {
        "kubernetes.io/hostname",
        "kubernetes.io/arch",
        "kubernetes.io/os",
        "beta.kubernetes.io/instance-type",
        "node.kubernetes.io/instance-type",
        "failure-domain.beta.kubernetes.io/region",
        "failure-domain.beta.kubernetes.io/zone",
        "topology.kubernetes.io/region",
        "topology.kubernetes.io/zone",
        "beta.kubernetes.io/arch",
        "beta.kubernetes.io/os",
    }
)
KUBELET_LABEL_NAMESPACES: Final = ("kubelet.kubernetes.io", "node.kubernetes.io")


class Write:
    """One write as admission sees it: who, the operation, where, and the objects."""

    __slots__ = ("group", "name", "namespace", "new", "old", "operation", "resource", "sub")

    def __init__(
        self,
        *,
        operation: str,
        group: str,
        resource: str,
        sub: str,
        namespace: str,
        name: str,
        old: Json | None,
        new: Json | None,
    ) -> None:
        self.operation = operation  # CREATE, UPDATE or DELETE
        self.group = group
        self.resource = resource
        self.sub = sub
        self.namespace = namespace
        self.name = name
        self.old = old
        self.new = new


def _get(mapping: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(mapping, dict):
            return None
        mapping = mapping.get(key)
    return mapping


def _label_namespace(key: str) -> str:
    prefix, slash, _ = key.partition("/")
    return prefix if slash else ""


def _is_kubernetes_label(key: str) -> bool:
    namespace = _label_namespace(key)
    return any(
        namespace == domain or namespace.endswith("." + domain)
        for domain in ("kubernetes.io", "k8s.io")
    )


def _is_kubelet_label(key: str) -> bool:
    if key in KUBELET_LABELS:
        return True
    namespace = _label_namespace(key)
    return any(
        namespace == domain or namespace.endswith("." + domain)
        for domain in KUBELET_LABEL_NAMESPACES
    )


def _modified_labels(new: Mapping[str, Any], old: Mapping[str, Any]) -> set[str]:
    keys = set(new) | set(old)
    return {key for key in keys if key not in new or key not in old or new[key] != old[key]}


def forbidden_labels(modified: set[str]) -> list[str]:
    """The labels a node may not add, remove or change, sorted."""
    found = set()
    for key in modified:
        namespace = _label_namespace(key)
        restricted = "node-restriction.kubernetes.io"
        if namespace == restricted or namespace.endswith("." + restricted):
            found.add(key)
        if _is_kubernetes_label(key) and not _is_kubelet_label(key):
            found.add(key)
    return sorted(found)


def _labels(obj: Json | None) -> Mapping[str, Any]:
    labels = _get(obj, "metadata", "labels")
    return labels if isinstance(labels, dict) else {}


def _node(node: str, write: Write) -> str | None:
    name = write.name or str(_get(write.new, "metadata", "name") or "")
    if name != node:
        return f'node "{node}" is not allowed to modify node "{name}"'
    if write.operation == "CREATE":
        bad = forbidden_labels(_modified_labels(_labels(write.new), {}))
        if bad:
            return f'node "{node}" is not allowed to set the following labels: {", ".join(bad)}'
    if write.operation == "UPDATE":
        if _get(write.new, "spec", "taints") != _get(write.old, "spec", "taints"):
            return f'node "{node}" is not allowed to modify taints'
        bad = forbidden_labels(_modified_labels(_labels(write.new), _labels(write.old)))
        if bad:
            return f"is not allowed to modify labels: {', '.join(bad)}"
    return None


def _uses_anything(node: str, pod: Json) -> str | None:
    """Why a node's mirror pod may not be created for what it references, if it does."""
    if _get(pod, "spec", "serviceAccountName"):
        return f'node "{node}" can not create pods that reference a service account'
    if pod_secret_names(pod):
        return f'node "{node}" can not create pods that reference secrets'
    if pod_configmap_names(pod):
        return f'node "{node}" can not create pods that reference configmaps'
    volumes = _get(pod, "spec", "volumes")
    for volume in volumes if isinstance(volumes, list) else []:
        for source in _get(volume, "projected", "sources") or []:
            if isinstance(source, dict) and source.get("clusterTrustBundle") is not None:
                return f'node "{node}" can not create pods that reference clustertrustbundles'
    if any(
        isinstance(v, dict) and isinstance(v.get("persistentVolumeClaim"), dict)
        for v in (volumes if isinstance(volumes, list) else [])
    ):
        return f'node "{node}" can not create pods that reference persistentvolumeclaims'
    return None


def _mirror_pod(node: str, pod: Json, node_uid: Callable[[str], str | None]) -> str | None:
    annotations = _get(pod, "metadata", "annotations")
    if not isinstance(annotations, dict) or MIRROR_ANNOTATION not in annotations:
        return (
            f'pod does not have "{MIRROR_ANNOTATION}" annotation, node "{node}" can only '
            "create mirror pods"
        )
    if _get(pod, "spec", "nodeName") != node:
        return f'node "{node}" can only create pods with spec.nodeName set to itself'
    owners = _get(pod, "metadata", "ownerReferences")
    owners = owners if isinstance(owners, list) else []
    if len(owners) > 1:
        return f'node "{node}" can only create pods with a single owner reference set to itself'
    if not owners:
        return f'node "{node}" can only create pods with an owner reference set to itself'
    owner = owners[0] if isinstance(owners[0], dict) else {}
    if (owner.get("apiVersion"), owner.get("kind"), owner.get("name")) != ("v1", "Node", node):
        return f'node "{node}" can only create pods with an owner reference set to itself'
    if owner.get("controller") is not True:
        return f'node "{node}" can only create pods with a controller owner reference set to itself'
    if owner.get("blockOwnerDeletion") is True:
        return f'node "{node}" must not set blockOwnerDeletion on an owner reference'
    uid = node_uid(node)
    if uid is None:
        return f'nodes "{node}" not found'
    if owner.get("uid") != uid:
        return f"node {node} UID mismatch: expected {owner.get('uid') or ''} got {uid}"
    return _uses_anything(node, pod)


def _pod(node: str, write: Write, node_uid: Callable[[str], str | None]) -> str | None:
    bound = _get(write.old, "spec", "nodeName") == node
    if write.sub == "":
        if write.operation == "CREATE":
            return _mirror_pod(node, write.new or {}, node_uid)
        if write.operation == "DELETE":
            return (
                None
                if bound
                else f'node "{node}" can only delete pods with spec.nodeName set to itself'
            )
        return (
            f'unexpected operation "{write.operation}", node "{node}" can only create and '
            "delete mirror pods"
        )
    if write.sub == "status":
        if write.operation != "UPDATE":
            return f'unexpected operation "{write.operation}"'
        if not bound:
            return (
                f'node "{node}" can only update pod status for pods with spec.nodeName set to '
                "itself"
            )
        if _labels(write.old) != _labels(write.new):
            return f'node "{node}" cannot update labels through pod status'
        return None
    if write.sub == "eviction":
        return (
            None if bound else f"node {node} can only evict pods with spec.nodeName set to itself"
        )
    return f"unexpected pod subresource \"{write.sub}\", only 'status' and 'eviction' are allowed"


def _pvc_status(node: str, write: Write) -> str | None:
    if write.sub != "status":
        return "may only update PVC status"
    if write.operation != "UPDATE":
        return f'unexpected operation "{write.operation}"'

    def comparable(obj: Json | None) -> Json:
        out = copy.deepcopy(obj or {})
        meta = out.get("metadata")
        if isinstance(meta, dict):
            for field in ("resourceVersion", "managedFields"):
                meta.pop(field, None)
        status = out.get("status")
        if isinstance(status, dict):
            for field in (
                "capacity",
                "conditions",
                "allocatedResourceStatuses",
                "allocatedResources",
            ):
                status.pop(field, None)
        return out

    if comparable(write.old) != comparable(write.new):
        return (
            f'node "{node}" is not allowed to update fields other than status.capacity and '
            "status.conditions"
        )
    return None


def _own_object(node: str, write: Write, what: str) -> str | None:
    name = (
        str(_get(write.new, "metadata", "name") or "")
        if write.operation == "CREATE"
        else write.name
    )
    if name != node:
        return f"can only access {what} with the same name as the requesting node"
    return None


def token_refusal(
    node: str, body: Json, namespace: str, pod_of: Callable[[str, str], Json | None]
) -> str | None:
    """Why a node may not create this TokenRequest, if it may not."""
    ref = _get(body, "spec", "boundObjectRef")
    if (
        not isinstance(ref, dict)
        or ref.get("apiVersion") != "v1"
        or ref.get("kind") != "Pod"
        or not ref.get("name")
    ):
        return "node requested token not bound to a pod"
    if not ref.get("uid"):
        return "node requested token with a pod binding without a uid"
    pod = pod_of(namespace, str(ref["name"]))
    if pod is None:
        return f'pods "{ref["name"]}" not found'
    if ref.get("uid") != _get(pod, "metadata", "uid"):
        return (
            f"the UID in the bound object reference ({ref.get('uid')}) does not match the UID "
            "in record. The object might have been deleted and then recreated"
        )
    if _get(pod, "spec", "nodeName") != node:
        return "node requested token bound to a pod scheduled on a different node"
    return None


def admit(user: UserInfo, write: Write, node_uid: Callable[[str], str | None]) -> Status | None:
    """kube's 403 when a node may not make ``write``; None when the user is not a node or may.
    ``node_uid`` looks up a Node's uid (None: no such Node)."""
    node = node_name(user)
    if node is None:
        return None
    why: str | None
    if not node:
        why = f'could not determine node from user "{user.name}"'
    elif (write.group, write.resource) == ("", "pods"):
        why = _pod(node, write, node_uid)
    elif (write.group, write.resource) == ("", "nodes"):
        why = _node(node, write)
    elif (write.group, write.resource) == ("", "persistentvolumeclaims"):
        why = _pvc_status(node, write)
    elif (write.group, write.resource) == ("coordination.k8s.io", "leases"):
        if write.namespace != NODE_LEASE_NAMESPACE:
            why = f'can only access leases in the "{NODE_LEASE_NAMESPACE}" system namespace'
        else:
            why = _own_object(node, write, "node lease")
    elif (write.group, write.resource) == ("storage.k8s.io", "csinodes"):
        why = _own_object(node, write, "CSINode")
    else:
        why = None
    if why is None:
        return None
    name = write.name or str(_get(write.new, "metadata", "name") or "") or "Unknown"
    qualified = qualified_resource(write.group, write.resource)
    return forbidden_status(qualified, write.group, write.resource, name, why)
