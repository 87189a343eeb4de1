"""Taints and tolerations, node selectors and label selectors, with the semantics of
k8s.io/api ``Toleration.ToleratesTaint``, component-helpers ``nodeaffinity`` and apimachinery
label selectors (all at v1.35).

Tolerations: a non-empty effect must equal the taint's; a non-empty key must equal it;
operator ``""``/``Equal`` compares values, ``Exists`` matches any value; ``Gt``/``Lt`` compare
the taint's value with the toleration's as canonical decimal int64 integers (taint ``>``/``<``
toleration) when the TaintTolerationComparisonOperators gate is on, and never match when it is
off; any other operator never matches.

Node selector terms are compiled once: a term with a requirement that does not parse (an
unknown operator, an invalid key or value, ``Gt``/``Lt`` without exactly one integer, a field
requirement without exactly one value or with an operator other than In/NotIn) is a parse
error and matches nothing; an empty term matches nothing; field requirements are checked only
for a named node.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Final, final

import immutables
import msgspec
from returns.result import Success

from models.k8s.core.node import Taint
from models.k8s.core.pod import NodeSelectorRequirement, NodeSelectorTerm, PodSpec, Toleration
from models.selectors import (
    NOTHING,
    LabelSelector,
    Operator,
    Requirement,
    Selector,
    label_selector_as_selector,
    new_requirement,
)

NO_SCHEDULE: Final = "NoSchedule"
PREFER_NO_SCHEDULE: Final = "PreferNoSchedule"
NO_EXECUTE: Final = "NoExecute"
SCHEDULE_BLOCKING: Final = frozenset({NO_SCHEDULE, NO_EXECUTE})
NAMESPACE_NAME_LABEL: Final = "kubernetes.io/metadata.name"
INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1

_NODE_OPERATORS: Final = immutables.Map(
    {
        "In": Operator.IN,
        "NotIn": Operator.NOT_IN,
        "Exists": Operator.EXISTS,
        "DoesNotExist": Operator.DOES_NOT_EXIST,
        "Gt": Operator.GREATER_THAN,
        "Lt": Operator.LESS_THAN,
    }
)


# Taints and tolerations ---------------------------------------------------------------------


def decimal_integer(text: str) -> int | None:
    """``content.IsDecimalInteger`` then ``strconv.ParseInt(text, 10, 64)``: ``0`` or an
    optional ``-`` and a digit 1-9 followed by digits, within int64; None otherwise."""
    body = text[1:] if text.startswith("-") else text
    if not body or not body.isascii() or not body.isdigit():
        return None
    if body[0] == "0" and (len(body) > 1 or text.startswith("-")):
        return None
    value = int(text)
    return value if INT64_MIN <= value <= INT64_MAX else None


def tolerates(toleration: Toleration, taint: Taint, *, comparison_operators: bool) -> bool:
    """``Toleration.ToleratesTaint``."""
    if toleration.effect and toleration.effect != taint.effect:
        return False
    if toleration.key and toleration.key != taint.key:
        return False
    operator = toleration.operator or ""
    if operator in ("", "Equal"):
        return (toleration.value or "") == (taint.value or "")
    if operator == "Exists":
        return True
    if operator in ("Gt", "Lt") and comparison_operators:
        bound = decimal_integer(toleration.value or "")
        value = decimal_integer(taint.value or "")
        if bound is None or value is None:
            return False
        return value > bound if operator == "Gt" else value < bound
    return False


def tolerated(
    tolerations: Iterable[Toleration], taint: Taint, *, comparison_operators: bool
) -> bool:
    """``TolerationsTolerateTaint``: some toleration tolerates the taint."""
    return any(
        tolerates(toleration, taint, comparison_operators=comparison_operators)
        for toleration in tolerations
    )


def first_untolerated(
    taints: Iterable[Taint],
    tolerations: Sequence[Toleration],
    effects: frozenset[str],
    *,
    comparison_operators: bool,
) -> Taint | None:
    """``FindMatchingUntoleratedTaint``: the first taint with one of ``effects`` that no
    toleration tolerates."""
    for taint in taints:
        if taint.effect in effects and not tolerated(
            tolerations, taint, comparison_operators=comparison_operators
        ):
            return taint
    return None


# Node selectors -----------------------------------------------------------------------------


@final
class FieldRequirement(msgspec.Struct, frozen=True, kw_only=True):
    """A ``matchFields`` requirement: the field equals (In) or differs from (NotIn) a value."""

    key: str
    equal: bool
    value: str

    def matches(self, fields: Mapping[str, str]) -> bool:
        return (fields.get(self.key, "") == self.value) == self.equal


@final
class CompiledTerm(msgspec.Struct, frozen=True, kw_only=True):
    """A node selector term ready to match: label requirements, field requirements, and
    whether it parsed (an unparsable or empty term matches nothing)."""

    expressions: tuple[Requirement, ...] = ()
    fields: tuple[FieldRequirement, ...] = ()
    valid: bool = True

    def matches(self, node_name: str, labels: Mapping[str, str]) -> bool:
        """``nodeSelectorTerm.match``."""
        if not self.valid or (not self.expressions and not self.fields):
            return False
        for requirement in self.expressions:
            if not requirement.matches(labels):
                return False
        if node_name and self.fields:
            names = {"metadata.name": node_name}
            return all(requirement.matches(names) for requirement in self.fields)
        return True

    def names_allowed(self) -> frozenset[str] | None:
        """The node names this term's ``metadata.name In`` fields allow (their intersection),
        or None when it has none."""
        allowed: frozenset[str] | None = None
        for requirement in self.fields:
            if requirement.key == "metadata.name" and requirement.equal:
                names = frozenset({requirement.value})
                allowed = names if allowed is None else allowed & names
        return allowed


def _label_requirement(raw: NodeSelectorRequirement) -> Requirement | None:
    operator = _NODE_OPERATORS.get(raw.operator or "")
    if operator is None:
        return None
    parsed = new_requirement(raw.key or "", operator, tuple(raw.values or ()))
    return parsed.unwrap() if isinstance(parsed, Success) else None


def _field_requirement(raw: NodeSelectorRequirement) -> FieldRequirement | None:
    values = raw.values or ()
    if len(values) != 1 or raw.operator not in ("In", "NotIn"):
        return None
    return FieldRequirement(key=raw.key or "", equal=raw.operator == "In", value=values[0])


def compile_term(term: NodeSelectorTerm | None) -> CompiledTerm:
    """``newNodeSelectorTerm``: parse a term once."""
    if term is None:
        return CompiledTerm()
    expressions = [_label_requirement(raw) for raw in term.match_expressions or ()]
    fields = [_field_requirement(raw) for raw in term.match_fields or ()]
    valid = all(r is not None for r in expressions) and all(f is not None for f in fields)
    return CompiledTerm(
        expressions=tuple(r for r in expressions if r is not None),
        fields=tuple(f for f in fields if f is not None),
        valid=valid,
    )


@final
class RequiredNodeAffinity(msgspec.Struct, frozen=True, kw_only=True):
    """``GetRequiredNodeAffinity(pod)``: ``spec.nodeSelector`` pairs and the ORed required
    terms (None when the pod has no required node affinity at all)."""

    node_selector: tuple[tuple[str, str], ...] = ()
    terms: tuple[CompiledTerm, ...] | None = None

    def matches(self, node_name: str, labels: Mapping[str, str]) -> bool:
        for key, value in self.node_selector:
            if labels.get(key) != value:
                return False
        if self.terms is None:
            return True
        return any(term.matches(node_name, labels) for term in self.terms)

    def is_empty(self) -> bool:
        """No nodeSelector and no required terms."""
        return not self.node_selector and self.terms is None


def required_node_affinity(spec: PodSpec) -> RequiredNodeAffinity:
    """The pod's required node affinity, compiled."""
    selector = tuple(sorted((spec.node_selector or {}).items()))
    affinity = spec.affinity.node_affinity if spec.affinity is not None else None
    required = (
        affinity.required_during_scheduling_ignored_during_execution
        if affinity is not None
        else None
    )
    terms = (
        tuple(compile_term(term) for term in required.node_selector_terms or ())
        if required is not None
        else None
    )
    return RequiredNodeAffinity(node_selector=selector, terms=terms)


# Label selectors and namespaces ----------------------------------------------------------------


def compile_selector(selector: LabelSelector | None) -> Selector:
    """``LabelSelectorAsSelector``; a selector that does not parse selects nothing."""
    converted = label_selector_as_selector(selector)
    return converted.unwrap() if isinstance(converted, Success) else NOTHING


def namespace_labels(labels: Mapping[str, Mapping[str, str]], name: str) -> Mapping[str, str]:
    """A namespace's labels; one that is not listed carries only
    ``kubernetes.io/metadata.name``, the label the API server sets on every namespace."""
    found = labels.get(name)
    if found is not None:
        return found
    return {NAMESPACE_NAME_LABEL: name}
