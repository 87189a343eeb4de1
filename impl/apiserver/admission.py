"""The object-changing admission plugins ServiceAccount, Priority, DefaultTolerationSeconds and
TaintNodesByCondition (when enabled with ``--enable-admission-plugins``), then PodSecurity
(always on; it acts only in namespaces labelled for it). ``writes._admit_pod`` runs the whole
pod chain in v1.35's order: LimitRanger's defaults, these, LimitRanger's checks, PodSecurity,
ResourceQuota. NamespaceLifecycle runs earlier, with the namespace lookup.

- **ServiceAccount**: an empty ``spec.serviceAccountName`` becomes ``default``; the
  ServiceAccount must exist (403 ``error looking up service account NS/NAME: serviceaccount
  "NAME" not found``); unless ``automountServiceAccountToken`` is false (pod or
  ServiceAccount), a projected volume ``kube-api-access-XXXXX`` (a 3607-second token, the
  ``kube-root-ca.crt`` ConfigMap and the namespace) is added and mounted read-only at
  ``/var/run/secrets/kubernetes.io/serviceaccount`` in every container.
- **Priority**: ``spec.priorityClassName`` (or, when empty, the ``globalDefault`` class, whose
  name is then set) becomes ``spec.priority`` and ``spec.preemptionPolicy``; no class and no
  default gives 0 and ``PreemptLowerPriority``. A missing class is 403 ``no PriorityClass with
  name X was found``; a pod that states a different priority or preemption policy is 403.
- **DefaultTolerationSeconds**: a pod that does not tolerate ``node.kubernetes.io/not-ready``
  or ``node.kubernetes.io/unreachable`` with effect NoExecute gets an ``Exists`` toleration
  for it with ``tolerationSeconds: 300``.
- **TaintNodesByCondition**: a Node being created gets ``node.kubernetes.io/not-ready:NoSchedule``
  (no value, no ``timeAdded``) unless it already has a taint of that key and effect, so no pod
  is scheduled before the node lifecycle controller has judged its conditions (it removes the
  taint once Ready is True).
"""

from __future__ import annotations

from typing import Any, Final

from impl.apiserver.pod_security import admit_pod
from models.apiserver.status import failure
from models.k8s.meta_ops import Status, StatusDetails

Json = dict[str, Any]
OPTIONAL_PLUGINS: Final = (
    "ServiceAccount",
    "Priority",
    "DefaultTolerationSeconds",
    "TaintNodesByCondition",
)
"""Plugins that change pods and nodes, off unless ``--enable-admission-plugins`` names them
(kube enables them by default; here objects stay as sent unless asked)."""
TOKEN_PATH: Final = "/var/run/secrets/kubernetes.io/serviceaccount"
TOLERATION_SECONDS: Final = 300
TAINTS: Final = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")


def _spec(pod: Json) -> Json:
    spec = pod.setdefault("spec", {})
    assert isinstance(spec, dict)
    return spec


def default_tolerations(pod: Json) -> None:
    spec = _spec(pod)
    tolerations = [t for t in spec.get("tolerations") or [] if isinstance(t, dict)]
    added = []
    for taint in TAINTS:
        tolerated = any(
            t.get("key", "") in ("", taint) and t.get("effect", "") in ("", "NoExecute")
            for t in tolerations
        )
        if not tolerated:
            added.append(
                {
                    "key": taint,
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": TOLERATION_SECONDS,
                }
            )
    if added:
        spec["tolerations"] = [*(spec.get("tolerations") or []), *added]


def taint_new_node(node: Json) -> None:
    """TaintNodesByCondition on a Node being created."""
    spec = node.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    taints = spec.get("taints") or []
    if not isinstance(taints, list):
        return
    if any(
        isinstance(t, dict) and t.get("key") == TAINTS[0] and t.get("effect") == "NoSchedule"
        for t in taints
    ):
        return
    spec["taints"] = [*taints, {"key": TAINTS[0], "effect": "NoSchedule"}]


def _token_volume(name: str) -> Json:
    return {
        "name": name,
        "projected": {
            "defaultMode": 420,
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {
                    "configMap": {
                        "name": "kube-root-ca.crt",
                        "items": [{"key": "ca.crt", "path": "ca.crt"}],
                    }
                },
                {
                    "downwardAPI": {
                        "items": [
                            {
                                "path": "namespace",
                                "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                            }
                        ]
                    }
                },
            ],
        },
    }


def service_account(
    pod: Json, namespace: str, account: Json | None, suffix: str, name: str
) -> Status | None:
    """Default and check the pod's ServiceAccount and mount its token; the 403 when the
    ServiceAccount does not exist. A mirror pod (a kubelet's static pod) is left as it is, as
    kube leaves it."""
    annotations = (pod.get("metadata") or {}).get("annotations")
    if isinstance(annotations, dict) and "kubernetes.io/config.mirror" in annotations:
        return None
    spec = _spec(pod)
    account_name = spec.get("serviceAccountName") or "default"
    spec["serviceAccountName"] = account_name
    if account is None:
        message = (
            f'pods "{name}" is forbidden: error looking up service account '
            f'{namespace}/{account_name}: serviceaccount "{account_name}" not found'
        )
        return failure(403, "Forbidden", message, StatusDetails(name=name, kind="pods"))
    automount = spec.get("automountServiceAccountToken")
    if automount is None:
        automount = account.get("automountServiceAccountToken", True)
    containers = [
        c
        for field in ("initContainers", "containers")
        for c in spec.get(field) or []
        if isinstance(c, dict)
    ]
    already = any(
        isinstance(m, dict) and m.get("mountPath") == TOKEN_PATH
        for c in containers
        for m in c.get("volumeMounts") or []
    )
    if automount is False or already:
        return None
    volume = f"kube-api-access-{suffix}"
    spec["volumes"] = [*(spec.get("volumes") or []), _token_volume(volume)]
    for container in containers:
        mount = {"name": volume, "readOnly": True, "mountPath": TOKEN_PATH}
        container["volumeMounts"] = [*(container.get("volumeMounts") or []), mount]
    return None


def _forbidden(name: str, why: str) -> Status:
    return failure(
        403,
        "Forbidden",
        f'pods "{name}" is forbidden: {why}',
        StatusDetails(name=name, kind="pods"),
    )


def priority(pod: Json, classes: list[Json], name: str) -> Status | None:
    """Resolve the pod's PriorityClass into its priority and preemption policy."""
    spec = _spec(pod)
    wanted = spec.get("priorityClassName") or ""
    by_name = {str((c.get("metadata") or {}).get("name")): c for c in classes}
    if wanted:
        chosen = by_name.get(wanted)
        if chosen is None:
            return _forbidden(name, f"no PriorityClass with name {wanted} was found")
    else:
        defaults = [c for c in classes if c.get("globalDefault") is True]
        chosen = min(defaults, key=lambda c: int(c.get("value", 0))) if defaults else None
        if chosen is not None:
            spec["priorityClassName"] = str((chosen.get("metadata") or {}).get("name"))
    value = int(chosen.get("value", 0)) if chosen is not None else 0
    policy = (
        str(chosen.get("preemptionPolicy") or "PreemptLowerPriority")
        if chosen
        else ("PreemptLowerPriority")
    )
    stated = spec.get("priority")
    if stated is not None and stated != value:
        return _forbidden(
            name,
            f"the integer value of priority ({stated}) must not be provided in pod spec; "
            f"priority admission controller computed {value} from the given PriorityClass name",
        )
    stated_policy = spec.get("preemptionPolicy")
    if stated_policy is not None and stated_policy != policy:
        return _forbidden(
            name,
            f"the string value of PreemptionPolicy ({stated_policy}) must not be provided in pod "
            f"spec; priority admission controller computed {policy} from the given "
            "PriorityClass name",
        )
    spec["priority"] = value
    spec["preemptionPolicy"] = policy
    return None


def admit_pod_create(
    plugins: tuple[str, ...],
    pod: Json,
    name: str,
    namespace_name: str,
    namespace: Json | None,
    account: Json | None,
    suffix: str,
    classes: list[Json] | None = None,
) -> Status | None:
    """Run the enabled plugins on a pod being created (``pod`` changes in place); the first
    refusal, or None."""
    if "ServiceAccount" in plugins:
        refused = service_account(pod, namespace_name, account, suffix, name)
        if refused is not None:
            return refused
    if "Priority" in plugins:
        refused = priority(pod, classes or [], name)
        if refused is not None:
            return refused
    if "DefaultTolerationSeconds" in plugins:
        default_tolerations(pod)
    return admit_pod(namespace, pod, name)
