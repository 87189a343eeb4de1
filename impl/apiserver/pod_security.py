"""The PodSecurity admission plugin (v1.35): the namespace labels
``pod-security.kubernetes.io/enforce``, ``/warn`` and ``/audit`` (each with a ``-version``
label: ``latest`` or ``v1.N``) name a Pod Security Standard level (privileged, baseline,
restricted) per mode.

- **enforce**: a pod created in the namespace must meet the level, or the create is refused::

      pods "web" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation
      != false (container "c" must set securityContext.allowPrivilegeEscalation=false), ...

- **warn**: an admitted pod, or a workload (Deployment, ReplicaSet, StatefulSet, DaemonSet,
  Job, CronJob, ReplicationController, PodTemplate) whose pod template does not meet the level,
  gets the Warning ``would violate PodSecurity "restricted:latest": ...``. Without a warn label,
  warn takes the enforce level when that is stricter (kube's defaulting), so workloads in an
  enforcing namespace are warned about.
- **audit**: the same text as the audit annotation ``pod-security.kubernetes.io/audit-violations``
  (and ``pod-security.kubernetes.io/enforce-policy`` for pods), returned by ``evaluate``; this
  server keeps no audit log, so nothing records them.
- Changing a namespace's enforce level (to baseline or restricted) warns about the namespace's
  existing pods that violate it: ``existing pods in namespace "ns" violate the new PodSecurity
  enforce level "restricted:latest"``, then one warning per distinct set of failed checks,
  ``web (and 1 other pod): allowPrivilegeEscalation != false, ...``, sorted.

A namespace is created, or its labels changed, only with valid PodSecurity labels
(``namespace_refusal``: 422 naming each bad label); a bad label that got in anyway counts as
``restricted`` for enforce, ``privileged`` for warn and audit, and a bad version as ``latest``, as
kube parses them. Lowering the enforce level at the same version checks no pods.

The checks, in kube's order (by check ID), with their levels:

- baseline: non-default capabilities (only AUDIT_WRITE, CHOWN, DAC_OVERRIDE, FOWNER, FSETID,
  KILL, MKNOD, NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID, SYS_CHROOT may be added),
  host namespaces (hostNetwork, hostPID, hostIPC), hostPath volumes, host ports, privileged
  containers;
- restricted, in addition: allowPrivilegeEscalation must be false, capabilities must drop ALL,
  runAsNonRoot must be true (pod or every container),
  seccompProfile must be RuntimeDefault or Localhost (pod or every container).

Every version is checked with these (latest's) checks; restricted's volume-type, runAsUser,
seLinux, procMount, sysctls, AppArmor and add-only-NET_BIND_SERVICE checks are not there yet,
nor are pod updates, exemptions and the 3000-pod cap on the namespace check.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any, Final

import msgspec

from models.apiserver.status import failure
from models.field_errors import FieldError, invalid
from models.k8s.meta_ops import Status, StatusDetails

PREFIX: Final = "pod-security.kubernetes.io/"
ENFORCE_LABEL: Final = PREFIX + "enforce"
MODES: Final = ("enforce", "audit", "warn")
LEVELS: Final = ("privileged", "baseline", "restricted")
_VERSION: Final = re.compile(r"v1\.(0|[1-9][0-9]*)")
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


class Policy(msgspec.Struct, frozen=True):
    """Each mode's ``level:version`` (kube's ``api.Policy``)."""

    enforce: str
    audit: str
    warn: str


def _level(text: str) -> str:
    return text.partition(":")[0]


def policy(namespace: Json | None) -> Policy:
    """``api.PolicyToEvaluate`` with privileged:latest defaults: an invalid enforce level is
    restricted (an invalid warn or audit level privileged), an invalid version latest; warn
    follows a stricter enforce level unless set."""
    labels = _dict(_dict((namespace or {}).get("metadata")).get("labels"))
    chosen: dict[str, tuple[str, str]] = {}
    for mode in MODES:
        level = labels.get(PREFIX + mode)
        version = labels.get(f"{PREFIX}{mode}-version")
        invalid_level = "restricted" if mode == "enforce" else "privileged"  # warn, audit: open
        chosen[mode] = (
            "privileged" if level is None else (level if level in LEVELS else invalid_level),
            "latest"
            if version is None or (version != "latest" and not _VERSION.fullmatch(str(version)))
            else str(version),
        )
    enforce_set = labels.get(ENFORCE_LABEL) in LEVELS
    stricter = LEVELS.index(chosen["enforce"][0]) > LEVELS.index(chosen["warn"][0])
    if PREFIX + "warn" not in labels and enforce_set and stricter:
        version = chosen["enforce"][1]
        if f"{PREFIX}warn-version" in labels:
            version = chosen["warn"][1]
        chosen["warn"] = (chosen["enforce"][0], version)
    return Policy(**{mode: f"{level}:{version}" for mode, (level, version) in chosen.items()})


def label_errors(namespace: Json | None) -> list[FieldError]:
    """The namespace's invalid PodSecurity labels, as kube refuses them on a namespace write."""
    labels = _dict(_dict((namespace or {}).get("metadata")).get("labels"))
    errors = []
    for mode in MODES:
        level = labels.get(PREFIX + mode)
        if level is not None and level not in LEVELS:
            errors.append(
                invalid(
                    f"metadata.labels[{PREFIX}{mode}]",
                    str(level),
                    "must be one of " + ", ".join(LEVELS),
                )
            )
        version = labels.get(f"{PREFIX}{mode}-version")
        if version is not None and version != "latest" and not _VERSION.fullmatch(str(version)):
            errors.append(
                invalid(
                    f"metadata.labels[{PREFIX}{mode}-version]",
                    str(version),
                    'must be "latest" or "v1.x"',
                )
            )
    return errors


def namespace_refusal(old: Json | None, new: Json) -> list[FieldError]:
    """``ValidateNamespace``: a namespace is created only with valid labels, and updated unless
    its label errors are new."""
    errors = label_errors(new)
    if errors and (old is None or not label_errors(old) or label_errors(old) != errors):
        return errors
    return []


def enforced_level(namespace: Json | None) -> str:
    return _level(policy(namespace).enforce)


def violations(level: str, pod: Json) -> list[str]:
    """Each failed check's reason with its detail, in kube's order (``level`` may carry its
    ``:version``)."""
    level = _level(level)
    if level not in ("baseline", "restricted"):
        return []
    applied = ("baseline",) if level == "baseline" else ("baseline", "restricted")
    found = []
    for _, check_level, check in CHECKS:
        if check_level in applied:
            problem = check(pod)
            if problem is not None:
                found.append(problem)
    return found


def _reasons(problems: list[str]) -> str:
    """``ForbiddenReason``: the reasons without their details."""
    return ", ".join(problem.split(" (", 1)[0] for problem in problems)


class Evaluation(msgspec.Struct, frozen=True):
    """What PodSecurity decides for one pod or pod template."""

    refusal: Status | None
    warnings: tuple[str, ...]
    audit_annotations: tuple[tuple[str, str], ...]
    """(key, value) kube would add to the request's audit event."""


def evaluate(namespace: Json | None, pod: Json, name: str, enforce: bool) -> Evaluation:
    """``EvaluatePod``: enforce (pods only), audit, then warn unless refused."""
    modes = policy(namespace)
    refusal = None
    annotations: list[tuple[str, str]] = []
    if enforce:
        annotations.append((PREFIX + "enforce-policy", modes.enforce))
        problems = violations(modes.enforce, pod)
        if problems:
            message = (
                f'pods "{name}" is forbidden: violates PodSecurity "{modes.enforce}": '
                + ", ".join(problems)
            )
            refusal = failure(403, "Forbidden", message, StatusDetails(name=name, kind="pods"))
    audited = violations(modes.audit, pod)
    if audited:
        annotations.append(
            (
                PREFIX + "audit-violations",
                f'would violate PodSecurity "{modes.audit}": ' + ", ".join(audited),
            )
        )
    warned = violations(modes.warn, pod) if refusal is None else []
    warnings = (
        (f'would violate PodSecurity "{modes.warn}": ' + ", ".join(warned),) if warned else ()
    )
    return Evaluation(refusal, warnings, tuple(sorted(annotations)))


def admit_pod(namespace: Json | None, pod: Json, name: str) -> Status | None:
    """The 403 for a pod the namespace's enforced level forbids; None admits it."""
    return evaluate(namespace, pod, name, enforce=True).refusal


WORKLOAD_KINDS: Final = frozenset(
    {
        "PodTemplate",
        "CronJob",
        "Deployment",
        "ReplicaSet",
        "StatefulSet",
        "DaemonSet",
        "Job",
        "ReplicationController",
    }
)


def template_of(kind: str, obj: Json) -> Json | None:
    """``ExtractPodSpec`` of a workload kind: its pod template (None when it has none)."""
    spec = _dict(obj.get("spec"))
    if kind == "PodTemplate":
        template = obj.get("template")
    elif kind == "CronJob":
        template = _dict(_dict(spec.get("jobTemplate")).get("spec")).get("template")
    elif kind in WORKLOAD_KINDS:
        template = spec.get("template")
    else:
        return None
    return template if isinstance(template, dict) else None


def workload_warnings(namespace: Json | None, kind: str, obj: Json) -> tuple[str, ...]:
    """``ValidatePodController``: warn (audit is not recorded) about a workload's template."""
    template = template_of(kind, obj)
    if template is None:
        return ()
    return evaluate(namespace, template, "", enforce=False).warnings


def namespace_warnings(
    old: Json | None, new: Json, pods: Callable[[], Iterable[tuple[str, Json]]]
) -> tuple[str, ...]:
    """``ValidateNamespace`` on an update: when the enforce level:version changes to baseline
    or restricted, the existing pods (``pods()``: name, pod; listed only then) that would
    violate it."""
    before, after = policy(old).enforce, policy(new).enforce
    if before == after or _level(after) == "privileged":
        return ()
    same_version = after.partition(":")[2] == before.partition(":")[2]
    if same_version and LEVELS.index(_level(after)) <= LEVELS.index(_level(before)):
        return ()  # relaxed (or the same) at the same version
    first: dict[str, str] = {}
    count: dict[str, int] = {}
    for pod_name, pod in pods():
        problems = violations(after, pod)
        if not problems:
            continue
        reason = _reasons(problems)
        if reason not in first or pod_name < first[reason]:
            first[reason] = pod_name
        count[reason] = count.get(reason, 0) + 1
    if not first:
        return ()
    name = str(_dict(new.get("metadata")).get("name", ""))
    decorated = []
    for reason, pod_name in first.items():
        others = count[reason] - 1
        if others == 0:
            decorated.append(f"{pod_name}: {reason}")
        elif others == 1:
            decorated.append(f"{pod_name} (and 1 other pod): {reason}")
        else:
            decorated.append(f"{pod_name} (and {others} other pods): {reason}")
    header = (
        f'existing pods in namespace "{name}" violate the new PodSecurity enforce level "{after}"'
    )
    return (header, *sorted(decorated))
