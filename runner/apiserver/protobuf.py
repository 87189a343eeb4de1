"""Kubernetes protobuf request bodies (``application/vnd.kubernetes.protobuf``) to JSON.

kubectl's typed generators (``kubectl create configmap|secret|namespace|serviceaccount|
deployment|poddisruptionbudget``) send
their object as protobuf: the magic ``k8s\\x00``, then a ``runtime.Unknown`` holding the type
(apiVersion, kind) and the object's own message. The machine speaks JSON only, so the runner
decodes such a body here and hands the machine the JSON kube's JSON codec would have written.

The wire decoding is the ``protobuf`` library's; the message layouts (field numbers and types of
the few kinds decoded) are written out below from Kubernetes' published API (``generated.proto``
of k8s.io/api and k8s.io/apimachinery, v1.35). A kind not listed here answers 415, naming the
media types that work.
"""

from __future__ import annotations

import base64
from typing import Any, Final

import msgspec
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError, Message

from models.apiserver.clock import rfc3339

MAGIC: Final = b"k8s\x00"
MEDIA_TYPE: Final = "application/vnd.kubernetes.protobuf"
_PACKAGE: Final = "kubeoracle.k8s"

# (number, name, type, message type or "", repeated). Types: string, bytes, bool, int32, int64,
# message, or map:<value type> (map<string, value>). bool, int32 and int64 are Go pointer fields
# (written only when set, kept even when zero); bool_v, int32_v and int64_v are Go value fields
# with ``omitempty`` (always written, left out of the JSON when zero).
Field = tuple[int, str, str, str, bool]
_OBJECT_META: Final[tuple[Field, ...]] = (
    (1, "name", "string", "", False),
    (2, "generateName", "string", "", False),
    (3, "namespace", "string", "", False),
    (5, "uid", "string", "", False),
    (6, "resourceVersion", "string", "", False),
    (7, "generation", "int64", "", False),
    (8, "creationTimestamp", "message", "Time", False),
    (9, "deletionTimestamp", "message", "Time", False),
    (10, "deletionGracePeriodSeconds", "int64", "", False),
    (11, "labels", "map:string", "", False),
    (12, "annotations", "map:string", "", False),
    (13, "ownerReferences", "message", "OwnerReference", True),
    (14, "finalizers", "string", "", True),
)


def _strings(*names: str, repeated: bool = False) -> tuple[Field, ...]:
    return tuple(
        (number, name, "string", "", repeated) for number, name in enumerate(names, start=1)
    )


_SERVICE_MESSAGES: Final[dict[str, tuple[Field, ...]]] = {
    "IntOrString": (
        (1, "type", "int64", "", False),
        (2, "intVal", "int32", "", False),
        (3, "strVal", "string", "", False),
    ),
    "ServicePort": (
        (1, "name", "string", "", False),
        (2, "protocol", "string", "", False),
        (3, "port", "int32", "", False),
        (4, "targetPort", "message", "IntOrString", False),
        (5, "nodePort", "int32_v", "", False),
        (6, "appProtocol", "string", "", False),
    ),
    "ClientIPConfig": ((1, "timeoutSeconds", "int32", "", False),),
    "SessionAffinityConfig": ((1, "clientIP", "message", "ClientIPConfig", False),),
    "ServiceSpec": (
        (1, "ports", "message", "ServicePort", True),
        (2, "selector", "map:string", "", False),
        (3, "clusterIP", "string", "", False),
        (4, "type", "string", "", False),
        (5, "externalIPs", "string", "", True),
        (7, "sessionAffinity", "string", "", False),
        (8, "loadBalancerIP", "string", "", False),
        (9, "loadBalancerSourceRanges", "string", "", True),
        (10, "externalName", "string", "", False),
        (11, "externalTrafficPolicy", "string", "", False),
        (12, "healthCheckNodePort", "int32_v", "", False),
        (13, "publishNotReadyAddresses", "bool_v", "", False),
        (14, "sessionAffinityConfig", "message", "SessionAffinityConfig", False),
        (17, "ipFamilyPolicy", "string", "", False),
        (18, "clusterIPs", "string", "", True),
        (19, "ipFamilies", "string", "", True),
        (20, "allocateLoadBalancerNodePorts", "bool", "", False),
        (21, "loadBalancerClass", "string", "", False),
        (22, "internalTrafficPolicy", "string", "", False),
        (23, "trafficDistribution", "string", "", False),
    ),
    "Service": (
        (1, "metadata", "message", "ObjectMeta", False),
        (2, "spec", "message", "ServiceSpec", False),
    ),
}
"""v1 Service: what ``kubectl create service clusterip|nodeport|loadbalancer|externalname``
sends (its status, always empty there, is not decoded)."""

_BATCH_MESSAGES: Final[dict[str, tuple[Field, ...]]] = {
    "JobSpec": (
        (1, "parallelism", "int32", "", False),
        (2, "completions", "int32", "", False),
        (3, "activeDeadlineSeconds", "int64", "", False),
        (4, "selector", "message", "LabelSelector", False),
        (5, "manualSelector", "bool", "", False),
        (6, "template", "message", "PodTemplateSpec", False),
        (7, "backoffLimit", "int32", "", False),
        (8, "ttlSecondsAfterFinished", "int32", "", False),
        (9, "completionMode", "string", "", False),
        (10, "suspend", "bool", "", False),
        (12, "backoffLimitPerIndex", "int32", "", False),
        (13, "maxFailedIndexes", "int32", "", False),
        (14, "podReplacementPolicy", "string", "", False),
        (15, "managedBy", "string", "", False),
    ),
    "Job": (
        (1, "metadata", "message", "ObjectMeta", False),
        (2, "spec", "message", "JobSpec", False),
    ),
}
"""batch/v1 Job: what ``kubectl create job`` sends."""

_PDB_MESSAGES: Final[dict[str, tuple[Field, ...]]] = {
    "PodDisruptionBudgetSpec": (
        (1, "minAvailable", "message", "IntOrString", False),
        (2, "selector", "message", "LabelSelector", False),
        (3, "maxUnavailable", "message", "IntOrString", False),
        (4, "unhealthyPodEvictionPolicy", "string", "", False),
    ),
    "PodDisruptionBudget": (
        (1, "metadata", "message", "ObjectMeta", False),
        (2, "spec", "message", "PodDisruptionBudgetSpec", False),
    ),
}
"""policy/v1 PodDisruptionBudget: what ``kubectl create pdb`` sends (its empty status is
not decoded)."""

_POLICY_MESSAGES: Final[dict[str, tuple[Field, ...]]] = {
    "ScopedResourceSelectorRequirement": (
        (1, "scopeName", "string", "", False),
        (2, "operator", "string", "", False),
        (3, "values", "string", "", True),
    ),
    "ScopeSelector": (
        (1, "matchExpressions", "message", "ScopedResourceSelectorRequirement", True),
    ),
    "ResourceQuotaSpec": (
        (1, "hard", "map:message:Quantity", "", False),
        (2, "scopes", "string", "", True),
        (3, "scopeSelector", "message", "ScopeSelector", False),
    ),
    "ResourceQuota": (
        (1, "metadata", "message", "ObjectMeta", False),
        (2, "spec", "message", "ResourceQuotaSpec", False),
    ),
    "PriorityClass": (
        (1, "metadata", "message", "ObjectMeta", False),
        (2, "value", "int32", "", False),
        (3, "globalDefault", "bool_v", "", False),
        (4, "description", "string", "", False),
        (5, "preemptionPolicy", "string", "", False),
    ),
}
"""v1 ResourceQuota and scheduling.k8s.io/v1 PriorityClass: what ``kubectl create quota`` and
``kubectl create priorityclass`` send."""

_REVIEW_MESSAGES: Final[dict[str, tuple[Field, ...]]] = {
    "ResourceAttributes": _strings(
        "namespace", "verb", "group", "version", "resource", "subresource", "name"
    ),
    "NonResourceAttributes": _strings("path", "verb"),
    "SelfSubjectAccessReviewSpec": (
        (1, "resourceAttributes", "message", "ResourceAttributes", False),
        (2, "nonResourceAttributes", "message", "NonResourceAttributes", False),
    ),
    "SubjectAccessReviewSpec": (
        (1, "resourceAttributes", "message", "ResourceAttributes", False),
        (2, "nonResourceAttributes", "message", "NonResourceAttributes", False),
        (3, "user", "string", "", False),
        (4, "groups", "string", "", True),
        (6, "uid", "string", "", False),
    ),
    "SelfSubjectRulesReviewSpec": _strings("namespace"),
    "SelfSubjectAccessReview": (
        (1, "metadata", "message", "ObjectMeta", False),
        (2, "spec", "message", "SelfSubjectAccessReviewSpec", False),
    ),
    "SubjectAccessReview": (
        (1, "metadata", "message", "ObjectMeta", False),
        (2, "spec", "message", "SubjectAccessReviewSpec", False),
    ),
    "LocalSubjectAccessReview": (
        (1, "metadata", "message", "ObjectMeta", False),
        (2, "spec", "message", "SubjectAccessReviewSpec", False),
    ),
    "SelfSubjectRulesReview": (
        (1, "metadata", "message", "ObjectMeta", False),
        (2, "spec", "message", "SelfSubjectRulesReviewSpec", False),
    ),
    "SelfSubjectReview": ((1, "metadata", "message", "ObjectMeta", False),),
    "BoundObjectReference": _strings("kind", "apiVersion", "name", "uid"),
    "TokenRequestSpec": (
        (1, "audiences", "string", "", True),
        (3, "boundObjectRef", "message", "BoundObjectReference", False),
        (4, "expirationSeconds", "int64", "", False),
    ),
    "TokenRequest": (
        (1, "metadata", "message", "ObjectMeta", False),
        (2, "spec", "message", "TokenRequestSpec", False),
    ),
}
"""authorization.k8s.io/v1 and authentication.k8s.io/v1: what ``kubectl auth`` and ``kubectl
create token`` send."""

_RBAC_MESSAGES: Final[dict[str, tuple[Field, ...]]] = {
    "PolicyRule": _strings(
        "verbs", "apiGroups", "resources", "resourceNames", "nonResourceURLs", repeated=True
    ),
    "AggregationRule": ((1, "clusterRoleSelectors", "message", "LabelSelector", True),),
    "Subject": _strings("kind", "apiGroup", "name", "namespace"),
    "RoleRef": _strings("apiGroup", "kind", "name"),
    "Role": (
        (1, "metadata", "message", "ObjectMeta", False),
        (2, "rules", "message", "PolicyRule", True),
    ),
    "ClusterRole": (
        (1, "metadata", "message", "ObjectMeta", False),
        (2, "rules", "message", "PolicyRule", True),
        (3, "aggregationRule", "message", "AggregationRule", False),
    ),
    "RoleBinding": (
        (1, "metadata", "message", "ObjectMeta", False),
        (2, "subjects", "message", "Subject", True),
        (3, "roleRef", "message", "RoleRef", False),
    ),
    "ClusterRoleBinding": (
        (1, "metadata", "message", "ObjectMeta", False),
        (2, "subjects", "message", "Subject", True),
        (3, "roleRef", "message", "RoleRef", False),
    ),
}
"""rbac.authorization.k8s.io/v1: what ``kubectl create role|clusterrole|rolebinding|
clusterrolebinding`` send."""

MESSAGES: Final[dict[str, tuple[Field, ...]]] = {
    "Unknown": (
        (1, "typeMeta", "message", "TypeMeta", False),
        (2, "raw", "bytes", "", False),
        (3, "contentEncoding", "string", "", False),
        (4, "contentType", "string", "", False),
    ),
    "TypeMeta": ((1, "apiVersion", "string", "", False), (2, "kind", "string", "", False)),
    "Time": ((1, "seconds", "int64", "", False), (2, "nanos", "int32", "", False)),
    "OwnerReference": (
        (1, "kind", "string", "", False),
        (3, "name", "string", "", False),
        (4, "uid", "string", "", False),
        (5, "apiVersion", "string", "", False),
        (6, "controller", "bool", "", False),
        (7, "blockOwnerDeletion", "bool", "", False),
    ),
    "ObjectMeta": _OBJECT_META,
    "ObjectReference": tuple(
        (number, name, "string", "", False)
        for number, name in enumerate(
            ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath"),
            start=1,
        )
    ),
    "LocalObjectReference": ((1, "name", "string", "", False),),
    "ConfigMap": (
        (1, "metadata", "message", "ObjectMeta", False),
        (2, "data", "map:string", "", False),
        (3, "binaryData", "map:bytes", "", False),
        (4, "immutable", "bool", "", False),
    ),
    "Secret": (
        (1, "metadata", "message", "ObjectMeta", False),
        (2, "data", "map:bytes", "", False),
        (3, "type", "string", "", False),
        (4, "stringData", "map:string", "", False),
        (5, "immutable", "bool", "", False),
    ),
    "NamespaceSpec": ((1, "finalizers", "string", "", True),),
    "NamespaceStatus": ((1, "phase", "string", "", False),),
    "Namespace": (
        (1, "metadata", "message", "ObjectMeta", False),
        (2, "spec", "message", "NamespaceSpec", False),
        (3, "status", "message", "NamespaceStatus", False),
    ),
    "LabelSelectorRequirement": (
        (1, "key", "string", "", False),
        (2, "operator", "string", "", False),
        (3, "values", "string", "", True),
    ),
    "LabelSelector": (
        (1, "matchLabels", "map:string", "", False),
        (2, "matchExpressions", "message", "LabelSelectorRequirement", True),
    ),
    "Quantity": ((1, "string", "string", "", False),),
    "ContainerPort": (
        (1, "name", "string", "", False),
        (2, "hostPort", "int32_v", "", False),
        (3, "containerPort", "int32", "", False),
        (4, "protocol", "string", "", False),
        (5, "hostIP", "string", "", False),
    ),
    "ResourceRequirements": (
        (1, "limits", "map:message:Quantity", "", False),
        (2, "requests", "map:message:Quantity", "", False),
    ),
    "Container": (
        (1, "name", "string", "", False),
        (2, "image", "string", "", False),
        (3, "command", "string", "", True),
        (4, "args", "string", "", True),
        (5, "workingDir", "string", "", False),
        (6, "ports", "message", "ContainerPort", True),
        (8, "resources", "message", "ResourceRequirements", False),
        (13, "terminationMessagePath", "string", "", False),
        (14, "imagePullPolicy", "string", "", False),
        (16, "stdin", "bool_v", "", False),
        (17, "stdinOnce", "bool_v", "", False),
        (18, "tty", "bool_v", "", False),
        (20, "terminationMessagePolicy", "string", "", False),
        (24, "restartPolicy", "string", "", False),
    ),
    "PodSpec": (
        (2, "containers", "message", "Container", True),
        (3, "restartPolicy", "string", "", False),
        (4, "terminationGracePeriodSeconds", "int64", "", False),
        (6, "dnsPolicy", "string", "", False),
        (7, "nodeSelector", "map:string", "", False),
        (8, "serviceAccountName", "string", "", False),
        (10, "nodeName", "string", "", False),
        (11, "hostNetwork", "bool_v", "", False),
        (12, "hostPID", "bool_v", "", False),
        (13, "hostIPC", "bool_v", "", False),
        (19, "schedulerName", "string", "", False),
        (20, "initContainers", "message", "Container", True),
    ),
    "PodTemplateSpec": (
        (1, "metadata", "message", "ObjectMeta", False),
        (2, "spec", "message", "PodSpec", False),
    ),
    "DeploymentStrategy": ((1, "type", "string", "", False),),
    "DeploymentSpec": (
        (1, "replicas", "int32", "", False),
        (2, "selector", "message", "LabelSelector", False),
        (3, "template", "message", "PodTemplateSpec", False),
        (4, "strategy", "message", "DeploymentStrategy", False),
        (5, "minReadySeconds", "int32_v", "", False),
        (6, "revisionHistoryLimit", "int32", "", False),
        (7, "paused", "bool_v", "", False),
        (9, "progressDeadlineSeconds", "int32", "", False),
    ),
    "DeploymentStatus": tuple(
        (number, name, "int64_v" if number == 1 else "int32_v", "", False)
        for number, name in (
            (1, "observedGeneration"),
            (2, "replicas"),
            (3, "updatedReplicas"),
            (4, "availableReplicas"),
            (5, "unavailableReplicas"),
            (7, "readyReplicas"),
        )
    ),
    "Deployment": (
        (1, "metadata", "message", "ObjectMeta", False),
        (2, "spec", "message", "DeploymentSpec", False),
        (3, "status", "message", "DeploymentStatus", False),
    ),
    "ServiceAccount": (
        (1, "metadata", "message", "ObjectMeta", False),
        (2, "secrets", "message", "ObjectReference", True),
        (3, "imagePullSecrets", "message", "LocalObjectReference", True),
        (4, "automountServiceAccountToken", "bool", "", False),
    ),
    **_REVIEW_MESSAGES,
    **_RBAC_MESSAGES,
    **_SERVICE_MESSAGES,
    **_BATCH_MESSAGES,
    **_PDB_MESSAGES,
    **_POLICY_MESSAGES,
}
DECODED_KINDS: Final = {
    ("v1", "ConfigMap"),
    ("v1", "Secret"),
    ("v1", "Namespace"),
    ("v1", "ServiceAccount"),
    ("apps/v1", "Deployment"),
    ("v1", "Service"),
    ("batch/v1", "Job"),
    ("policy/v1", "PodDisruptionBudget"),
    ("v1", "ResourceQuota"),
    ("scheduling.k8s.io/v1", "PriorityClass"),
    *(
        ("authorization.k8s.io/v1", kind)
        for kind in (
            "SelfSubjectAccessReview",
            "SubjectAccessReview",
            "LocalSubjectAccessReview",
            "SelfSubjectRulesReview",
        )
    ),
    ("authentication.k8s.io/v1", "SelfSubjectReview"),
    ("authentication.k8s.io/v1", "TokenRequest"),
    *(
        ("rbac.authorization.k8s.io/v1", kind)
        for kind in ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")
    ),
}

_TYPES: Final = {
    "string": descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
    "bytes": descriptor_pb2.FieldDescriptorProto.TYPE_BYTES,
    "bool": descriptor_pb2.FieldDescriptorProto.TYPE_BOOL,
    "int32": descriptor_pb2.FieldDescriptorProto.TYPE_INT32,
    "int64": descriptor_pb2.FieldDescriptorProto.TYPE_INT64,
    "bool_v": descriptor_pb2.FieldDescriptorProto.TYPE_BOOL,
    "int32_v": descriptor_pb2.FieldDescriptorProto.TYPE_INT32,
    "int64_v": descriptor_pb2.FieldDescriptorProto.TYPE_INT64,
    "message": descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE,
}
_OPTIONAL: Final = descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL
_REPEATED: Final = descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED


class Undecodable(msgspec.Struct, frozen=True, kw_only=True):
    """A protobuf body this server cannot turn into JSON: malformed (400), or of a kind not
    decoded here (415)."""

    message: str
    malformed: bool


def _add_field(
    message: descriptor_pb2.DescriptorProto, number: int, name: str, kind: str, target: str
) -> None:
    field = message.field.add(name=name, number=number, json_name=name)
    if kind.startswith("map:"):
        entry = message.nested_type.add(name=name[0].upper() + name[1:] + "Entry")
        entry.options.map_entry = True
        entry.field.add(name="key", number=1, type=_TYPES["string"], label=_OPTIONAL)
        value_kind, _, value_target = kind[4:].partition(":")
        value = entry.field.add(name="value", number=2, type=_TYPES[value_kind], label=_OPTIONAL)
        if value_target:
            value.type_name = f".{_PACKAGE}.{value_target}"
        field.type = _TYPES["message"]
        field.type_name = f".{_PACKAGE}.{message.name}.{entry.name}"
        field.label = _REPEATED
        return
    field.type = _TYPES[kind]
    if target:
        field.type_name = f".{_PACKAGE}.{target}"


def _message_classes() -> dict[str, type[Message]]:
    file = descriptor_pb2.FileDescriptorProto(
        name="kubeoracle_k8s.proto", package=_PACKAGE, syntax="proto2"
    )
    for message_name, fields in MESSAGES.items():
        message = file.message_type.add(name=message_name)
        for number, name, kind, target, repeated in fields:
            _add_field(message, number, name, kind, target)
            if not kind.startswith("map:"):
                message.field[-1].label = _REPEATED if repeated else _OPTIONAL
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return {
        name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_PACKAGE}.{name}"))
        for name in MESSAGES
    }


_CLASSES: Final = _message_classes()


def _value(kind: str, target: str, value: Any) -> Any:
    if kind == "message":
        return _to_json(target, value)
    if kind.startswith("map:message:"):
        return _to_json(kind[len("map:message:") :], value)
    if kind in ("bytes", "map:bytes"):
        return base64.b64encode(value).decode("ascii")
    return value


def _to_json(message_name: str, message: Message) -> Any:
    if message_name == "Time":  # Go writes a zero time as an empty message; JSON says null
        return rfc3339(int(message.seconds)) if message.ListFields() else None  # type: ignore[attr-defined]
    if message_name == "Quantity":
        return str(message.string)  # type: ignore[attr-defined]
    if message_name == "IntOrString":  # Go writes every field; JSON holds the one in use
        if message.type == 1:  # type: ignore[attr-defined]
            return str(message.strVal)  # type: ignore[attr-defined]
        return int(message.intVal)  # type: ignore[attr-defined]
    fields = {
        name: (kind, target, repeated) for _, name, kind, target, repeated in MESSAGES[message_name]
    }
    result: dict[str, Any] = {}
    for descriptor, value in message.ListFields():
        kind, target, repeated = fields[descriptor.name]
        if kind.startswith("map:"):
            result[descriptor.name] = {key: _value(kind, "", value[key]) for key in value}
        elif repeated:
            result[descriptor.name] = [_value(kind, target, item) for item in value]
        elif not _go_zero(kind, descriptor.name, value):
            result[descriptor.name] = _value(kind, target, value)
    return result


def _go_zero(kind: str, name: str, value: Any) -> bool:
    """A value Go's protobuf marshalling always writes but its JSON (``omitempty``) leaves out:
    an empty non-pointer string, a zero ``generation``. Pointer fields (optional bools and
    ints) are written only when set, so their zero values stay."""
    return (
        (kind == "string" and value == "")
        or (kind.endswith("_v") and not value)
        or (name == "generation" and value == 0)
    )


def decode_object(body: bytes) -> dict[str, Any] | Undecodable:
    """The JSON object a protobuf body carries, with its apiVersion and kind."""
    if not body.startswith(MAGIC):
        return Undecodable(
            message="provided data does not appear to be a protobuf message, "
            "expected prefix [107 56 115 0]",
            malformed=True,
        )
    try:
        unknown = _CLASSES["Unknown"].FromString(body[len(MAGIC) :])
        type_meta = unknown.typeMeta  # type: ignore[attr-defined]
        api_version, kind = str(type_meta.apiVersion), str(type_meta.kind)
        if (api_version, kind) not in DECODED_KINDS:
            return Undecodable(
                message=f"no protobuf decoding for {api_version}, Kind={kind}", malformed=False
            )
        obj = _CLASSES[kind].FromString(unknown.raw)  # type: ignore[attr-defined]
    except DecodeError as error:
        return Undecodable(message=f"malformed protobuf body: {error}", malformed=True)
    return {"apiVersion": api_version, "kind": kind, **_to_json(kind, obj)}
