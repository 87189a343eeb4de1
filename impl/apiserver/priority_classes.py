"""PriorityClass rules of kube-apiserver v1.35 beyond the Priority plugin's pod side: the two
system classes the ``scheduling/bootstrap-system-priority-classes`` post-start hook creates,
the validation of a class (``ValidatePriorityClass``/``ValidatePriorityClassUpdate``), the
Priority plugin's one-default rule and the registry's refusal to delete a system class.

- ``system-node-critical`` (2000001000) and ``system-cluster-critical`` (2000000000), with
  kube's descriptions; any other name starting ``system-`` is refused, as is a system name
  with another value or ``globalDefault``.
- A user class's value is at most 1000000000 (``HighestUserDefinablePriority``).
- ``value`` and ``preemptionPolicy`` may not change in an update.
- At most one class is ``globalDefault``: creating a second one, or marking another one
  default, is 403 ``PriorityClass X is already marked as default. Only one default can exist``.

Pods in any namespace may use the system classes: kube limits them to chosen namespaces only
through a ResourceQuota admission configuration file (``limitedResources``), which kube does not
set by default (the kube-system-only rule went away in v1.17).
"""

from __future__ import annotations

from typing import Any, Final

from models.apiserver.status import forbidden as forbidden_status
from models.field_errors import FieldError, forbidden, invalid
from models.k8s.meta_ops import Status

Json = dict[str, Any]
SYSTEM_PREFIX: Final = "system-"
HIGHEST_USER_DEFINABLE: Final = 1_000_000_000
SYSTEM_CRITICAL: Final = 2 * HIGHEST_USER_DEFINABLE
QUALIFIED: Final = "priorityclasses.scheduling.k8s.io"
SYSTEM_CLASSES: Final[tuple[tuple[str, int, str], ...]] = (
    (
        "system-node-critical",
        SYSTEM_CRITICAL + 1000,
        "Used for system critical pods that must not be moved from their current node.",
    ),
    (
        "system-cluster-critical",
        SYSTEM_CRITICAL,
        "Used for system critical pods that must run in the cluster, but can be moved to "
        "another node if necessary.",
    ),
)
"""(name, value, description) in the order kube's hook creates them; neither is the default."""


def _dict(value: object) -> Json:
    return value if isinstance(value, dict) else {}


def _value(obj: Json) -> int:
    value = obj.get("value", 0)
    return value if isinstance(value, int) else 0


def _name(obj: Json) -> str:
    return str(_dict(obj.get("metadata")).get("name") or "")


def system_class_objects() -> list[Json]:
    """The system classes as the hook sends them."""
    return [
        {
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": {"name": name},
            "value": value,
            "description": description,
        }
        for name, value, description in SYSTEM_CLASSES
    ]


def _system_problem(name: str, value: int, global_default: bool) -> str | None:
    """``IsKnownSystemPriorityClass``'s error, or None for a known class as it must be."""
    for known, known_value, _ in SYSTEM_CLASSES:
        if known == name:
            if value != known_value:
                return f"value of {name} PriorityClass must be {known_value}"
            if global_default:
                return f"globalDefault of {name} PriorityClass must be false"
            return None
    return f"{name} is not a known system priority class"


def validate(obj: Json) -> list[FieldError]:
    name, value = _name(obj), _value(obj)
    if name.startswith(SYSTEM_PREFIX):
        problem = _system_problem(name, value, obj.get("globalDefault") is True)
        if problem is not None:
            return [
                forbidden(
                    "metadata.name",
                    f"priority class names with '{SYSTEM_PREFIX}' prefix are reserved for "
                    f"system use only. error: {problem}",
                )
            ]
    elif value > HIGHEST_USER_DEFINABLE:
        return [
            forbidden(
                "value",
                f"maximum allowed value of a user defined priority is {HIGHEST_USER_DEFINABLE}",
            )
        ]
    return []


def validate_update(new: Json, old: Json) -> list[FieldError]:
    errors: list[FieldError] = []
    if _value(new) != _value(old):
        errors.append(forbidden("value", "may not be changed in an update."))
    if new.get("preemptionPolicy") != old.get("preemptionPolicy"):
        policy = new.get("preemptionPolicy")
        errors.append(
            invalid(
                "preemptionPolicy",
                policy if isinstance(policy, str) else None,
                "field is immutable",
            )
        )
    return errors


def admit(obj: Json, creating: bool, classes: list[Json]) -> Status | None:
    """The Priority plugin on a PriorityClass write: the 403 for a second default."""
    if obj.get("globalDefault") is not True:
        return None
    defaults = [c for c in classes if c.get("globalDefault") is True]
    if not defaults:
        return None
    chosen = min(defaults, key=_value)  # kube's getDefaultPriorityClass: the lowest value
    name = _name(obj)
    if creating or _name(chosen) != name:
        return forbidden_status(
            QUALIFIED,
            name,
            f"PriorityClass {_name(chosen)} is already marked as default. "
            "Only one default can exist",
        )
    return None


def delete_refusal(name: str) -> Status | None:
    """The registry's 403 for deleting a system class."""
    if any(name == known for known, _, _ in SYSTEM_CLASSES):
        return forbidden_status(
            QUALIFIED, name, "this is a system priority class and cannot be deleted"
        )
    return None
