"""Validation of objects on create and update, with kube's field paths and wording.

``validate_create``/``validate_update`` give the ``FieldError``s that make kube-apiserver
answer 422 Invalid: object names (DNS subdomain, DNS label for namespaces, DNS-1035 label for
services), labels and annotations, ``metadata`` rules (immutable uid/creationTimestamp, no new
finalizers once deleting), and per-kind rules: a pod's containers, a workload's selector
against its template labels, a service's ports, RBAC rules and role references, a CRD's names
and versions. The set is the rules kube enforces most often, not every rule of ``validation.go``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

import msgspec
from returns.pipeline import is_successful

from impl.apiserver import admission_policy, kind_rules, priority_classes
from models.field_errors import FieldError, FieldErrorType, forbidden, invalid, required
from models.k8s.base import decode_hook
from models.label_validation import (
    dns1123_subdomain_errors,
    label_key_errors,
    label_value_errors,
    regex_error,
)
from models.selectors import LabelSelector, label_selector_as_selector

Json = dict[str, Any]

_DNS1123_LABEL: Final = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1035_LABEL: Final = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_DNS1123_LABEL_FORMAT: Final = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1035_LABEL_FORMAT: Final = "[a-z]([-a-z0-9]*[a-z0-9])?"
_CONFIG_KEY: Final = re.compile(r"[-._a-zA-Z0-9]+")
IMMUTABLE: Final = "field is immutable"


def dns1123_label_errors(value: str) -> tuple[str, ...]:
    errors: list[str] = []
    if len(value) > 63:
        errors.append("must be no more than 63 characters")
    if _DNS1123_LABEL.fullmatch(value) is None:
        errors.append(
            regex_error(
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters "
                "or '-', and must start and end with an alphanumeric character",
                _DNS1123_LABEL_FORMAT,
                "my-name",
                "123-abc",
            )
        )
    return tuple(errors)


def dns1035_label_errors(value: str) -> tuple[str, ...]:
    errors: list[str] = []
    if len(value) > 63:
        errors.append("must be no more than 63 characters")
    if _DNS1035_LABEL.fullmatch(value) is None:
        errors.append(
            regex_error(
                "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
                "start with an alphabetic character, and end with an alphanumeric character",
                _DNS1035_LABEL_FORMAT,
                "my-name",
                "abc-123",
            )
        )
    return tuple(errors)


def path_segment_errors(value: str) -> tuple[str, ...]:
    """``path.IsValidPathSegmentName``: the RBAC kinds' names (``system:discovery``)."""
    if value in (".", ".."):
        return (f"may not be '{value}'",)
    return tuple(f"may not contain '{c}'" for c in "/%" if c in value)


NAME_RULES: Final[dict[str, Callable[[str], tuple[str, ...]]]] = {
    "Namespace": dns1123_label_errors,
    "Service": dns1035_label_errors,
    "Role": path_segment_errors,
    "ClusterRole": path_segment_errors,
    "RoleBinding": path_segment_errors,
    "ClusterRoleBinding": path_segment_errors,
}


def _dict(value: object) -> Json:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def validate_metadata(kind: str, obj: Json, namespaced: bool) -> list[FieldError]:
    """``ValidateObjectMeta``: name, namespace, labels, annotations, finalizers."""
    metadata = _dict(obj.get("metadata"))
    errors: list[FieldError] = []
    name = metadata.get("name")
    if not name:
        errors.append(required("metadata.name", "name or generateName is required"))
    else:
        rule = NAME_RULES.get(kind, dns1123_subdomain_errors)
        errors.extend(invalid("metadata.name", name, message) for message in rule(str(name)))
    if namespaced and not metadata.get("namespace"):
        errors.append(required("metadata.namespace", ""))
    if not namespaced and metadata.get("namespace"):
        errors.append(forbidden("metadata.namespace", "not allowed on this type"))
    errors.extend(validate_labels(_dict(metadata.get("labels")), "metadata.labels"))
    annotations = _dict(metadata.get("annotations"))
    for key in sorted(annotations):
        for message in label_key_errors(key):
            errors.append(invalid("metadata.annotations", key, message))
    total = sum(len(key) + len(str(value)) for key, value in annotations.items())
    if total > 256 * 1024:
        errors.append(
            FieldError(
                type=FieldErrorType.INVALID,
                field="metadata.annotations",
                detail=f"must have at most {256 * 1024} bytes",
            )
        )
    controllers = [
        ref for ref in _list(metadata.get("ownerReferences")) if _dict(ref).get("controller")
    ]
    if len(controllers) > 1:
        errors.append(
            invalid(
                "metadata.ownerReferences",
                None,
                "Only one reference can have Controller set to true",
            )
        )
    for index, reference in enumerate(_list(metadata.get("ownerReferences"))):
        for field in ("apiVersion", "kind", "name", "uid"):
            if not _dict(reference).get(field):
                errors.append(required(f"metadata.ownerReferences[{index}].{field}", ""))
    return errors


def validate_labels(labels: Json, path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    for key in sorted(labels):
        errors.extend(invalid(path, key, message) for message in label_key_errors(key))
        value = str(labels[key])
        errors.extend(invalid(f"{path}", value, message) for message in label_value_errors(value))
    return errors


def _containers(spec: Json, path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    containers = _list(spec.get("containers"))
    if not containers:
        errors.append(required(f"{path}.containers", ""))
    seen: set[str] = set()
    for key in ("initContainers", "containers"):
        for index, raw in enumerate(_list(spec.get(key))):
            container = _dict(raw)
            where = f"{path}.{key}[{index}]"
            name = container.get("name")
            if not name:
                errors.append(required(f"{where}.name", ""))
            else:
                errors.extend(
                    invalid(f"{where}.name", name, m) for m in dns1123_label_errors(str(name))
                )
                if name in seen:
                    errors.append(
                        FieldError(
                            type=FieldErrorType.DUPLICATE,
                            field=f"{where}.name",
                            bad_value=str(name),
                            shows_value=True,
                        )
                    )
                seen.add(str(name))
            if not container.get("image"):
                errors.append(required(f"{where}.image", ""))
            for p_index, port in enumerate(_list(container.get("ports"))):
                number = _dict(port).get("containerPort")
                if not isinstance(number, int) or not 0 < number < 65536:
                    errors.append(
                        invalid(
                            f"{where}.ports[{p_index}].containerPort",
                            number if isinstance(number, int) else None,
                            "must be between 1 and 65535, inclusive",
                        )
                    )
    return errors


_RESTART_POLICIES: Final = ("Always", "OnFailure", "Never")


def validate_pod_spec(spec: Json, path: str) -> list[FieldError]:
    errors = _containers(spec, path)
    policy = spec.get("restartPolicy")
    if policy is not None and policy not in _RESTART_POLICIES:
        errors.append(
            FieldError(
                type=FieldErrorType.NOT_SUPPORTED,
                field=f"{path}.restartPolicy",
                bad_value=str(policy),
                shows_value=True,
                detail='supported values: "Always", "OnFailure", "Never"',
            )
        )
    grace = spec.get("terminationGracePeriodSeconds")
    if isinstance(grace, int) and grace < 0:
        errors.append(
            invalid(
                f"{path}.terminationGracePeriodSeconds", grace, "must be greater than or equal to 0"
            )
        )
    return errors


def _selector_errors(spec: Json, path: str, template_required: bool = True) -> list[FieldError]:
    errors: list[FieldError] = []
    selector_json = spec.get("selector")
    if not isinstance(selector_json, dict):
        return [required(f"{path}.selector", "")]
    if not selector_json.get("matchLabels") and not selector_json.get("matchExpressions"):
        errors.append(invalid(f"{path}.selector", None, "empty selector is invalid for deployment"))
    template = _dict(spec.get("template"))
    labels = _dict(_dict(template.get("metadata")).get("labels"))
    if template_required:
        try:
            selector_model = msgspec.convert(selector_json, LabelSelector, dec_hook=decode_hook)
        except msgspec.ValidationError:
            return [*errors, invalid(f"{path}.selector", None, "invalid label selector")]
        converted = label_selector_as_selector(selector_model)
        if is_successful(converted) and not converted.unwrap().matches(labels):
            errors.append(
                invalid(
                    f"{path}.template.metadata.labels",
                    _labels_text(labels),
                    "`selector` does not match template `labels`",
                )
            )
    return errors


def _labels_text(labels: Json) -> str:
    return "map[" + " ".join(f"{key}:{labels[key]}" for key in sorted(labels)) + "]"


def _replicas(spec: Json, path: str) -> list[FieldError]:
    replicas = spec.get("replicas")
    if isinstance(replicas, int) and replicas < 0:
        return [invalid(f"{path}.replicas", replicas, "must be greater than or equal to 0")]
    return []


def _workload(obj: Json) -> list[FieldError]:
    spec = _dict(obj.get("spec"))
    errors = _replicas(spec, "spec") + _selector_errors(spec, "spec")
    template = _dict(spec.get("template"))
    errors.extend(validate_pod_spec(_dict(template.get("spec")), "spec.template.spec"))
    policy = _dict(template.get("spec")).get("restartPolicy")
    if policy is not None and policy != "Always":
        errors.append(
            FieldError(
                type=FieldErrorType.NOT_SUPPORTED,
                field="spec.template.spec.restartPolicy",
                bad_value=str(policy),
                shows_value=True,
                detail='supported values: "Always"',
            )
        )
    return errors


def _job(obj: Json) -> list[FieldError]:
    spec = _dict(obj.get("spec"))
    template = _dict(spec.get("template"))
    pod_spec = _dict(template.get("spec"))
    errors = validate_pod_spec(pod_spec, "spec.template.spec")
    if pod_spec.get("restartPolicy") not in ("OnFailure", "Never"):
        errors.append(
            FieldError(
                type=FieldErrorType.NOT_SUPPORTED,
                field="spec.template.spec.restartPolicy",
                bad_value=str(pod_spec.get("restartPolicy")),
                shows_value=True,
                detail='supported values: "OnFailure", "Never"',
            )
        )
    for field in ("parallelism", "completions", "backoffLimit"):
        value = spec.get(field)
        if isinstance(value, int) and value < 0:
            errors.append(invalid(f"spec.{field}", value, "must be greater than or equal to 0"))
    return errors


def _service(obj: Json) -> list[FieldError]:
    spec = _dict(obj.get("spec"))
    errors: list[FieldError] = []
    kind = spec.get("type", "ClusterIP")
    if kind not in ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName"):
        errors.append(
            FieldError(
                type=FieldErrorType.NOT_SUPPORTED,
                field="spec.type",
                bad_value=str(kind),
                shows_value=True,
                detail='supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"',
            )
        )
    ports = _list(spec.get("ports"))
    if kind != "ExternalName" and not ports and spec.get("clusterIP") != "None":
        errors.append(required("spec.ports", ""))
    for index, raw in enumerate(ports):
        port = _dict(raw).get("port")
        if not isinstance(port, int) or not 0 < port < 65536:
            errors.append(
                invalid(
                    f"spec.ports[{index}].port",
                    port if isinstance(port, int) else None,
                    "must be between 1 and 65535, inclusive",
                )
            )
        if len(ports) > 1 and not _dict(raw).get("name"):
            errors.append(required(f"spec.ports[{index}].name", ""))
    return errors


def _config_map(obj: Json) -> list[FieldError]:
    errors: list[FieldError] = []
    data, binary = _dict(obj.get("data")), _dict(obj.get("binaryData"))
    for field, values in (("data", data), ("binaryData", binary)):
        for key in sorted(values):
            if _CONFIG_KEY.fullmatch(key) is None or len(key) > 253:
                errors.append(
                    invalid(
                        field,
                        key,
                        "a valid config key must consist of alphanumeric characters, "
                        "'-', '_' or '.'",
                    )
                )
            if field == "binaryData" and key in data:
                errors.append(invalid(field, key, "duplicate of key present in data"))
    return errors


def _rules(obj: Json) -> list[FieldError]:
    errors: list[FieldError] = []
    for index, raw in enumerate(_list(obj.get("rules"))):
        rule = _dict(raw)
        if not rule.get("verbs"):
            errors.append(
                required(f"rules[{index}].verbs", "verbs must contain at least one value")
            )
        if rule.get("nonResourceURLs") and obj.get("kind") == "Role":
            errors.append(
                invalid(
                    f"rules[{index}].nonResourceURLs",
                    None,
                    "namespaced rules cannot apply to non-resource URLs",
                )
            )
    return errors


def _binding(obj: Json) -> list[FieldError]:
    ref = _dict(obj.get("roleRef"))
    errors: list[FieldError] = []
    if not ref.get("name"):
        errors.append(required("roleRef.name", ""))
    if ref.get("kind") not in ("Role", "ClusterRole"):
        errors.append(
            FieldError(
                type=FieldErrorType.NOT_SUPPORTED,
                field="roleRef.kind",
                bad_value=str(ref.get("kind", "")),
                shows_value=True,
                detail='supported values: "Role", "ClusterRole"',
            )
        )
    for index, raw in enumerate(_list(obj.get("subjects"))):
        subject = _dict(raw)
        if not subject.get("name"):
            errors.append(required(f"subjects[{index}].name", ""))
    return errors


def _crd(obj: Json) -> list[FieldError]:
    spec = _dict(obj.get("spec"))
    names = _dict(spec.get("names"))
    errors: list[FieldError] = []
    group = str(spec.get("group", ""))
    if not group:
        errors.append(required("spec.group", ""))
    plural = str(names.get("plural", ""))
    if not plural:
        errors.append(required("spec.names.plural", ""))
    if not names.get("kind"):
        errors.append(required("spec.names.kind", ""))
    name = str(_dict(obj.get("metadata")).get("name", ""))
    if plural and group and name != f"{plural}.{group}":
        errors.append(invalid("metadata.name", name, 'must be spec.names.plural+"."+spec.group'))
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        errors.append(
            FieldError(
                type=FieldErrorType.NOT_SUPPORTED,
                field="spec.scope",
                bad_value=str(spec.get("scope", "")),
                shows_value=True,
                detail='supported values: "Cluster", "Namespaced"',
            )
        )
    versions = _list(spec.get("versions"))
    if not versions:
        errors.append(
            required("spec.versions", "must have exactly one version marked as storage version")
        )
    elif sum(1 for version in versions if _dict(version).get("storage")) != 1:
        errors.append(
            invalid(
                "spec.versions", None, "must have exactly one version marked as storage version"
            )
        )
    for index, raw in enumerate(versions):
        schema = _dict(_dict(_dict(raw).get("schema")).get("openAPIV3Schema"))
        if not schema and not spec.get("preserveUnknownFields"):
            errors.append(
                required(f"spec.versions[{index}].schema.openAPIV3Schema", "schemas are required")
            )
        elif schema and schema.get("type") != "object":
            errors.append(
                invalid(
                    f"spec.versions[{index}].schema.openAPIV3Schema.type",
                    schema.get("type") if isinstance(schema.get("type"), str) else None,
                    "must be object at the root",
                )
            )
    return errors


KIND_RULES: Final[dict[str, Callable[[Json], list[FieldError]]]] = {
    "Pod": lambda obj: validate_pod_spec(_dict(obj.get("spec")), "spec"),
    "Deployment": _workload,
    "ReplicaSet": _workload,
    "DaemonSet": _workload,
    "StatefulSet": lambda obj: _workload(obj) + kind_rules.stateful_set(obj),
    "PodDisruptionBudget": kind_rules.pod_disruption_budget,
    "Job": _job,
    "Service": _service,
    "ConfigMap": _config_map,
    "Role": _rules,
    "ClusterRole": _rules,
    "RoleBinding": _binding,
    "ClusterRoleBinding": _binding,
    "CustomResourceDefinition": _crd,
    "PriorityClass": priority_classes.validate,
    "ValidatingAdmissionPolicy": admission_policy.validate_policy,
    "ValidatingAdmissionPolicyBinding": admission_policy.validate_binding,
}


def validate_create(kind: str, obj: Json, namespaced: bool) -> list[FieldError]:
    errors = validate_metadata(kind, obj, namespaced)
    rule = KIND_RULES.get(kind)
    if rule is not None:
        errors.extend(rule(obj))
    return errors


_IMMUTABLE_FIELDS: Final[dict[str, tuple[tuple[str, ...], ...]]] = {
    "Deployment": (("spec", "selector"),),
    "ReplicaSet": (("spec", "selector"),),
    "DaemonSet": (("spec", "selector"),),
    "PodDisruptionBudget": (),
    "Job": (("spec", "selector"), ("spec", "template"), ("spec", "completions")),
    "RoleBinding": (("roleRef",),),
    "ClusterRoleBinding": (("roleRef",),),
    "CustomResourceDefinition": (("spec", "scope"),),
}


def _at(obj: Json, path: tuple[str, ...]) -> object:
    value: object = obj
    for step in path:
        value = _dict(value).get(step)
    return value


def validate_update(kind: str, new: Json, old: Json, namespaced: bool) -> list[FieldError]:
    """``ValidateObjectMetaUpdate`` plus the kind's create rules and immutable fields (a
    PriorityClass has its own update rules instead)."""
    if kind == "PriorityClass":
        errors = validate_metadata(kind, new, namespaced)
        errors.extend(priority_classes.validate_update(new, old))
    else:
        errors = validate_create(kind, new, namespaced)
    new_meta, old_meta = _dict(new.get("metadata")), _dict(old.get("metadata"))
    for field in ("uid", "creationTimestamp", "name", "namespace", "generateName"):
        if field in ("generateName",):
            continue
        if new_meta.get(field) != old_meta.get(field):
            value = new_meta.get(field)
            errors.append(
                invalid(f"metadata.{field}", value if isinstance(value, str) else None, IMMUTABLE)
            )
    if old_meta.get("deletionTimestamp"):
        added = set(_list(new_meta.get("finalizers"))) - set(_list(old_meta.get("finalizers")))
        if added:
            errors.append(
                forbidden(
                    "metadata.finalizers",
                    "no new finalizers can be added if the object is being deleted, "
                    f"found new finalizers {sorted(added)!r}",
                )
            )
    for path in _IMMUTABLE_FIELDS.get(kind, ()):
        if _at(new, path) != _at(old, path):
            errors.append(invalid(".".join(path), None, IMMUTABLE))
    if kind == "Pod":
        errors.extend(_pod_update(new, old))
    if kind == "StatefulSet":
        errors.extend(kind_rules.stateful_set_update(new, old))
    return errors


def _pod_update(new: Json, old: Json) -> list[FieldError]:
    """Only images, activeDeadlineSeconds, added tolerations and gates may change in a pod."""
    new_spec, old_spec = dict(_dict(new.get("spec"))), dict(_dict(old.get("spec")))
    for spec in (new_spec, old_spec):
        spec["containers"] = [
            {k: v for k, v in _dict(c).items() if k != "image"}
            for c in _list(spec.get("containers"))
        ]
        spec["initContainers"] = [
            {k: v for k, v in _dict(c).items() if k != "image"}
            for c in _list(spec.get("initContainers"))
        ]
        for mutable in (
            "activeDeadlineSeconds",
            "tolerations",
            "schedulingGates",
            "terminationGracePeriodSeconds",
        ):
            spec.pop(mutable, None)
    if new_spec != old_spec:
        return [
            forbidden(
                "spec",
                "pod updates may not change fields other than `spec.containers[*].image`,"
                "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
                "`spec.tolerations` (only additions to existing tolerations),"
                "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was "
                "previously negative)",
            )
        ]
    return []
