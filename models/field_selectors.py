"""Field selectors (``fields.ParseSelector``) and the field labels each kind supports.

Terms are ``field=value``, ``field==value`` and ``field!=value`` joined by commas; ``\\``, ``,``
and ``=`` inside values are escaped with a backslash. Which fields a kind supports is the API
server's field-label conversion table (``pkg/apis/core/v1/conversion.go``): Pods support
metadata.name, metadata.namespace, spec.nodeName (alias spec.host), spec.restartPolicy,
spec.schedulerName, spec.serviceAccountName, spec.hostNetwork, status.phase, status.podIP,
status.podIPs and status.nominatedNodeName; Nodes metadata.name and spec.unschedulable; other
kinds metadata.name and metadata.namespace. Others are refused with
``field label not supported: <field>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import msgspec
from returns.result import Failure, Result, Success


class FieldSelectorError(msgspec.Struct, frozen=True, kw_only=True):
    """Why a field selector is not valid, worded as the API server words it."""

    message: str
    text: str = ""


# Field selectors --------------------------------------------------------------------------

FIELD_LABELS_ALL_KINDS: Final = frozenset({"metadata.name", "metadata.namespace"})
POD_FIELD_LABELS: Final = frozenset(
    {
        "metadata.name",
        "metadata.namespace",
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.podIPs",
        "status.nominatedNodeName",
    }
)
NODE_FIELD_LABELS: Final = frozenset({"metadata.name", "spec.unschedulable"})
FIELD_LABEL_ALIASES: Final = {("Pod", "spec.host"): "spec.nodeName"}
FIELD_LABELS_BY_KIND: Final = {"Pod": POD_FIELD_LABELS, "Node": NODE_FIELD_LABELS}


class FieldTerm(msgspec.Struct, frozen=True, kw_only=True):
    """``field=value`` (or ``!=`` when ``negated``)."""

    field: str
    value: str
    negated: bool = False

    def matches(self, fields: Mapping[str, str]) -> bool:
        """A missing field reads as the empty string, as ``fields.Set.Get`` does."""
        return (fields.get(self.field, "") == self.value) != self.negated

    def string(self) -> str:
        return f"{self.field}{'!=' if self.negated else '='}{escape_field_value(self.value)}"


class FieldSelector(msgspec.Struct, frozen=True, kw_only=True):
    """A parsed field selector: every term must hold (no terms: everything)."""

    terms: tuple[FieldTerm, ...] = ()

    def matches(self, fields: Mapping[str, str]) -> bool:
        return all(term.matches(fields) for term in self.terms)

    def string(self) -> str:
        return ",".join(term.string() for term in self.terms)

    def for_kind(self, kind: str) -> Result[FieldSelector, FieldSelectorError]:
        """The API server's field-label conversion for ``kind``: aliases resolved, other
        fields refused with ``field label not supported: <field>``."""
        supported = FIELD_LABELS_BY_KIND.get(kind, FIELD_LABELS_ALL_KINDS)
        converted: list[FieldTerm] = []
        for term in self.terms:
            name = FIELD_LABEL_ALIASES.get((kind, term.field), term.field)
            if name not in supported:
                return Failure(
                    FieldSelectorError(message=f"field label not supported: {term.field}")
                )
            converted.append(FieldTerm(field=name, value=term.value, negated=term.negated))
        return Success(FieldSelector(terms=tuple(converted)))


def escape_field_value(value: str) -> str:
    """``fields.EscapeValue``."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def _unescape_field_value(value: str) -> str | FieldSelectorError:
    """``fields.UnescapeValue``: the value, or the error for a bad escape."""
    if not any(character in value for character in "\\,="):
        return value
    out: list[str] = []
    escaping = False
    for character in value:
        if escaping:
            if character not in "\\,=":
                sequence = "\\" + character
                return FieldSelectorError(
                    message=f"invalid field selector: invalid escape sequence: {sequence}"
                )
            out.append(character)
            escaping = False
        elif character == "\\":
            escaping = True
        elif character in ",=":
            code = ord(character)  # Go prints the rune with %v: its number
            return FieldSelectorError(
                message=f"invalid field selector: unescaped character in value: {code}"
            )
        else:
            out.append(character)
    if escaping:
        return FieldSelectorError(message="invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def _split_field_terms(text: str) -> list[str]:
    """``splitTerms``: split on commas that are not escaped."""
    if not text:
        return []
    terms: list[str] = []
    start, escaping = 0, False
    for index, character in enumerate(text):
        if escaping:
            escaping = False
        elif character == "\\":
            escaping = True
        elif character == ",":
            terms.append(text[start:index])
            start = index + 1
    terms.append(text[start:])
    return terms


def parse_field_selector(text: str) -> Result[FieldSelector, FieldSelectorError]:
    """``fields.ParseSelector``: terms sorted by their text, empty terms skipped."""
    terms: list[FieldTerm] = []
    for part in sorted(_split_field_terms(text)):
        if not part:
            continue
        split = _split_field_term(part)
        if split is None:
            message = f"invalid selector: '{text}'; can't understand '{part}'"
            return Failure(FieldSelectorError(message=message, text=text))
        field, operator, raw_value = split
        value = _unescape_field_value(raw_value)
        if isinstance(value, FieldSelectorError):
            return Failure(FieldSelectorError(message=value.message, text=text))
        terms.append(FieldTerm(field=field, value=value, negated=operator == "!="))
    return Success(FieldSelector(terms=tuple(terms)))


def _split_field_term(term: str) -> tuple[str, str, str] | None:
    """``splitTerm``: the first position holding ``!=``, ``==`` or ``=``, in that preference."""
    for index in range(len(term)):
        for operator in ("!=", "==", "="):
            if term.startswith(operator, index):
                return term[:index], operator, term[index + len(operator) :]
    return None
