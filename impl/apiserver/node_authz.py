"""The Node authorizer (``--authorization-mode Node``): what a kubelet, authenticated as
``system:node:NAME`` in ``system:nodes``, may do, from the objects bound to its node.

Theory of operation. kube-apiserver keeps a graph of pods bound to nodes and of the objects
those pods use; this module asks the same questions of the watch cache directly. A node may
read a secret, configmap, PersistentVolumeClaim, PersistentVolume or VolumeAttachment, or
create a token for a ServiceAccount, only when the object is related to it: a pod with
``spec.nodeName`` the node uses it (for a PV: its ``claimRef`` names a claim such a pod uses; a
secret may also be one a PV of such a claim names for the kubelet; a VolumeAttachment names the
node). It may read its own Node and list or watch pods with ``fieldSelector
spec.nodeName=NAME``; creates and updates of Nodes and of pod status, mirror-pod creates and
deletes and evictions are allowed here and narrowed by NodeRestriction admission
(``node_restriction.py``). Leases are its own, in ``kube-node-lease``. Everything else is
judged by the static rules of the ``system:node`` role. A request it does not allow gets no
opinion (the next authorizer decides), with kube's reason, which a 403 then ends with.

Not modelled: ResourceClaims and ResourceSlices (DRA), CSINodes' and the legacy volume types'
less common references, and the graph's eventual consistency (here it is always current).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from returns.pipeline import is_successful

from impl.apiserver.cache import WatchCache, objects_under
from impl.apiserver.objects import decode
from impl.apiserver.rbac import rule_allows
from models.apiserver.auth import Attributes, Rule, UserInfo
from models.field_selectors import FieldTerm, parse_field_selector

Json = dict[str, Any]
NODES_GROUP: Final = "system:nodes"
NODE_USER_PREFIX: Final = "system:node:"
NODE_LEASE_NAMESPACE: Final = "kube-node-lease"


def _rule(verbs: str, group: str, resources: str) -> Rule:
    return Rule(verbs=tuple(verbs.split()), api_groups=(group,), resources=tuple(resources.split()))


READ: Final = "get list watch"
NODE_RULES: Final = (
    _rule("create", "authentication.k8s.io", "tokenreviews"),
    _rule("create", "authorization.k8s.io", "subjectaccessreviews localsubjectaccessreviews"),
    _rule(READ, "", "services"),
    _rule("create get list watch", "", "nodes"),
    _rule("update patch", "", "nodes/status"),
    _rule("update patch", "", "nodes"),
    _rule("create update patch", "", "events"),
    _rule("create update patch", "events.k8s.io", "events"),
    _rule(READ, "", "pods"),
    _rule("create delete", "", "pods"),
    _rule("update patch", "", "pods/status"),
    _rule("create", "", "pods/eviction"),
    _rule(READ, "", "secrets configmaps"),
    _rule("get", "", "persistentvolumeclaims persistentvolumes"),
    _rule("get", "", "endpoints"),
    _rule("create get list watch", "certificates.k8s.io", "certificatesigningrequests"),
    _rule("get create update patch delete", "coordination.k8s.io", "leases"),
    _rule("get", "storage.k8s.io", "volumeattachments"),
    _rule("create", "", "serviceaccounts/token"),
    _rule("get update patch", "", "persistentvolumeclaims/status"),
    _rule(READ, "storage.k8s.io", "csidrivers"),
    _rule("get create update patch delete", "storage.k8s.io", "csinodes"),
    _rule(READ, "node.k8s.io", "runtimeclasses"),
)
"""The ``system:node`` ClusterRole's rules (v1.35's ``NodeRules``), which also judge a node's
requests the graph does not cover."""


def node_name(user: UserInfo) -> str | None:
    """``NodeIdentity``: the node a user is (``system:node:NAME`` in ``system:nodes``; "" when
    the name is empty), None for any other user."""
    if not user.name.startswith(NODE_USER_PREFIX) or NODES_GROUP not in user.groups:
        return None
    return user.name.removeprefix(NODE_USER_PREFIX)


def _get(mapping: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(mapping, dict):
            return None
        mapping = mapping.get(key)
    return mapping


def _dicts(value: Any) -> list[Json]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _containers(pod: Json) -> list[Json]:
    spec = pod.get("spec")
    return [
        c
        for field in ("initContainers", "containers", "ephemeralContainers")
        for c in _dicts(_get(spec, field))
    ]


def pod_secret_names(pod: Json) -> set[str]:
    """The secrets a pod uses (``VisitPodSecretNames``)."""
    names: set[str] = set()
    spec = pod.get("spec")
    names.update(str(r.get("name")) for r in _dicts(_get(spec, "imagePullSecrets")))
    for container in _containers(pod):
        for source in _dicts(container.get("envFrom")):
            names.add(str(_get(source, "secretRef", "name")))
        for env in _dicts(container.get("env")):
            names.add(str(_get(env, "valueFrom", "secretKeyRef", "name")))
    for volume in _dicts(_get(spec, "volumes")):
        names.add(str(_get(volume, "secret", "secretName")))
        names.add(str(_get(volume, "azureFile", "secretName")))
        names.add(str(_get(volume, "csi", "nodePublishSecretRef", "name")))
        for kind in ("cephfs", "cinder", "flexVolume", "iscsi", "rbd", "scaleIO", "storageos"):
            names.add(str(_get(volume, kind, "secretRef", "name")))
        for source in _dicts(_get(volume, "projected", "sources")):
            names.add(str(_get(source, "secret", "name")))
    return {name for name in names if name not in ("", "None")}


def pod_configmap_names(pod: Json) -> set[str]:
    """The configmaps a pod uses (``VisitPodConfigmapNames``)."""
    names: set[str] = set()
    for container in _containers(pod):
        for source in _dicts(container.get("envFrom")):
            names.add(str(_get(source, "configMapRef", "name")))
        for env in _dicts(container.get("env")):
            names.add(str(_get(env, "valueFrom", "configMapKeyRef", "name")))
    for volume in _dicts(_get(pod.get("spec"), "volumes")):
        names.add(str(_get(volume, "configMap", "name")))
        for source in _dicts(_get(volume, "projected", "sources")):
            names.add(str(_get(source, "configMap", "name")))
    return {name for name in names if name not in ("", "None")}


def pod_claim_names(pod: Json) -> set[str]:
    """The PersistentVolumeClaims a pod uses: its ``persistentVolumeClaim`` volumes and, for
    each ``ephemeral`` volume, the claim ``POD-VOLUME``."""
    names: set[str] = set()
    pod_name = str(_get(pod, "metadata", "name"))
    for volume in _dicts(_get(pod.get("spec"), "volumes")):
        claim = _get(volume, "persistentVolumeClaim", "claimName")
        if isinstance(claim, str) and claim:
            names.add(claim)
        if isinstance(volume.get("ephemeral"), dict):
            names.add(f"{pod_name}-{volume.get('name')}")
    return names


def pv_secret_refs(pv: Json) -> set[tuple[str, str]]:
    """The secrets (namespace, name) a PersistentVolume names for the kubelet."""
    refs: set[tuple[str, str]] = set()
    spec = pv.get("spec")
    candidates = [
        _get(spec, "csi", field)
        for field in ("nodePublishSecretRef", "nodeStageSecretRef", "nodeExpandSecretRef")
    ]
    candidates += [
        _get(spec, kind, "secretRef")
        for kind in ("cephfs", "cinder", "flexVolume", "iscsi", "rbd", "scaleIO", "storageos")
    ]
    for ref in candidates:
        if isinstance(ref, dict) and isinstance(ref.get("name"), str) and ref["name"]:
            refs.add((str(ref.get("namespace") or ""), ref["name"]))
    return refs


def _pods_on(cache: WatchCache, node: str, namespace: str = "") -> Iterator[Json]:
    prefix = f"/registry/pods/{namespace}/" if namespace else "/registry/pods/"
    # A node name is a DNS subdomain, which JSON never escapes: a pod bound to the node holds
    # its bytes, so the others need not be decoded.
    name = node.encode()
    for _, cached in objects_under(cache, prefix):
        if name not in cached.value:
            continue
        pod = decode(cached.value)
        if _get(pod, "spec", "nodeName") == node:
            yield pod


def _claim_used(cache: WatchCache, node: str, namespace: str, claim: str) -> bool:
    return any(claim in pod_claim_names(pod) for pod in _pods_on(cache, node, namespace))


def _volume_used(cache: WatchCache, node: str, pv: Json) -> bool:
    ref = _get(pv, "spec", "claimRef")
    if not isinstance(ref, dict) or not ref.get("name"):
        return False
    return _claim_used(cache, node, str(ref.get("namespace") or ""), str(ref["name"]))


def related(cache: WatchCache, node: str, resource: str, namespace: str, name: str) -> bool:
    """Whether the object is related to ``node`` (a path to it in kube's node graph)."""
    if resource == "pods":
        return any(_get(p, "metadata", "name") == name for p in _pods_on(cache, node, namespace))
    if resource == "secrets":
        if any(name in pod_secret_names(p) for p in _pods_on(cache, node, namespace)):
            return True
        return any(
            (namespace, name) in pv_secret_refs(pv) and _volume_used(cache, node, pv)
            for pv in (
                decode(c.value) for _, c in objects_under(cache, "/registry/persistentvolumes/")
            )
        )
    if resource == "configmaps":
        return any(name in pod_configmap_names(p) for p in _pods_on(cache, node, namespace))
    if resource == "persistentvolumeclaims":
        return _claim_used(cache, node, namespace, name)
    if resource == "persistentvolumes":
        cached = cache.objects.get(f"/registry/persistentvolumes/{name}")
        return cached is not None and _volume_used(cache, node, decode(cached.value))
    if resource == "serviceaccounts":
        return any(
            _get(p, "spec", "serviceAccountName") == name for p in _pods_on(cache, node, namespace)
        )
    if resource == "volumeattachments":
        cached = cache.objects.get(f"/registry/volumeattachments/{name}")
        return cached is not None and _get(decode(cached.value), "spec", "nodeName") == node
    return False


def _no_relationship(node: str) -> tuple[bool, str]:
    return False, f"no relationship found between node '{node}' and this object"


def _graph(cache: WatchCache, node: str, attributes: Attributes) -> tuple[bool, str]:
    if not attributes.name:
        return False, "No Object name found"
    if related(cache, node, attributes.resource, attributes.namespace, attributes.name):
        return True, ""
    return _no_relationship(node)


def _get_only(cache: WatchCache, node: str, attributes: Attributes) -> tuple[bool, str]:
    if attributes.verb != "get":
        return False, "can only get individual resources of this type"
    if attributes.subresource:
        return False, "cannot get subresource"
    return _graph(cache, node, attributes)


def _read_namespaced(cache: WatchCache, node: str, attributes: Attributes) -> tuple[bool, str]:
    if attributes.verb not in ("get", "list", "watch"):
        return False, "can only read resources of this type"
    if attributes.subresource:
        return False, "cannot read subresource"
    if not attributes.namespace:
        return False, "can only read namespaced object of this type"
    return _graph(cache, node, attributes)


def _own(
    node: str, attributes: Attributes, verbs: tuple[str, ...], what: str, subresources: bool
) -> tuple[bool, str]:
    """Leases and CSINodes: only the node's own (a create's name is checked at admission)."""
    if attributes.verb not in verbs:
        return False, f"can only get, create, update, patch, or delete {what}"
    if not subresources and attributes.subresource:
        return False, "cannot authorize CSINode subresources"
    if attributes.verb != "create" and attributes.name != node:
        noun = "node lease" if what == "a node lease" else "CSINode"
        return False, f"can only access {noun} with the same name as the requesting node"
    return True, ""


def _field_equals(selector: str, field: str) -> str | None:
    parsed = parse_field_selector(selector)
    if not is_successful(parsed):
        return None
    terms: tuple[FieldTerm, ...] = parsed.unwrap().terms
    for term in terms:
        if term.field == field and not term.negated:
            return term.value
    return None


def _node_object(node: str, attributes: Attributes) -> tuple[bool, str]:
    if attributes.subresource == "":
        if attributes.verb in ("create", "update", "patch"):
            return True, ""
        if attributes.verb in ("get", "list", "watch"):
            if attributes.name == node:
                return True, ""
            if not attributes.name:
                return False, f"node '{node}' cannot read all nodes, only its own Node object"
            return False, f"node '{node}' cannot read '{attributes.name}', only its own Node object"
    elif attributes.subresource == "status" and attributes.verb in ("update", "patch"):
        return True, ""
    return False, ""


def _pod(cache: WatchCache, node: str, attributes: Attributes) -> tuple[bool, str]:
    verb, subresource = attributes.verb, attributes.subresource
    if subresource == "":
        if verb == "get":
            return _get_only(cache, node, attributes)
        if verb in ("list", "watch"):
            if _field_equals(attributes.field_selector, "spec.nodeName") == node:
                return True, ""
            if attributes.name:
                return _graph(cache, node, attributes)
            return False, "can only list/watch pods with spec.nodeName field selector"
        if verb in ("create", "delete"):
            return True, ""
    elif (subresource == "status" and verb in ("update", "patch")) or (
        subresource == "eviction" and verb == "create"
    ):
        return True, ""
    return False, ""


def authorize_node(cache: WatchCache, attributes: Attributes) -> tuple[bool, str] | None:
    """The Node authorizer's answer: None for a user that is not a node (no opinion, no
    reason), else allowed or not with kube's reason for not."""
    node = node_name(attributes.user)
    if node is None:
        return None
    if not node:
        return False, f'unknown node for user "{attributes.user.name}"'
    if attributes.resource_request:
        resource, group = attributes.resource, attributes.group
        if group == "" and resource in ("secrets", "configmaps"):
            return _read_namespaced(cache, node, attributes)
        if group == "" and resource == "persistentvolumeclaims":
            if attributes.subresource == "status":
                if attributes.verb not in ("update", "patch"):
                    return False, "can only get/update/patch this type"
                return _graph(cache, node, attributes)
            return _get_only(cache, node, attributes)
        if (group, resource) in (
            ("", "persistentvolumes"),
            ("storage.k8s.io", "volumeattachments"),
        ):
            return _get_only(cache, node, attributes)
        if group == "" and resource == "serviceaccounts":
            if attributes.verb != "create" or not attributes.name:
                return False, "can only create tokens for individual service accounts"
            if attributes.subresource != "token":
                return False, "can only create token subresource of serviceaccount"
            return _graph(cache, node, attributes)
        if group == "coordination.k8s.io" and resource == "leases":
            verbs = ("get", "create", "update", "patch", "delete")
            if attributes.verb not in verbs:
                return False, "can only get, create, update, patch, or delete a node lease"
            if attributes.namespace != NODE_LEASE_NAMESPACE:
                return (
                    False,
                    f'can only access leases in the "{NODE_LEASE_NAMESPACE}" system namespace',
                )
            return _own(node, attributes, verbs, "a node lease", subresources=True)
        if group == "storage.k8s.io" and resource == "csinodes":
            verbs = ("get", "create", "update", "patch", "delete")
            return _own(node, attributes, verbs, "a CSINode", subresources=False)
        if group == "" and resource == "nodes":
            return _node_object(node, attributes)
        if group == "" and resource == "pods":
            return _pod(cache, node, attributes)
    if any(rule_allows(rule, attributes) for rule in NODE_RULES):
        return True, ""
    return False, ""
