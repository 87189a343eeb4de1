"""Objects as JSON: decoding request bodies, the stored form, resourceVersion, field sets.

kube-apiserver stores an object without ``metadata.resourceVersion`` (it is the key's etcd
``mod_revision``) and sets it on every read; ``stored_bytes`` and ``with_resource_version`` do
the same. JSON is written with sorted keys so that equal objects have equal bytes, which is how
a no-op update is recognised (kube skips the write when the bytes are unchanged).
"""

from __future__ import annotations

import copy
from typing import Any, Final

import msgspec

Json = dict[str, Any]

_ENCODER = msgspec.json.Encoder(order="sorted")


def decode(data: bytes) -> Any:
    return msgspec.json.decode(data)


def encode(value: Any) -> bytes:
    return _ENCODER.encode(value)


def metadata(obj: Json) -> Json:
    value = obj.get("metadata")
    if not isinstance(value, dict):
        value = {}
        obj["metadata"] = value
    return value


def meta_str(obj: Json, field: str) -> str:
    value = metadata(obj).get(field) if isinstance(obj.get("metadata"), dict) else None
    return value if isinstance(value, str) else ""


def stored_bytes(obj: Json) -> bytes:
    """The value kept in etcd: the object without resourceVersion and selfLink."""
    clean = dict(obj)
    meta = dict(metadata(clean))
    meta.pop("resourceVersion", None)
    meta.pop("selfLink", None)
    clean["metadata"] = meta
    return encode(clean)


def with_resource_version(value: bytes, revision: int) -> bytes:
    """A stored value as the API returns it: ``metadata.resourceVersion`` set."""
    obj = decode(value)
    metadata(obj)["resourceVersion"] = str(revision)
    return encode(obj)


def deep_copy(obj: Json) -> Json:
    return copy.deepcopy(obj)


def labels_of(obj: Json) -> dict[str, str]:
    labels = metadata(obj).get("labels") if isinstance(obj.get("metadata"), dict) else None
    if not isinstance(labels, dict):
        return {}
    return {str(key): str(value) for key, value in labels.items()}


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _get(obj: Json, *path: str) -> object:
    value: object = obj
    for step in path:
        if not isinstance(value, dict):
            return None
        value = value.get(step)
    return value


def field_set(kind: str, obj: Json) -> dict[str, str]:
    """The fields a field selector can name for ``kind`` (kube's ``GetAttrs``)."""
    fields = {
        "metadata.name": meta_str(obj, "name"),
        "metadata.namespace": meta_str(obj, "namespace"),
    }
    if kind == "Pod":
        pod_ips = _get(obj, "status", "podIPs")
        first_ip = (
            pod_ips[0].get("ip")
            if isinstance(pod_ips, list) and pod_ips and isinstance(pod_ips[0], dict)
            else None
        )
        fields.update(
            {
                "spec.nodeName": _text(_get(obj, "spec", "nodeName")),
                "spec.restartPolicy": _text(_get(obj, "spec", "restartPolicy")),
                "spec.schedulerName": _text(_get(obj, "spec", "schedulerName")),
                "spec.serviceAccountName": _text(_get(obj, "spec", "serviceAccountName")),
                "spec.hostNetwork": _text(bool(_get(obj, "spec", "hostNetwork"))),
                "status.phase": _text(_get(obj, "status", "phase")),
                "status.podIP": _text(_get(obj, "status", "podIP")),
                "status.podIPs": _text(first_ip),
                "status.nominatedNodeName": _text(_get(obj, "status", "nominatedNodeName")),
            }
        )
    elif kind == "Node":
        fields["spec.unschedulable"] = _text(bool(_get(obj, "spec", "unschedulable")))
    elif kind == "Event":
        for field in (
            "kind",
            "namespace",
            "name",
            "uid",
            "apiVersion",
            "resourceVersion",
            "fieldPath",
        ):
            fields[f"involvedObject.{field}"] = _text(_get(obj, "involvedObject", field))
        fields["reason"] = _text(obj.get("reason"))
        fields["reportingComponent"] = _text(obj.get("reportingComponent"))
        fields["source"] = _text(_get(obj, "source", "component"))
        fields["type"] = _text(obj.get("type"))
    elif kind == "Secret":
        fields["type"] = _text(obj.get("type"))
    elif kind == "Namespace":
        fields["status.phase"] = _text(_get(obj, "status", "phase"))
    elif kind in ("ReplicaSet", "Job"):
        fields["status.replicas" if kind == "ReplicaSet" else "status.successful"] = _text(
            _get(obj, "status", "replicas" if kind == "ReplicaSet" else "succeeded")
        )
    return fields


FIELD_LABELS: Final = {
    "Pod": frozenset(
        {
            "metadata.name",
            "metadata.namespace",
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.podIPs",
            "status.nominatedNodeName",
        }
    ),
    "Node": frozenset({"metadata.name", "spec.unschedulable"}),
    "Event": frozenset(
        {
            "metadata.name",
            "metadata.namespace",
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        }
    ),
    "Secret": frozenset({"metadata.name", "metadata.namespace", "type"}),
    "Namespace": frozenset({"metadata.name", "status.phase"}),
    "ReplicaSet": frozenset({"metadata.name", "metadata.namespace", "status.replicas"}),
    "Job": frozenset({"metadata.name", "metadata.namespace", "status.successful"}),
}
"""The field labels each kind supports (others support metadata.name and metadata.namespace)."""

DEFAULT_FIELD_LABELS = frozenset({"metadata.name", "metadata.namespace"})
