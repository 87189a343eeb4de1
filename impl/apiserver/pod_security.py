"""The PodSecurity admission plugin: a pod created in a namespace labelled
``pod-security.kubernetes.io/enforce: baseline|restricted`` must meet that Pod Security
Standard, or the create is refused with kube's message::

    pods "web" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation
    != false (container "c" must set securityContext.allowPrivilegeEscalation=false), ...

The checks, in kube's order (by check ID), with their levels:

- baseline: non-default capabilities (only AUDIT_WRITE, CHOWN, DAC_OVERRIDE, FOWNER, FSETID,
  KILL, MKNOD, NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID, SYS_CHROOT may be added),
  host namespaces (hostNetwork, hostPID, hostIPC), hostPath volumes, host ports, privileged
  containers;
- restricted, in addition: allowPrivilegeEscalation must be false, capabilities must drop ALL,
  runAsNonRoot must be true (pod or every container),
  seccompProfile must be RuntimeDefault or Localhost (pod or every container).

``privileged`` (or no label) enforces nothing. ``pod-security.kubernetes.io/warn: LEVEL`` sends
kube's warning instead (``would violate PodSecurity "restricted:latest": ...``), for pods and for
the pod templates of workloads (Deployment, ReplicaSet, StatefulSet, DaemonSet, Job,
ReplicationController, CronJob), on create and update; the audit mode has no audit log to go
to. The ``-version`` labels are not read (every check is the latest's); restricted's
volume-type, runAsUser, seLinux, procMount, sysctls, AppArmor and add-only-NET_BIND_SERVICE
checks are not there yet.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from models.apiserver.status import failure
from models.k8s.meta_ops import Status, StatusDetails

ENFORCE_LABEL: Final = "pod-security.kubernetes.io/enforce"
WARN_LABEL: Final = "pod-security.kubernetes.io/warn"
TEMPLATE_PATHS: Final = {
    "Deployment": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "Job": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}
"""Where each workload kind keeps the pod template the warn mode checks."""
BASELINE_CAPABILITIES: Final = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)
Json = dict[str, Any]


def _dict(value: Any) -> Json:
    return value if isinstance(value, dict) else {}


def _containers(pod: Json) -> list[Json]:
    spec = _dict(pod.get("spec"))
    found: list[Json] = []
    for field in ("initContainers", "containers", "ephemeralContainers"):
        found.extend(c for c in spec.get(field) or [] if isinstance(c, dict))
    return found


def _quoted(names: list[str]) -> str:
    return ", ".join(f'"{name}"' for name in names)


def _containers_phrase(names: list[str]) -> str:
    return f"{'container' if len(names) == 1 else 'containers'} {_quoted(names)}"


def _security(container: Json) -> Json:
    return _dict(container.get("securityContext"))


def _capabilities_baseline(pod: Json) -> str | None:
    bad: list[str] = []
    added: list[str] = []
    for container in _containers(pod):
        adds = _dict(_security(container).get("capabilities")).get("add") or []
        extra = [str(c) for c in adds if str(c) not in BASELINE_CAPABILITIES]
        if extra:
            bad.append(str(container.get("name", "")))
            added.extend(c for c in extra if c not in added)
    if not bad:
        return None
    return (
        f"non-default capabilities ({_containers_phrase(bad)} must not include "
        f"{_quoted(added)} in securityContext.capabilities.add)"
    )


def _host_namespaces(pod: Json) -> str | None:
    spec = _dict(pod.get("spec"))
    set_fields = [f"{f}=true" for f in ("hostNetwork", "hostPID", "hostIPC") if spec.get(f) is True]
    return f"host namespaces ({', '.join(set_fields)})" if set_fields else None


def _host_path_volumes(pod: Json) -> str | None:
    volumes = [
        str(v.get("name", ""))
        for v in _dict(pod.get("spec")).get("volumes") or []
        if isinstance(v, dict) and v.get("hostPath") is not None
    ]
    if not volumes:
        return None
    noun = "volume" if len(volumes) == 1 else "volumes"
    return f"hostPath volumes ({noun} {_quoted(volumes)})"


def _host_ports(pod: Json) -> str | None:
    bad: list[str] = []
    ports: list[str] = []
    for container in _containers(pod):
        used = [
            str(p.get("hostPort"))
            for p in container.get("ports") or []
            if isinstance(p, dict) and p.get("hostPort")
        ]
        if used:
            bad.append(str(container.get("name", "")))
            ports.extend(p for p in used if p not in ports)
    if not bad:
        return None
    noun = "hostPort" if len(ports) == 1 else "hostPorts"
    verb = "uses" if len(bad) == 1 else "use"
    return f"hostPort ({_containers_phrase(bad)} {verb} {noun} {', '.join(ports)})"


def _privileged(pod: Json) -> str | None:
    bad = [
        str(c.get("name", "")) for c in _containers(pod) if _security(c).get("privileged") is True
    ]
    if not bad:
        return None
    return f"privileged ({_containers_phrase(bad)} must not set securityContext.privileged=true)"


def _allow_privilege_escalation(pod: Json) -> str | None:
    bad = [
        str(c.get("name", ""))
        for c in _containers(pod)
        if _security(c).get("allowPrivilegeEscalation") is not False
    ]
    if not bad:
        return None
    return (
        f"allowPrivilegeEscalation != false ({_containers_phrase(bad)} must set "
        "securityContext.allowPrivilegeEscalation=false)"
    )


def _capabilities_restricted(pod: Json) -> str | None:
    missing_drop: list[str] = []
    for container in _containers(pod):
        capabilities = _dict(_security(container).get("capabilities"))
        if "ALL" not in [str(c) for c in capabilities.get("drop") or []]:
            missing_drop.append(str(container.get("name", "")))
    if not missing_drop:
        return None
    return (
        f"unrestricted capabilities ({_containers_phrase(missing_drop)} must set "
        'securityContext.capabilities.drop=["ALL"])'
    )


def _pod_or_containers(pod: Json, holds: Callable[[Json], bool | None]) -> list[str]:
    """Containers that do not meet a pod-or-container setting (the container's value wins)."""
    pod_value = holds(_dict(_dict(pod.get("spec")).get("securityContext")))
    bad = []
    for container in _containers(pod):
        value = holds(_security(container))
        if not (value if value is not None else bool(pod_value)):
            bad.append(str(container.get("name", "")))
    return bad


def _run_as_non_root(pod: Json) -> str | None:
    def holds(context: Json) -> bool | None:
        value = context.get("runAsNonRoot")
        return value if isinstance(value, bool) else None

    bad = _pod_or_containers(pod, holds)
    if not bad:
        return None
    return (
        f"runAsNonRoot != true (pod or {_containers_phrase(bad)} must set "
        "securityContext.runAsNonRoot=true)"
    )


def _seccomp_profile(pod: Json) -> str | None:
    def holds(context: Json) -> bool | None:
        profile = context.get("seccompProfile")
        if not isinstance(profile, dict):
            return None
        return profile.get("type") in ("RuntimeDefault", "Localhost")

    bad = _pod_or_containers(pod, holds)
    if not bad:
        return None
    return (
        f"seccompProfile (pod or {_containers_phrase(bad)} must set "
        'securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")'
    )


Check = Callable[[Json], str | None]
CHECKS: Final[tuple[tuple[str, str, Check], ...]] = (
    ("allowPrivilegeEscalation", "restricted", _allow_privilege_escalation),
    ("capabilities_baseline", "baseline", _capabilities_baseline),
    ("capabilities_restricted", "restricted", _capabilities_restricted),
    ("hostNamespaces", "baseline", _host_namespaces),
    ("hostPathVolumes", "baseline", _host_path_volumes),
    ("hostPorts", "baseline", _host_ports),
    ("privileged", "baseline", _privileged),
    ("runAsNonRoot", "restricted", _run_as_non_root),
    ("seccompProfile_restricted", "restricted", _seccomp_profile),
)
"""(check ID, lowest level it applies at, check), in kube's order of check IDs."""


def enforced_level(namespace: Json | None, label: str = ENFORCE_LABEL) -> str:
    labels = _dict(_dict((namespace or {}).get("metadata")).get("labels"))
    level = labels.get(label)
    return level if level in ("baseline", "restricted") else "privileged"


def warning(namespace: Json | None, kind: str, obj: Json) -> str | None:
    """The warn mode's warning for a pod, or a workload's pod template, that violates the
    namespace's warn level; None when it passes or the kind has no pod."""
    level = enforced_level(namespace, WARN_LABEL)
    if level == "privileged":
        return None
    if kind == "Pod":
        pod = obj
    else:
        path = TEMPLATE_PATHS.get(kind)
        if path is None:
            return None
        template: Any = obj
        for key in path:
            template = _dict(template).get(key)
        pod = _dict(template)
    problems = violations(level, pod)
    if not problems:
        return None
    return f'would violate PodSecurity "{level}:latest": ' + ", ".join(problems)


def violations(level: str, pod: Json) -> list[str]:
    if level == "privileged":
        return []
    applied = ("baseline",) if level == "baseline" else ("baseline", "restricted")
    found = []
    for _, check_level, check in CHECKS:
        if check_level in applied:
            problem = check(pod)
            if problem is not None:
                found.append(problem)
    return found


def admit_pod(namespace: Json | None, pod: Json, name: str) -> Status | None:
    """The 403 for a pod the namespace's enforced level forbids; None admits it."""
    level = enforced_level(namespace)
    problems = violations(level, pod)
    if not problems:
        return None
    message = f'pods "{name}" is forbidden: violates PodSecurity "{level}:latest": ' + ", ".join(
        problems
    )
    return failure(403, "Forbidden", message, StatusDetails(name=name, kind="pods"))
