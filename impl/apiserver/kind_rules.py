"""Validation of StatefulSet and PodDisruptionBudget beyond what every workload shares (kube's
``ValidateStatefulSetSpec``/``ValidateStatefulSetUpdate`` and
``ValidatePodDisruptionBudgetSpec``, v1.35): management and update policies, the fields a
StatefulSet update may change, and PodDisruptionBudget's count-or-percentage bounds."""

from __future__ import annotations

import re
from typing import Any, Final

from models.field_errors import FieldError, FieldErrorType, forbidden, invalid

Json = dict[str, Any]
PERCENT: Final = re.compile(r"[0-9]+%")
STATEFUL_SET_MUTABLE: Final = (
    "replicas",
    "ordinals",
    "template",
    "updateStrategy",
    "revisionHistoryLimit",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
)


def _dict(value: object) -> Json:
    return value if isinstance(value, dict) else {}


def _supported(field: str, value: object, allowed: tuple[str, ...]) -> FieldError:
    return FieldError(
        type=FieldErrorType.NOT_SUPPORTED,
        field=field,
        bad_value=str(value),
        shows_value=True,
        detail="supported values: " + ", ".join(f'"{a}"' for a in allowed),
    )


def stateful_set(obj: Json) -> list[FieldError]:
    """The rules StatefulSet adds to the shared workload rules."""
    spec = _dict(obj.get("spec"))
    errors: list[FieldError] = []
    policy = spec.get("podManagementPolicy")
    if policy not in ("OrderedReady", "Parallel"):
        errors.append(_supported("spec.podManagementPolicy", policy, ("OrderedReady", "Parallel")))
    strategy = _dict(spec.get("updateStrategy"))
    kind = strategy.get("type")
    if kind not in ("RollingUpdate", "OnDelete"):
        errors.append(_supported("spec.updateStrategy.type", kind, ("OnDelete", "RollingUpdate")))
    elif kind == "OnDelete" and strategy.get("rollingUpdate") is not None:
        errors.append(
            invalid(
                "spec.updateStrategy.rollingUpdate",
                None,
                "only allowed for updateStrategy 'RollingUpdate'",
            )
        )
    partition = _dict(strategy.get("rollingUpdate")).get("partition")
    if isinstance(partition, int) and partition < 0:
        errors.append(
            invalid(
                "spec.updateStrategy.rollingUpdate.partition",
                partition,
                "must be greater than or equal to 0",
            )
        )
    return errors


def stateful_set_update(new: Json, old: Json) -> list[FieldError]:
    """Only the listed spec fields may change."""
    new_spec, old_spec = dict(_dict(new.get("spec"))), dict(_dict(old.get("spec")))
    for field in STATEFUL_SET_MUTABLE:
        new_spec.pop(field, None)
        old_spec.pop(field, None)
    if new_spec == old_spec:
        return []
    listed = ", ".join(f"'{f}'" for f in STATEFUL_SET_MUTABLE[:-1])
    return [
        forbidden(
            "spec",
            f"updates to statefulset spec for fields other than {listed} and "
            f"'{STATEFUL_SET_MUTABLE[-1]}' are forbidden",
        )
    ]


def _count_or_percent(field: str, value: object) -> list[FieldError]:
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, int):
        return [] if value >= 0 else [invalid(field, value, "must be greater than or equal to 0")]
    text = str(value)
    if not PERCENT.fullmatch(text):
        return [
            invalid(
                field,
                text,
                "a valid percent string must be a numeric string followed by an ending '%' "
                "(e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
            )
        ]
    if int(text[:-1]) > 100:
        return [invalid(field, text, "must not be greater than 100%")]
    return []


def pod_disruption_budget(obj: Json) -> list[FieldError]:
    spec = _dict(obj.get("spec"))
    errors: list[FieldError] = []
    if spec.get("minAvailable") is not None and spec.get("maxUnavailable") is not None:
        errors.append(invalid("spec", None, "minAvailable and maxUnavailable cannot be both set"))
    errors += _count_or_percent("spec.minAvailable", spec.get("minAvailable"))
    errors += _count_or_percent("spec.maxUnavailable", spec.get("maxUnavailable"))
    policy = spec.get("unhealthyPodEvictionPolicy")
    if policy is not None and policy not in ("IfHealthyBudget", "AlwaysAllow"):
        errors.append(
            _supported(
                "spec.unhealthyPodEvictionPolicy", policy, ("AlwaysAllow", "IfHealthyBudget")
            )
        )
    return errors
