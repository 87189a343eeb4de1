"""Create, update and patch as decisions over the current object (kube's generic registry).

Theory of operation. A write request is decided against the object the server believes is
current (first from the watch cache, then, when that answer is a failure or the commit's
compare fails, from etcd): the decision is either an answer or writes guarded by the key's
``mod_revision``. The machine commits the writes in one etcd transaction; when the compare
fails it decides again with the object the transaction returned (kube's ``GuaranteedUpdate``
loop). Everything a decision needs (time, UID, generated names) is in the request's entropy.
"""

from __future__ import annotations

import copy
from typing import Any, Final

import msgspec

from impl.apiserver import defaults
from impl.apiserver.admission import admit_pod_create, taint_new_node
from impl.apiserver.bodies import Decoded, decode_object, field_validation, parse_body
from impl.apiserver.cache import objects_under
from impl.apiserver.context import Context, Decision, KeyWrite, Reply, Write, reply
from impl.apiserver.limit_ranger import apply_defaults, container_items
from impl.apiserver.limit_ranger import validate as validate_limits
from impl.apiserver.managed import record_update
from impl.apiserver.node_ports import allocate_node_ports
from impl.apiserver.objects import decode, encode, meta_str, metadata, stored_bytes
from impl.apiserver.pod_security import evaluate as evaluate_pod_security
from impl.apiserver.pod_security import namespace_refusal, namespace_warnings, workload_warnings
from impl.apiserver.priority_classes import QUALIFIED as PRIORITY_CLASSES
from impl.apiserver.priority_classes import admit as admit_priority_class
from impl.apiserver.quota import LIMITS_PREFIX
from impl.apiserver.quota_admission import admit_create as admit_quota
from impl.apiserver.quota_admission import quota_status
from impl.apiserver.service_ranges import cidr_bounds, ip_text, ips_in_use, range_writes
from impl.apiserver.structural import validate_values
from impl.apiserver.validation import validate_create, validate_update
from models.apiserver.resources import object_key
from models.apiserver.status import (
    MODIFIED,
    already_exists,
    bad_request,
    conflict,
    forbidden,
    generate_name_conflict,
    internal_error,
    invalid,
    not_found,
    resource_version_required,
)
from models.field_errors import FieldError, required
from models.field_errors import invalid as invalid_field
from models.k8s.meta_ops import Status, StatusCause

Json = dict[str, Any]
PRIORITY_CLASS_PREFIX: Final = "/registry/priorityclasses/"

NAMESPACE_MISMATCH: Final = (
    "the namespace of the provided object does not match the namespace sent on the request"
)
GENERATED_NAME_MAX: Final = 63
GENERATE_PREFIX_MAX: Final = 58
STATUS_KEEPS: Final = {
    "Deployment": ("labels",),
    "ReplicaSet": ("labels",),
    "StatefulSet": ("labels",),
    "DaemonSet": ("labels",),
    "Pod": ("ownerReferences",),
}
"""Metadata a ``/status`` write may not change, beyond spec (kube's status strategies)."""
GENERATION_KINDS: Final = frozenset(
    {
        "Pod",
        "Deployment",
        "ReplicaSet",
        "DaemonSet",
        "StatefulSet",
        "Job",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "EndpointSlice",
        "CustomResourceDefinition",
        "ValidatingAdmissionPolicy",
    }
)


class Current(msgspec.Struct, frozen=True):
    """The object a decision works from: plain JSON (resourceVersion set) and its revision.

    A decision may change ``obj`` in place: each decision gets its own decoded copy."""

    obj: Json
    mod_revision: int


def tracks_generation(ctx: Context) -> bool:
    return ctx.resource.custom or ctx.resource.kind in GENERATION_KINDS


def has_status(ctx: Context) -> bool:
    return ctx.resource.subresource("status") is not None


def _decode_body(ctx: Context, value: Any) -> Decoded | Status:
    mode = field_validation(ctx.request.param("fieldValidation"))
    if isinstance(mode, Status):
        return mode
    return decode_object(
        value,
        ctx.root_schema(),
        ctx.schemas,
        mode,
        ctx.resource.kind,
        ctx.resource.group_version,
        ctx.resource.custom,
    )


def check_type_meta(ctx: Context, obj: Json) -> Status | None:
    """The body's apiVersion/kind must name the resource's (when given)."""
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if kind and kind != ctx.resource.kind:
        return bad_request(
            f'{kind} in version "{ctx.resource.version}" cannot be handled as a '
            f'{ctx.resource.kind}: no kind "{kind}" is registered for version "{api_version}"'
        )
    if api_version and api_version != ctx.resource.group_version:
        return bad_request(
            f"the API version in the data ({api_version}) does not match the expected "
            f"API version ({ctx.resource.group_version})"
        )
    return None


def _set_type_meta(ctx: Context, obj: Json) -> None:
    obj["apiVersion"] = ctx.resource.group_version
    obj["kind"] = ctx.resource.kind


def namespace_problem(ctx: Context, name: str) -> Status | None:
    """NamespaceLifecycle admission: the namespace must exist and not be terminating."""
    if not ctx.resource.namespaced:
        return None
    key = f"/registry/namespaces/{ctx.info.namespace}"
    cached = ctx.cache.objects.get(key)
    if cached is None:
        return not_found("namespaces", ctx.info.namespace)
    namespace = decode(cached.value)
    if (
        metadata(namespace).get("deletionTimestamp")
        or namespace.get("status", {}).get("phase") == "Terminating"
    ):
        return forbidden(
            ctx.resource.qualified,
            name,
            f"unable to create new content in namespace {ctx.info.namespace} "
            "because it is being terminated",
            causes=(
                StatusCause(
                    reason="NamespaceTerminating",
                    message=f"namespace {ctx.info.namespace} is being terminated",
                    field="metadata.namespace",
                ),
            ),
        )
    return None


def _errors_status(ctx: Context, name: str, errors: list[FieldError]) -> Reply:
    return reply(invalid(ctx.resource.kind, ctx.resource.group, name, errors))


def _custom_errors(ctx: Context, obj: Json, decoded: Decoded) -> list[FieldError]:
    schema = ctx.root_schema()
    if not ctx.resource.custom or schema is None:
        return []
    return [*decoded.type_errors, *validate_values(obj, schema, ctx.schemas)]


def _prepare_create(ctx: Context, obj: Json) -> None:
    """kube's ``BeforeCreate`` and the kind's ``PrepareForCreate``."""
    meta = metadata(obj)
    for field in ("deletionTimestamp", "deletionGracePeriodSeconds", "resourceVersion", "selfLink"):
        meta.pop(field, None)
    meta["uid"] = ctx.entropy.uid
    meta["creationTimestamp"] = ctx.entropy.now
    if tracks_generation(ctx):
        meta["generation"] = 1
    else:
        meta.pop("generation", None)
    kind = ctx.resource.kind
    if has_status(ctx) and kind not in ("Node", "Pod", "Namespace", "Service"):
        obj.pop("status", None)
    if kind == "Pod":
        obj["status"] = {"phase": "Pending", "qosClass": _qos_class(obj)}
    elif kind == "Namespace":
        obj["status"] = {"phase": "Active"}
    elif kind == "Service":
        obj["status"] = {"loadBalancer": {}}
    elif kind == "CustomResourceDefinition":
        _crd_status(obj)
    elif kind == "Job":
        _generate_job_selector(obj)


def _generate_job_selector(job: Json) -> None:
    """The Job strategy's ``generateSelector`` unless ``spec.manualSelector``: the template
    gets the labels ``job-name``, ``batch.kubernetes.io/job-name``, ``controller-uid`` and
    ``batch.kubernetes.io/controller-uid`` (those not set), and the selector matches
    ``batch.kubernetes.io/controller-uid``."""
    spec = job.get("spec")
    if not isinstance(spec, dict) or spec.get("manualSelector") is True:
        return
    meta = metadata(job)
    template = spec.setdefault("template", {})
    if not isinstance(template, dict):
        return
    template_meta = template.setdefault("metadata", {})
    if not isinstance(template_meta, dict):
        return
    labels = template_meta.setdefault("labels", {})
    if not isinstance(labels, dict):
        return
    for key in ("job-name", "batch.kubernetes.io/job-name"):
        labels.setdefault(key, meta.get("name"))
    for key in ("controller-uid", "batch.kubernetes.io/controller-uid"):
        labels.setdefault(key, meta.get("uid"))
    selector = spec.setdefault("selector", {})
    if isinstance(selector, dict):
        match = selector.setdefault("matchLabels", {})
        if isinstance(match, dict):
            match.setdefault("batch.kubernetes.io/controller-uid", meta.get("uid"))


def _admit_pod(ctx: Context, pod: Json, name: str) -> Status | None:
    """The admission plugins on a pod being created, in kube's order: LimitRanger's defaults,
    ServiceAccount, DefaultTolerationSeconds; LimitRanger's checks, PodSecurity
    (``admission.py``, ``limit_ranger.py``); ResourceQuota runs after validation, for every
    kind (``quota_admission.py``)."""
    namespace_name = ctx.info.namespace
    policed = namespace_name in ctx.policy_namespaces

    def under(prefix: str) -> list[Json]:
        if not policed:
            return []
        found = objects_under(ctx.cache, f"{prefix}{namespace_name}/")
        return [decode(value.value) for _, value in found]

    items = container_items(under(LIMITS_PREFIX))
    if items:
        apply_defaults(items, pod)
        refused = validate_limits(items, pod, name)
        if refused is not None:
            return refused
    namespace = ctx.cache.objects.get(f"/registry/namespaces/{namespace_name}")
    spec = pod.get("spec")
    account_name = str(
        (spec if isinstance(spec, dict) else {}).get("serviceAccountName") or "default"
    )
    account = ctx.cache.objects.get(f"/registry/serviceaccounts/{namespace_name}/{account_name}")
    suffixes = ctx.entropy.name_suffixes
    return admit_pod_create(
        ctx.config.admission_plugins,
        pod,
        name,
        namespace_name,
        decode(namespace.value) if namespace else None,
        decode(account.value) if account else None,
        (suffixes[0] if suffixes else ctx.entropy.uid)[:5],
        _priority_classes(ctx) if "Priority" in ctx.config.admission_plugins else [],
    )


def _pod_security_warnings(ctx: Context, old: Json | None, new: Json) -> tuple[str, ...]:
    """PodSecurity's warnings on a write (``pod_security.py``): an admitted pod's, a workload's
    pod template's, or, for a namespace whose enforce level changes, its violating pods'."""
    if ctx.resource.custom:
        return ()
    kind = ctx.resource.kind
    if kind == "Namespace":
        if old is None:
            return ()
        prefix = f"/registry/pods/{meta_str(new, 'name')}/"

        def pods() -> list[tuple[str, Json]]:
            found = (decode(v.value) for _, v in objects_under(ctx.cache, prefix))
            return [(meta_str(pod, "name"), pod) for pod in found]

        return namespace_warnings(old, new, pods)
    cached = ctx.cache.objects.get(f"/registry/namespaces/{ctx.info.namespace}")
    namespace = decode(cached.value) if cached is not None else None
    if kind == "Pod":
        if old is not None:  # pod updates are not evaluated (see pod_security.py)
            return ()
        return evaluate_pod_security(namespace, new, meta_str(new, "name"), True).warnings
    return workload_warnings(namespace, kind, new)


def _admit_priority_class(ctx: Context, obj: Json, creating: bool) -> Status | None:
    """The Priority plugin's check of a PriorityClass write (one default at most)."""
    if ctx.resource.qualified != PRIORITY_CLASSES or "Priority" not in ctx.config.admission_plugins:
        return None
    return admit_priority_class(obj, creating, _priority_classes(ctx))


def _priority_classes(ctx: Context) -> list[Json]:
    return [decode(v.value) for _, v in objects_under(ctx.cache, PRIORITY_CLASS_PREFIX)]


def _qos_class(pod: Json) -> str:
    containers = [c for c in (pod.get("spec") or {}).get("containers") or [] if isinstance(c, dict)]
    requests_set = limits_set = False
    guaranteed = bool(containers)
    for container in containers:
        resources = container.get("resources") or {}
        requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
        requests_set = requests_set or bool(requests)
        limits_set = limits_set or bool(limits)
        for resource in ("cpu", "memory"):
            if resource not in limits or requests.get(resource, limits.get(resource)) != limits.get(
                resource
            ):
                guaranteed = False
    if not requests_set and not limits_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def _crd_status(crd: Json) -> None:
    """What kube's CRD controllers report at once for valid names: accepted and established."""
    spec = crd.get("spec") or {}
    storage = [
        v.get("name")
        for v in spec.get("versions") or []
        if isinstance(v, dict) and v.get("storage")
    ]
    crd["status"] = {
        "acceptedNames": copy.deepcopy(spec.get("names") or {}),
        "conditions": [
            {
                "type": "NamesAccepted",
                "status": "True",
                "reason": "NoConflicts",
                "message": "no conflicts found",
                "lastTransitionTime": metadata(crd).get("creationTimestamp"),
            },
            {
                "type": "Established",
                "status": "True",
                "reason": "InitialNamesAccepted",
                "message": "the initial names have been accepted",
                "lastTransitionTime": metadata(crd).get("creationTimestamp"),
            },
        ],
        "storedVersions": storage,
    }


def _allocate_cluster_ip(ctx: Context, obj: Json) -> Status | list[FieldError] | None:
    """A Service of type ClusterIP/NodePort/LoadBalancer gets the lowest free address of the
    range after the first (kube draws a random free one: any free address is allowed); free:
    neither recorded as taken nor held by a cached Service (``service_ranges``)."""
    spec = obj.setdefault("spec", {})
    if spec.get("type") == "ExternalName" or spec.get("clusterIP") == "None":
        return None
    cidr = ctx.config.service_cluster_ip_range
    used = ips_in_use(ctx.cache, cidr, None, None)
    if spec.get("clusterIP"):
        spec.setdefault("clusterIPs", [spec["clusterIP"]])
        requested = spec["clusterIP"]
        if requested in used:
            return [
                invalid_field(
                    "spec.clusterIPs",
                    (str(requested),),
                    f"failed to allocate IP {requested}: provided IP is already allocated",
                )
            ]
    else:
        start, size = cidr_bounds(cidr)
        for offset in range(2, size - 1):
            text = ip_text(start + offset)
            if text not in used:
                spec["clusterIP"] = text
                spec["clusterIPs"] = [text]
                break
        else:
            return Status(
                code=500,
                status="Failure",
                reason="InternalError",
                message="failed to allocate a serviceIP: range is full",
                api_version="v1",
                kind="Status",
            )
    spec.setdefault("ipFamilies", ["IPv4"])
    spec.setdefault("ipFamilyPolicy", "SingleStack")
    return None


def _ranges(ctx: Context, old: Json | None, new: Json | None) -> tuple[KeyWrite, ...]:
    """The allocation record writes of a Service going from ``old`` to ``new``."""
    return range_writes(ctx.cache, ctx.config.service_cluster_ip_range, old, new)


def _generated_name(ctx: Context, prefix: str) -> str | Status:
    """The name of this attempt; past the last suffix, kube's ``NewGenerateNameConflict`` for
    the last name tried."""
    suffixes = ctx.entropy.name_suffixes
    if ctx.attempt < len(suffixes):
        return prefix[:GENERATE_PREFIX_MAX] + suffixes[ctx.attempt]
    last = prefix[:GENERATE_PREFIX_MAX] + (suffixes[-1] if suffixes else "")
    return generate_name_conflict(ctx.resource.qualified, last)


def _status_update(ctx: Context, old: Json, new: Json) -> Json:
    """A ``/status`` write (the kinds' ``StatusStrategy.PrepareForUpdate``): everything but
    metadata and status comes from the stored object; workloads also keep their labels, pods
    their ownerReferences."""
    result = {key: copy.deepcopy(value) for key, value in old.items() if key != "status"}
    result["metadata"] = metadata(new)
    if "status" in new:
        result["status"] = new["status"]
    old_meta = metadata(old)
    for field in STATUS_KEEPS.get(ctx.resource.kind, ()):
        if field in old_meta:
            result["metadata"][field] = copy.deepcopy(old_meta[field])
        else:
            result["metadata"].pop(field, None)
    return result


def decide_create(ctx: Context, current: Current | None) -> Decision:
    body = parse_body(ctx.request.body, ctx.request.content_type)
    if isinstance(body, Status):
        return reply(body)
    decoded = _decode_body(ctx, body)
    if isinstance(decoded, Status):
        return reply(decoded)
    obj: Json = decoded.value
    problem = check_type_meta(ctx, obj)
    if problem is not None:
        return reply(problem)
    return create_object(ctx, obj, decoded, current)


def create_object(ctx: Context, obj: Json, decoded: Decoded, current: Current | None) -> Decision:
    """The create decision for a decoded object (also server-side apply's first apply)."""
    _set_type_meta(ctx, obj)
    meta = metadata(obj)
    body_namespace = meta.get("namespace")
    if ctx.resource.namespaced:
        if body_namespace and body_namespace != ctx.info.namespace:
            return reply(bad_request(NAMESPACE_MISMATCH))
        meta["namespace"] = ctx.info.namespace
    else:
        meta.pop("namespace", None)
    name = meta.get("name")
    generated = False
    if not name and meta.get("generateName"):
        name = _generated_name(ctx, str(meta["generateName"]))
        if isinstance(name, Status):
            return reply(name)
        meta["name"] = name
        generated = True
    if ctx.info.name and name and name != ctx.info.name:
        return reply(
            bad_request(
                f"the name of the object ({name}) does not match the name on the URL "
                f"({ctx.info.name})"
            )
        )
    if not name:
        return _errors_status(
            ctx, "", [required("metadata.name", "name or generateName is required")]
        )
    if current is not None and not generated:
        exists = already_exists(ctx.resource.qualified, str(name))
        if metadata(current.obj).get("deletionTimestamp"):
            exists = msgspec.structs.replace(
                exists, message=f"object is being deleted: {exists.message}"
            )
        return reply(exists)
    problem = namespace_problem(ctx, str(name))
    if problem is not None:
        return reply(problem)
    _prepare_create(ctx, obj)
    defaults.apply_defaults(ctx.resource.kind, obj)
    if ctx.resource.kind == "Pod":
        refused = _admit_pod(ctx, obj, str(name))
        if refused is not None:
            return reply(refused)
    if ctx.resource.qualified == "nodes" and "TaintNodesByCondition" in (
        ctx.config.admission_plugins
    ):
        taint_new_node(obj)
    admission_warnings = _pod_security_warnings(ctx, None, obj)
    if ctx.resource.kind == "Service":
        allocation = _allocate_cluster_ip(ctx, obj)
        if isinstance(allocation, Status):
            return reply(allocation)
        if allocation:
            return _errors_status(ctx, str(name), allocation)
        node_ports = allocate_node_ports(ctx, obj, None, None)
        if isinstance(node_ports, str):
            return reply(internal_error(node_ports))
        if node_ports:
            return _errors_status(ctx, str(name), node_ports)
    errors = validate_create(ctx.resource.kind, obj, ctx.resource.namespaced) + _custom_errors(
        ctx, obj, decoded
    )
    if errors:
        return _errors_status(ctx, str(name), errors)
    if ctx.resource.qualified == "namespaces":
        labels_refused = namespace_refusal(None, obj)
        if labels_refused:
            return _errors_status(ctx, str(name), labels_refused)
    refused = _admit_priority_class(ctx, obj, True)
    if refused is not None:
        return reply(refused)
    key = object_key(ctx.resource, ctx.info.namespace, str(name))
    if ctx.resource.qualified == "resourcequotas":
        obj["status"] = quota_status(ctx, obj, key)
    charged = admit_quota(ctx, obj, key, str(name))
    if isinstance(charged, Status):
        return reply(charged)
    record_update(ctx, None, obj)
    if ctx.resource.kind == "Service":
        charged = (*charged, *_ranges(ctx, None, obj))
    return Write(
        writes=(KeyWrite(key=key, expected=0, value=stored_bytes(obj)), *charged),
        code=201,
        warnings=(*decoded.warnings, *admission_warnings),
    )


def _spec_changed(new: Json, old: Json) -> bool:
    strip = ("metadata", "status")
    return {k: v for k, v in new.items() if k not in strip} != {
        k: v for k, v in old.items() if k not in strip
    }


def finish_update(
    ctx: Context,
    current: Current,
    new: Json,
    warnings: tuple[str, ...],
    check_rv: bool,
    decoded: Decoded | None = None,
    applied: bool = False,
) -> Decision:
    """Shared tail of update and patch: preconditions, preserved fields, validation, write."""
    old = current.obj
    name = meta_str(old, "name")
    new_meta, old_meta = metadata(new), metadata(old)
    requested_rv = new_meta.get("resourceVersion")
    if check_rv:
        if requested_rv in (None, ""):
            if not ctx.resource.unconditional_update:
                return reply(resource_version_required(ctx.resource.qualified, name))
        elif str(requested_rv) != str(current.mod_revision):
            return reply(conflict(ctx.resource.qualified, name, MODIFIED))
    elif requested_rv not in (None, "") and str(requested_rv) != str(current.mod_revision):
        return reply(conflict(ctx.resource.qualified, name, MODIFIED))
    _set_type_meta(ctx, new)
    if ctx.resource.namespaced:
        if new_meta.get("namespace") not in (None, "", ctx.info.namespace):
            return reply(bad_request(NAMESPACE_MISMATCH))
        new_meta["namespace"] = ctx.info.namespace
    if new_meta.get("name") in (None, ""):
        new_meta["name"] = name
    if new_meta.get("name") != name:
        return reply(
            bad_request(
                f"the name of the object ({new_meta.get('name')}) does not match the name "
                f"on the URL ({name})"
            )
        )
    for field in (
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
    ):
        if field in old_meta:
            new_meta[field] = old_meta[field]
        else:
            new_meta.pop(field, None)
    new_meta.pop("resourceVersion", None)
    subresource = ctx.info.subresource
    if subresource == "status":
        new = _status_update(ctx, old, new)
    elif has_status(ctx) and ctx.resource.kind != "Node":
        if "status" in old:
            new["status"] = copy.deepcopy(old["status"])
        else:
            new.pop("status", None)
    defaults.apply_defaults(ctx.resource.kind, new)
    if tracks_generation(ctx) and _spec_changed(new, old):
        metadata(new)["generation"] = int(old_meta.get("generation") or 0) + 1
    if ctx.resource.kind == "CustomResourceDefinition" and subresource != "status":
        _crd_status(new)
        metadata(new)["creationTimestamp"] = old_meta.get("creationTimestamp")
    if ctx.resource.kind == "Service" and subresource != "status":
        own_key = object_key(ctx.resource, ctx.info.namespace, name)
        node_ports = allocate_node_ports(ctx, new, own_key, old)
        if isinstance(node_ports, str):
            return reply(internal_error(node_ports))
        if node_ports:
            return _errors_status(ctx, name, node_ports)
    errors = validate_update(ctx.resource.kind, new, old, ctx.resource.namespaced)
    if decoded is not None:
        errors += _custom_errors(ctx, new, decoded)
    if errors:
        return _errors_status(ctx, name, errors)
    refused = _admit_priority_class(ctx, new, False)
    if refused is not None:
        return reply(refused)
    if subresource == "" and ctx.resource.qualified == "namespaces":
        labels_refused = namespace_refusal(old, new)
        if labels_refused:
            return _errors_status(ctx, name, labels_refused)
    if subresource == "":
        warnings = (*warnings, *_pod_security_warnings(ctx, old, new))
    if subresource == "" and ctx.resource.qualified == "resourcequotas":
        new["status"] = quota_status(ctx, new, object_key(ctx.resource, ctx.info.namespace, name))
    charged: tuple[KeyWrite, ...] = ()
    if subresource == "" and ctx.resource.qualified == "services":
        # kube's quota evaluator for Services also handles updates (the type may change)
        own_key = object_key(ctx.resource, ctx.info.namespace, name)
        quota_answer = admit_quota(ctx, new, own_key, name, old)
        if isinstance(quota_answer, Status):
            return reply(quota_answer)
        charged = quota_answer
    if not applied:  # server-side apply has recorded its own managedFields entry
        record_update(ctx, old, new)
    old_stored = stored_bytes(old)
    new_stored = stored_bytes(new)
    key = object_key(ctx.resource, ctx.info.namespace, name)
    if new_stored == old_stored:
        return Write(
            writes=(),
            code=200,
            answer="body",
            body=_with_rv_bytes(old, current.mod_revision),
            warnings=warnings,
        )
    meta = metadata(new)
    if (
        meta.get("deletionTimestamp")
        and not meta.get("finalizers")
        and not meta.get("deletionGracePeriodSeconds")
    ):
        return Write(
            writes=(KeyWrite(key=key, expected=current.mod_revision, value=None),),
            code=200,
            answer="body",
            body=_with_rv_bytes(new, current.mod_revision),
            warnings=warnings,
        )
    if ctx.resource.kind == "Service":
        charged = (*charged, *_ranges(ctx, old, new))
    return Write(
        writes=(KeyWrite(key=key, expected=current.mod_revision, value=new_stored), *charged),
        code=200,
        warnings=warnings,
    )


def _with_rv_bytes(obj: Json, revision: int) -> bytes:
    out = copy.deepcopy(obj)
    metadata(out)["resourceVersion"] = str(revision)
    return encode(out)


def decide_update(ctx: Context, current: Current | None) -> Decision:
    body = parse_body(ctx.request.body, ctx.request.content_type)
    if isinstance(body, Status):
        return reply(body)
    decoded = _decode_body(ctx, body)
    if isinstance(decoded, Status):
        return reply(decoded)
    obj: Json = decoded.value
    problem = check_type_meta(ctx, obj)
    if problem is not None:
        return reply(problem)
    if current is None:
        if ctx.resource.create_on_update:
            return create_object(ctx, obj, decoded, None)
        return reply(not_found(ctx.resource.qualified, ctx.info.name))
    return finish_update(ctx, current, obj, decoded.warnings, check_rv=True, decoded=decoded)
