"""The pod-changing admission plugins ServiceAccount and DefaultTolerationSeconds (when enabled
with ``--enable-admission-plugins``), then PodSecurity (always on; it acts only in namespaces
labelled for it). ``writes._admit_pod`` runs the whole chain in v1.35's order: LimitRanger's
defaults, these, LimitRanger's checks, PodSecurity, ResourceQuota. NamespaceLifecycle runs
earlier, with the namespace lookup.

- **ServiceAccount**: an empty ``spec.serviceAccountName`` becomes ``default``; the
  ServiceAccount must exist (403 ``error looking up service account NS/NAME: serviceaccount
  "NAME" not found``); unless ``automountServiceAccountToken`` is false (pod or
  ServiceAccount), a projected volume ``kube-api-access-XXXXX`` (a 3607-second token, the
  ``kube-root-ca.crt`` ConfigMap and the namespace) is added and mounted read-only at
  ``/var/run/secrets/kubernetes.io/serviceaccount`` in every container.
- **DefaultTolerationSeconds**: a pod that does not tolerate ``node.kubernetes.io/not-ready``
  or ``node.kubernetes.io/unreachable`` with effect NoExecute gets an ``Exists`` toleration
  for it with ``tolerationSeconds: 300``.
"""

from __future__ import annotations

from typing import Any, Final

from impl.apiserver.pod_security import admit_pod
from models.apiserver.status import failure
from models.k8s.meta_ops import Status, StatusDetails

Json = dict[str, Any]
OPTIONAL_PLUGINS: Final = ("ServiceAccount", "DefaultTolerationSeconds")
"""Plugins that change pods, off unless ``--enable-admission-plugins`` names them (kube enables
them by default; here pods stay as sent unless asked)."""
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
    ServiceAccount does not exist."""
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


def admit_pod_create(
    plugins: tuple[str, ...],
    pod: Json,
    name: str,
    namespace_name: str,
    namespace: Json | None,
    account: Json | None,
    suffix: str,
) -> Status | None:
    """Run the enabled plugins on a pod being created (``pod`` changes in place); the first
    refusal, or None."""
    if "ServiceAccount" in plugins:
        refused = service_account(pod, namespace_name, account, suffix, name)
        if refused is not None:
            return refused
    if "DefaultTolerationSeconds" in plugins:
        default_tolerations(pod)
    return admit_pod(namespace, pod, name)
