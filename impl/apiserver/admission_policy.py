"""ValidatingAdmissionPolicy: the CEL rules of admissionregistration.k8s.io/v1 policies, applied
through their bindings to each write, with kube's refusals and warnings.

Theory of operation. For a write (create, update or delete; the object as it would be stored and
the object before), every binding whose policy exists is considered. It applies when the
policy's ``matchConstraints`` and the binding's ``matchResources`` both match (resource rules by
operation, group, version, resource or ``res/sub``, scope and names, less the excluded rules; the
namespace's labels by ``namespaceSelector``, the object's or the old object's by
``objectSelector``) and every ``matchConditions`` expression is true. Its parameters are the
objects ``paramRef`` names (by name, or by label selector; in the request's namespace when the
param kind is namespaced and no namespace is given); with none, ``parameterNotFoundAction``
Deny refuses and Allow passes. Then the ``variables`` are evaluated in order and each
validation in order, with ``object``, ``oldObject``, ``request``, ``params``,
``namespaceObject`` and ``variables`` bound; the first that is false fails the binding, with
``messageExpression``'s value, else ``message``, else ``failed expression: EXPR``. An expression
that does not compile or evaluate to a bool is an error: ``failurePolicy`` Fail (the default)
fails the binding with ``expression 'EXPR' resulted in error: WHY``; Ignore passes it. A failed
binding's ``validationActions`` decide: Deny refuses the write (the first such binding, kube's
message ``ValidatingAdmissionPolicy 'P' with binding 'B' denied request: MSG``, its
``reason``, by default Invalid, 422), Warn adds the warning ``Validation failed for
ValidatingAdmissionPolicy 'P' with binding 'B': MSG``; Audit has no audit log here to go to.

CEL is cel-python (``celpy``) with its standard functions and, of Kubernetes' CEL libraries, the
strings extension and the lists library (``kubernetes_functions``); quantity, url, ip, cidr,
sets, regex extensions and ``authorizer`` are not there, nor type checking of the expressions
against the schema.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

import celpy
from celpy import celtypes
from celpy.adapter import json_to_cel
from celpy.celparser import CELParseError
from celpy.evaluation import CELEvalError

from models.apiserver.status import failure
from models.field_errors import FieldError, FieldErrorType, invalid, required
from models.k8s.meta_ops import Status, StatusCause, StatusDetails

Json = dict[str, Any]
POLICY_PREFIX: Final = "/registry/validatingadmissionpolicies/"
BINDING_PREFIX: Final = "/registry/validatingadmissionpolicybindings/"
EXEMPT_GROUP: Final = "admissionregistration.k8s.io"
REASON_CODES: Final = {
    "Unauthorized": 401,
    "Forbidden": 403,
    "Invalid": 422,
    "RequestEntityTooLarge": 413,
}


class Request:
    """What admission knows of one write."""

    __slots__ = (
        "group",
        "kind",
        "name",
        "namespace",
        "namespace_object",
        "namespaced",
        "new",
        "old",
        "operation",
        "resource",
        "subresource",
        "user",
        "version",
    )

    def __init__(
        self,
        *,
        operation: str,
        group: str,
        version: str,
        resource: str,
        subresource: str,
        kind: str,
        namespaced: bool,
        namespace: str,
        name: str,
        new: Json | None,
        old: Json | None,
        namespace_object: Json | None,
        user: Json,
    ) -> None:
        self.operation = operation
        self.group = group
        self.version = version
        self.resource = resource
        self.subresource = subresource
        self.kind = kind
        self.namespaced = namespaced
        self.namespace = namespace
        self.name = name
        self.new = new
        self.old = old
        self.namespace_object = namespace_object
        self.user = user

    def as_cel_json(self) -> Json:
        """The ``request`` variable (an AdmissionRequest)."""
        resource = {"group": self.group, "version": self.version, "resource": self.resource}
        kind = {"group": self.group, "version": self.version, "kind": self.kind}
        return {
            "kind": kind,
            "resource": resource,
            "subResource": self.subresource,
            "requestKind": kind,
            "requestResource": resource,
            "requestSubResource": self.subresource,
            "name": self.name,
            "namespace": self.namespace,
            "operation": self.operation,
            "userInfo": self.user,
            "dryRun": False,
        }


class Outcome:
    """A write's verdict: the refusal (None: admitted) and the warnings to send."""

    __slots__ = ("refusal", "warnings")

    def __init__(self, refusal: Status | None, warnings: tuple[str, ...]) -> None:
        self.refusal = refusal
        self.warnings = warnings


def _get(mapping: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(mapping, dict):
            return None
        mapping = mapping.get(key)
    return mapping


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


# Matching ------------------------------------------------------------------------------------


def selector_matches(selector: Any, labels: Mapping[str, Any]) -> bool:
    """A metav1.LabelSelector (absent or empty: everything) against ``labels``."""
    if not isinstance(selector, dict):
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in _list(selector.get("matchExpressions")):
        key, operator = expression.get("key"), expression.get("operator")
        values = _list(expression.get("values"))
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in labels and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def _one_of(values: list[Any], value: str) -> bool:
    return "*" in values or value in values


def _resource_matches(values: list[Any], resource: str, subresource: str) -> bool:
    for entry in values:
        if not isinstance(entry, str):
            continue
        name, _, sub = entry.partition("/")
        if not subresource and not sub and name in ("*", resource):
            return True
        if subresource and sub in ("*", subresource) and name in ("*", resource):
            return True
    return False


def rule_matches(rule: Json, request: Request) -> bool:
    """One NamedRuleWithOperations against the request."""
    if not _one_of(_list(rule.get("operations")), request.operation):
        return False
    if not _one_of(_list(rule.get("apiGroups")), request.group):
        return False
    if not _one_of(_list(rule.get("apiVersions")), request.version):
        return False
    if not _resource_matches(_list(rule.get("resources")), request.resource, request.subresource):
        return False
    scope = rule.get("scope") or "*"
    if scope == "Cluster" and request.namespaced:
        return False
    if scope == "Namespaced" and not request.namespaced:
        return False
    names = _list(rule.get("resourceNames"))
    return not names or request.name in names


def _labels(obj: Json | None) -> Mapping[str, Any]:
    labels = _get(obj, "metadata", "labels")
    return labels if isinstance(labels, dict) else {}


def resources_match(match: Any, request: Request) -> bool:
    """A MatchResources (absent: the binding adds nothing) against the request."""
    if not isinstance(match, dict):
        return True
    namespace_selector = match.get("namespaceSelector")
    if (request.group, request.resource) == ("", "namespaces"):
        namespace_labels = _labels(request.new or request.old)
    elif request.namespaced and request.namespace:
        namespace_labels = _labels(request.namespace_object)
    else:
        namespace_labels = None  # cluster-scoped: the namespace selector does not apply
    if namespace_labels is not None and not selector_matches(namespace_selector, namespace_labels):
        return False
    object_selector = match.get("objectSelector")
    if not (
        selector_matches(object_selector, _labels(request.new))
        or selector_matches(object_selector, _labels(request.old))
    ):
        return False
    if "resourceRules" in match and not any(
        rule_matches(rule, request) for rule in _list(match.get("resourceRules"))
    ):
        return False
    return not any(rule_matches(rule, request) for rule in _list(match.get("excludeResourceRules")))


# CEL -----------------------------------------------------------------------------------------


class CelError(Exception):
    """An expression that does not compile or evaluate."""


def _compile(environment: celpy.Environment, expression: str) -> celpy.Runner:
    try:
        return environment.program(
            environment.compile(expression), functions=kubernetes_functions()
        )
    except CELParseError as error:
        raise CelError(f"compilation failed: {error}") from None


def _text(value: Any) -> celtypes.StringType:
    return celtypes.StringType(value)


def _index_of(receiver: Any, item: Any, offset: Any = 0) -> celtypes.IntType:
    if isinstance(receiver, str):
        return celtypes.IntType(receiver.find(str(item), int(offset)))
    items = list(receiver)
    return celtypes.IntType(items.index(item) if item in items else -1)


def _last_index_of(receiver: Any, item: Any) -> celtypes.IntType:
    if isinstance(receiver, str):
        return celtypes.IntType(receiver.rfind(str(item)))
    items = list(receiver)
    return celtypes.IntType(len(items) - 1 - items[::-1].index(item) if item in items else -1)


def _replace(receiver: Any, old: Any, new: Any, count: Any = -1) -> celtypes.StringType:
    return _text(str(receiver).replace(str(old), str(new), int(count)))


def _split(receiver: Any, separator: Any, count: Any = -1) -> celtypes.ListType:
    limit = int(count)
    if limit == 0:
        return celtypes.ListType([])
    text, sep = str(receiver), str(separator)
    parts = list(text) if sep == "" else text.split(sep, limit - 1 if limit > 0 else -1)
    if sep == "" and 0 < limit < len(parts):
        parts = [*parts[: limit - 1], "".join(parts[limit - 1 :])]
    return celtypes.ListType([_text(part) for part in parts])


def _join(receiver: Any, separator: Any = "") -> celtypes.StringType:
    return _text(str(separator).join(str(item) for item in receiver))


def _substring(receiver: Any, start: Any, end: Any = None) -> celtypes.StringType:
    text = str(receiver)
    stop = len(text) if end is None else int(end)
    if not 0 <= int(start) <= stop <= len(text):
        raise ValueError(f"index out of range: {start}, {stop}")
    return _text(text[int(start) : stop])


def _char_at(receiver: Any, index: Any) -> celtypes.StringType:
    text = str(receiver)
    if not 0 <= int(index) <= len(text):
        raise ValueError(f"index out of range: {index}")
    return _text(text[int(index) : int(index) + 1])


def _ascii(receiver: Any, upper: bool) -> celtypes.StringType:
    text = str(receiver)
    table = str.maketrans(
        "abcdefghijklmnopqrstuvwxyz" if upper else "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if upper else "abcdefghijklmnopqrstuvwxyz",
    )
    return _text(text.translate(table))


def _sum(receiver: Any) -> Any:
    items = list(receiver)
    if not items:
        return celtypes.IntType(0)
    total = items[0]
    for item in items[1:]:
        total = total + item
    return total


def _extremum(receiver: Any, largest: bool) -> Any:
    items = list(receiver)
    if not items:
        raise ValueError(f"{'max' if largest else 'min'} called on an empty list")
    return max(items) if largest else min(items)


def kubernetes_functions() -> dict[str, Callable[..., Any]]:
    """The parts of Kubernetes' CEL libraries provided here: the strings extension (charAt,
    indexOf, lastIndexOf, join, lowerAscii, upperAscii, replace, split, substring, trim) and
    the lists library (isSorted, sum, min, max, indexOf, lastIndexOf)."""
    return {
        "charAt": _char_at,
        "indexOf": _index_of,
        "lastIndexOf": _last_index_of,
        "join": _join,
        "lowerAscii": lambda receiver: _ascii(receiver, upper=False),
        "upperAscii": lambda receiver: _ascii(receiver, upper=True),
        "replace": _replace,
        "split": _split,
        "substring": _substring,
        "trim": lambda receiver: _text(str(receiver).strip()),
        "isSorted": lambda receiver: celtypes.BoolType(list(receiver) == sorted(receiver)),
        "sum": _sum,
        "min": lambda receiver: _extremum(receiver, largest=False),
        "max": lambda receiver: _extremum(receiver, largest=True),
    }


def evaluate(expression: str, activation: Mapping[str, Any]) -> Any:
    """The value of ``expression`` with ``activation``'s names bound (CEL values)."""
    environment = celpy.Environment()
    program = _compile(environment, expression)
    try:
        value = program.evaluate(dict(activation))
    except CELEvalError as error:
        raise CelError(str(error.args[0]) if error.args else str(error)) from None
    except (TypeError, ValueError, KeyError, ZeroDivisionError) as error:
        raise CelError(str(error)) from None
    if isinstance(value, CELEvalError):
        raise CelError(str(value.args[0]) if value.args else str(value))
    return value


def _cel(value: Any) -> Any:
    return celtypes.NullType() if value is None else json_to_cel(value)


def _bool(expression: str, activation: Mapping[str, Any]) -> bool:
    value = evaluate(expression, activation)
    if not isinstance(value, celtypes.BoolType | bool):
        raise CelError(f"expression must evaluate to bool, not {type(value).__name__}")
    return bool(value)


# Evaluation ----------------------------------------------------------------------------------


class _FailedError(Exception):
    """A binding that failed: why, and the reason its refusal carries."""

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason


def _validate(policy: Json, activation: dict[str, Any], fail_closed: bool) -> None:
    """Raise ``_FailedError`` when a validation of ``policy`` fails with this activation."""
    spec = policy.get("spec") or {}
    variables: dict[str, Any] = {}
    broken: dict[str, str] = {}
    activation["variables"] = celtypes.MapType({})
    for variable in _list(spec.get("variables")):
        name = str(variable.get("name"))
        try:
            variables[name] = evaluate(str(variable.get("expression")), activation)
        except CelError as error:
            broken[name] = str(error)
        activation["variables"] = celtypes.MapType(
            {celtypes.StringType(k): v for k, v in variables.items()}
        )
    for validation in _list(spec.get("validations")):
        expression = str(validation.get("expression"))
        try:
            for name, why in broken.items():
                if f"variables.{name}" in expression:
                    raise CelError(why)
            passed = _bool(expression, activation)
        except CelError as error:
            if fail_closed:
                raise _FailedError(
                    f"expression '{expression}' resulted in error: {error}"
                ) from None
            continue
        if passed:
            continue
        message = str(validation.get("message") or "")
        message_expression = validation.get("messageExpression")
        if isinstance(message_expression, str) and message_expression:
            try:
                value = evaluate(message_expression, activation)
                if isinstance(value, str) and value.strip():
                    message = str(value)
            except CelError:
                pass
        if not message:
            message = f"failed expression: {expression}"
        raise _FailedError(message, str(validation.get("reason") or ""))


def _conditions_hold(policy: Json, activation: Mapping[str, Any], fail_closed: bool) -> bool:
    for condition in _list(_get(policy, "spec", "matchConditions")):
        expression = str(condition.get("expression"))
        try:
            if not _bool(expression, activation):
                return False
        except CelError as error:
            if fail_closed:
                raise _FailedError(
                    f"expression '{expression}' resulted in error: {error}"
                ) from None
            return False
    return True


ParamLookup = Callable[[str, str, str, Any], list[Json] | None]
"""(apiVersion, kind, namespace, name-or-selector) -> the param objects (None: no such kind)."""


def _params(policy: Json, binding: Json, lookup: ParamLookup) -> list[Any]:
    """The params each evaluation gets: ``[None]`` without a param kind."""
    kind = _get(policy, "spec", "paramKind")
    if not isinstance(kind, dict):
        return [None]
    ref = _get(binding, "spec", "paramRef")
    if not isinstance(ref, dict):
        raise _FailedError("no params found for policy binding with `Deny` parameterNotFoundAction")
    namespace = str(ref.get("namespace") or "")
    key: Any = ref.get("name") if ref.get("name") else ref.get("selector") or {}
    found = lookup(str(kind.get("apiVersion") or ""), str(kind.get("kind") or ""), namespace, key)
    if found is None:
        raise _FailedError(f"failed to find resource referenced by paramKind: '{kind.get('kind')}'")
    if not found:
        if ref.get("parameterNotFoundAction") == "Allow":
            return []
        raise _FailedError("no params found for policy binding with `Deny` parameterNotFoundAction")
    return list(found)


def _binding_failure(
    policy: Json, binding: Json, request: Request, lookup: ParamLookup
) -> _FailedError | None:
    fail_closed = _get(policy, "spec", "failurePolicy") != "Ignore"
    base: dict[str, Any] = {
        "object": _cel(request.new),
        "oldObject": _cel(request.old),
        "request": _cel(request.as_cel_json()),
        "namespaceObject": _cel(request.namespace_object),
        "params": celtypes.NullType(),
    }
    try:
        if not _conditions_hold(policy, base, fail_closed):
            return None
        for params in _params(policy, binding, lookup):
            activation = dict(base, params=_cel(params))
            if not _conditions_hold(policy, activation, fail_closed):
                continue
            _validate(policy, activation, fail_closed)
    except _FailedError as failed:
        return failed
    return None


def _name(obj: Json) -> str:
    return str(_get(obj, "metadata", "name") or "")


def admit(
    policies: Iterable[Json],
    bindings: Iterable[Json],
    request: Request,
    lookup: ParamLookup,
    qualified: str,
) -> Outcome:
    """Apply every bound policy to ``request`` (``qualified``: the resource as a 403 names it,
    ``deployments.apps``)."""
    if request.group == EXEMPT_GROUP:
        return Outcome(None, ())
    by_name = {_name(p): p for p in policies}
    warnings: list[str] = []
    for binding in sorted(bindings, key=_name):
        policy = by_name.get(str(_get(binding, "spec", "policyName") or ""))
        if policy is None:
            continue
        if not resources_match(_get(policy, "spec", "matchConstraints"), request):
            continue
        if not resources_match(_get(binding, "spec", "matchResources"), request):
            continue
        failed = _binding_failure(policy, binding, request, lookup)
        if failed is None:
            continue
        actions = _list(_get(binding, "spec", "validationActions"))
        head = f"ValidatingAdmissionPolicy '{_name(policy)}' with binding '{_name(binding)}'"
        if "Warn" in actions:
            warnings.append(f"Validation failed for {head}: {failed.message}")
        if "Deny" in actions:
            message = f"{head} denied request: {failed.message}"
            reason = failed.reason or "Invalid"
            name = request.name or _name(request.new or {})
            text = f'{qualified} "{name}" is forbidden: {message}' if name else message
            details = StatusDetails(
                name=name or None,
                group=request.group or None,
                kind=request.resource or None,
                causes=(StatusCause(message=message),),
            )
            return Outcome(
                failure(REASON_CODES.get(reason, 422), reason, text, details),
                tuple(warnings),
            )
    return Outcome(None, tuple(warnings))


# Validation of the policy objects ------------------------------------------------------------


def _supported(field: str, value: object, allowed: tuple[str, ...]) -> FieldError:
    return FieldError(
        type=FieldErrorType.NOT_SUPPORTED,
        field=field,
        bad_value=str(value),
        shows_value=True,
        detail="supported values: " + ", ".join(f'"{a}"' for a in allowed),
    )


def _expression_errors(field: str, expression: Any) -> list[FieldError]:
    if not isinstance(expression, str) or not expression.strip():
        return [required(field, "expression is not specified")]
    environment = celpy.Environment()
    try:
        environment.compile(expression)
    except CELParseError as error:
        detail = " ".join(str(error).split())
        return [invalid(field, expression, f"compilation failed: {detail}")]
    return []


def validate_policy(obj: Json) -> list[FieldError]:
    """kube's validation of a ValidatingAdmissionPolicy that this server checks: the failure
    policy, that there is something to validate, that every expression compiles, the
    reasons, the match constraints' presence."""
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    assert isinstance(spec, dict)
    errors: list[FieldError] = []
    policy = spec.get("failurePolicy")
    if policy is not None and policy not in ("Fail", "Ignore"):
        errors.append(_supported("spec.failurePolicy", policy, ("Fail", "Ignore")))
    constraints = spec.get("matchConstraints")
    if not isinstance(constraints, dict):
        errors.append(required("spec.matchConstraints", ""))
    elif not _list(constraints.get("resourceRules")):
        errors.append(required("spec.matchConstraints.resourceRules", ""))
    validations = _list(spec.get("validations"))
    if not validations and not _list(spec.get("auditAnnotations")):
        errors.append(
            required(
                "spec.validations",
                "validations or auditAnnotations must contain at least one item",
            )
        )
    for index, validation in enumerate(validations):
        at = f"spec.validations[{index}]"
        validation = validation if isinstance(validation, dict) else {}
        errors += _expression_errors(f"{at}.expression", validation.get("expression"))
        if validation.get("messageExpression"):
            errors += _expression_errors(
                f"{at}.messageExpression", validation.get("messageExpression")
            )
        reason = validation.get("reason")
        if reason is not None and reason not in REASON_CODES:
            errors.append(_supported(f"{at}.reason", reason, tuple(sorted(REASON_CODES))))
    for section in ("matchConditions", "variables"):
        for index, item in enumerate(_list(spec.get(section))):
            item = item if isinstance(item, dict) else {}
            errors += _expression_errors(
                f"spec.{section}[{index}].expression", item.get("expression")
            )
    return errors


def validate_binding(obj: Json) -> list[FieldError]:
    """kube's validation of a ValidatingAdmissionPolicyBinding's policy name and actions."""
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    assert isinstance(spec, dict)
    errors: list[FieldError] = []
    if not spec.get("policyName"):
        errors.append(required("spec.policyName", ""))
    actions = _list(spec.get("validationActions"))
    if not actions:
        errors.append(
            required("spec.validationActions", "at least one validation action is required")
        )
    for index, action in enumerate(actions):
        if action not in ("Audit", "Deny", "Warn"):
            errors.append(
                _supported(f"spec.validationActions[{index}]", action, ("Audit", "Deny", "Warn"))
            )
    if "Deny" in actions and "Warn" in actions:
        errors.append(
            invalid(
                "spec.validationActions",
                tuple(str(a) for a in actions),
                "must not contain both Deny and Warn (repeating the same validation failure "
                "information in the API response and headers serves no purpose)",
            )
        )
    return errors
