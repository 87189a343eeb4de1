"""Label selectors and field selectors, with apimachinery's grammar, matching and messages.

Label selectors have two forms:

- the string form (``labels.Parse``): comma-separated requirements, all of which must hold:
  ``a=b``, ``a==b``, ``a!=b`` (true when ``a`` is absent), ``a in (x,y)``, ``a notin (x)``
  (true when ``a`` is absent), ``a`` (exists), ``!a`` (does not exist), ``a>3``, ``a<3``;
- the struct form (``metav1.LabelSelector``): ``matchLabels`` and ``matchExpressions`` with the
  operators In, NotIn, Exists, DoesNotExist. In and NotIn need values; Exists and
  DoesNotExist must have none. A missing (``None``) struct selects nothing, an empty one
  selects everything (``LabelSelectorAsSelector``).

Requirements are kept sorted by key (stably), values of ``in``/``notin`` sorted and unique, so
``Selector.string()`` is the same text Kubernetes prints.

Field selectors (``fields.ParseSelector``) are ``field=value``, ``field==value`` and
``field!=value`` terms joined by commas, with ``\\``, ``,`` and ``=`` escaped by a backslash in
values. Which fields a kind supports is the API server's field-label conversion table;
``FieldSelector.for_kind`` reports others as ``field label not supported: <field>``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Final

import msgspec
from returns.result import Failure, Result, Success

from models.field_errors import FieldError, aggregate_message, forbidden, invalid, required
from models.k8s.base import ApiStruct, FrozenMap
from models.label_validation import label_key_errors, label_value_errors

INT64_MIN: Final = -(1 << 63)
INT64_MAX: Final = (1 << 63) - 1


class SelectorError(msgspec.Struct, frozen=True, kw_only=True):
    """Why a selector is not valid; ``message`` is worded as the API server words it."""

    message: str
    text: str = ""


class Operator(enum.StrEnum):
    """``selection.Operator``."""

    DOES_NOT_EXIST = "!"
    EQUALS = "="
    DOUBLE_EQUALS = "=="
    IN = "in"
    NOT_EQUALS = "!="
    NOT_IN = "notin"
    EXISTS = "exists"
    GREATER_THAN = "gt"
    LESS_THAN = "lt"


BINARY_OPERATORS: Final = ("in", "notin", "=", "==", "!=", "gt", "lt")


def _parse_int64(text: str) -> int | None:
    """``strconv.ParseInt(text, 10, 64)``: optional sign, ASCII digits, within int64."""
    body = text[1:] if text[:1] in ("+", "-") else text
    if not body or not body.isascii() or not body.isdigit():
        return None
    value = int(text)
    return value if INT64_MIN <= value <= INT64_MAX else None


class Requirement(msgspec.Struct, frozen=True, kw_only=True):
    """One requirement of a label selector (``labels.Requirement``)."""

    key: str
    operator: Operator
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """``Requirement.Matches``."""
        present = self.key in labels
        if self.operator in (Operator.IN, Operator.EQUALS, Operator.DOUBLE_EQUALS):
            return present and labels[self.key] in self.values
        if self.operator in (Operator.NOT_IN, Operator.NOT_EQUALS):
            return not present or labels[self.key] not in self.values
        if self.operator is Operator.EXISTS:
            return present
        if self.operator is Operator.DOES_NOT_EXIST:
            return not present
        if not present or len(self.values) != 1:
            return False
        label_value = _parse_int64(labels[self.key])
        bound = _parse_int64(self.values[0])
        if label_value is None or bound is None:
            return False
        if self.operator is Operator.GREATER_THAN:
            return label_value > bound
        return label_value < bound

    def string(self) -> str:
        """``Requirement.String``."""
        prefix = "!" if self.operator is Operator.DOES_NOT_EXIST else ""
        if self.operator in (Operator.EXISTS, Operator.DOES_NOT_EXIST):
            return f"{prefix}{self.key}"
        symbol = {
            Operator.EQUALS: "=",
            Operator.DOUBLE_EQUALS: "==",
            Operator.NOT_EQUALS: "!=",
            Operator.IN: " in ",
            Operator.NOT_IN: " notin ",
            Operator.GREATER_THAN: ">",
            Operator.LESS_THAN: "<",
        }[self.operator]
        shown = self.values[0] if len(self.values) == 1 else ",".join(sorted(self.values))
        if self.operator in (Operator.IN, Operator.NOT_IN):
            shown = f"({shown})"
        return f"{self.key}{symbol}{shown}"


def _requirement_errors(
    key: str, operator: Operator, values: tuple[str, ...], path: str
) -> tuple[FieldError, ...]:
    """``labels.NewRequirement``'s checks; ``path`` prefixes the field names."""
    prefix = f"{path}." if path else ""
    errors: list[FieldError] = []
    key_problems = label_key_errors(key)
    if key_problems:
        errors.append(invalid(f"{prefix}key", key, "; ".join(key_problems)))
    values_path = f"{prefix}values"
    if operator in (Operator.IN, Operator.NOT_IN) and not values:
        detail = "for 'in', 'notin' operators, values set can't be empty"
        errors.append(invalid(values_path, values, detail))
    exact = operator in (Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.NOT_EQUALS)
    if exact and len(values) != 1:
        detail = "exact-match compatibility requires one single value"
        errors.append(invalid(values_path, values, detail))
    if operator in (Operator.EXISTS, Operator.DOES_NOT_EXIST) and values:
        detail = "values set must be empty for exists and does not exist"
        errors.append(invalid(values_path, values, detail))
    if operator in (Operator.GREATER_THAN, Operator.LESS_THAN):
        if len(values) != 1:
            detail = "for 'Gt', 'Lt' operators, exactly one value is required"
            errors.append(invalid(values_path, values, detail))
        for index, value in enumerate(values):
            if _parse_int64(value) is None:
                detail = "for 'Gt', 'Lt' operators, the value must be an integer"
                errors.append(invalid(f"{values_path}[{index}]", value, detail))
    for index, value in enumerate(values):
        value_problems = label_value_errors(value)
        if value_problems:
            place = f"{values_path}[{index}][{key}]"
            errors.append(invalid(place, value, "; ".join(value_problems)))
    return tuple(errors)


def new_requirement(
    key: str, operator: Operator, values: tuple[str, ...] = ()
) -> Result[Requirement, SelectorError]:
    """``labels.NewRequirement``: a validated requirement."""
    errors = _requirement_errors(key, operator, values, "")
    if errors:
        return Failure(SelectorError(message=aggregate_message(errors)))
    return Success(Requirement(key=key, operator=operator, values=values))


class Selector(msgspec.Struct, frozen=True, kw_only=True):
    """A parsed label selector (``labels.Selector``). ``selects_nothing`` is
    ``labels.Nothing()``, what a missing struct selector means; otherwise every requirement
    must hold, and no requirements selects everything."""

    requirements: tuple[Requirement, ...] = ()
    selects_nothing: bool = False

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.selects_nothing:
            return False
        return all(requirement.matches(labels) for requirement in self.requirements)

    def is_empty(self) -> bool:
        """``Selector.Empty``: selects everything."""
        return not self.selects_nothing and not self.requirements

    def string(self) -> str:
        """``Selector.String``: requirements joined by commas (empty for everything/nothing)."""
        return ",".join(requirement.string() for requirement in self.requirements)

    def with_requirements(self, *added: Requirement) -> Selector:
        """``Selector.Add``: stays sorted by key."""
        if self.selects_nothing:
            return self
        combined = sorted((*self.requirements, *added), key=lambda requirement: requirement.key)
        return Selector(requirements=tuple(combined))


EVERYTHING: Final = Selector()
NOTHING: Final = Selector(selects_nothing=True)


# The string form --------------------------------------------------------------------------


class _Token(enum.Enum):
    ERROR = enum.auto()
    END = enum.auto()
    CLOSE = enum.auto()
    COMMA = enum.auto()
    NOT = enum.auto()
    DOUBLE_EQUALS = enum.auto()
    EQUALS = enum.auto()
    GREATER = enum.auto()
    IDENTIFIER = enum.auto()
    IN = enum.auto()
    LESS = enum.auto()
    NOT_EQUALS = enum.auto()
    NOT_IN = enum.auto()
    OPEN = enum.auto()


_KEYWORDS: Final = {
    ")": _Token.CLOSE,
    ",": _Token.COMMA,
    "!": _Token.NOT,
    "==": _Token.DOUBLE_EQUALS,
    "=": _Token.EQUALS,
    ">": _Token.GREATER,
    "in": _Token.IN,
    "<": _Token.LESS,
    "!=": _Token.NOT_EQUALS,
    "notin": _Token.NOT_IN,
    "(": _Token.OPEN,
}
_SPECIAL: Final = frozenset("=!(),><")
_WHITESPACE: Final = frozenset(" \t\r\n")
_OPERATOR_TOKENS: Final = {
    _Token.IN: Operator.IN,
    _Token.EQUALS: Operator.EQUALS,
    _Token.DOUBLE_EQUALS: Operator.DOUBLE_EQUALS,
    _Token.GREATER: Operator.GREATER_THAN,
    _Token.LESS: Operator.LESS_THAN,
    _Token.NOT_IN: Operator.NOT_IN,
    _Token.NOT_EQUALS: Operator.NOT_EQUALS,
}


def _lex(text: str) -> list[tuple[_Token, str]]:
    """``labels.Lexer``: identifiers run to a special symbol or whitespace; symbols take the
    longest prefix that is a token."""
    tokens: list[tuple[_Token, str]] = []
    position, end = 0, len(text)
    while True:
        while position < end and text[position] in _WHITESPACE:
            position += 1
        if position >= end:
            tokens.append((_Token.END, ""))
            return tokens
        start = position
        if text[position] in _SPECIAL:
            best: tuple[_Token, str] | None = None
            while position < end and text[position] in _SPECIAL:
                candidate = text[start : position + 1]
                if candidate in _KEYWORDS:
                    best = (_KEYWORDS[candidate], candidate)
                elif best is not None:
                    break
                position += 1
            if best is None:
                literal = text[start:position]
                tokens.append((_Token.ERROR, f"error expected: keyword found '{literal}'"))
            else:
                tokens.append(best)
                position = start + len(best[1])
            continue
        while position < end and text[position] not in _SPECIAL | _WHITESPACE:
            position += 1
        word = text[start:position]
        tokens.append((_KEYWORDS.get(word, _Token.IDENTIFIER), word))


class _ParseError(Exception):
    """Internal: a syntax error, turned into a Failure at the boundary."""


class _Parser:
    """``labels.Parser``: recursive descent over the token list (bounded by its length)."""

    def __init__(self, text: str) -> None:
        self.tokens = _lex(text)
        self.position = 0

    def lookahead(self, values: bool) -> tuple[_Token, str]:
        token, literal = self.tokens[self.position]
        if values and token in (_Token.IN, _Token.NOT_IN):
            token = _Token.IDENTIFIER
        return token, literal

    def consume(self, values: bool) -> tuple[_Token, str]:
        result = self.lookahead(values)
        self.position += 1
        return result

    def parse(self) -> list[Requirement]:
        requirements: list[Requirement] = []
        while True:
            token, literal = self.lookahead(True)
            if token is _Token.END:
                return requirements
            if token not in (_Token.IDENTIFIER, _Token.NOT):
                raise _ParseError(f"found '{literal}', expected: !, identifier, or 'end of string'")
            try:
                requirements.append(self.requirement())
            except _ParseError as error:
                raise _ParseError(f"unable to parse requirement: {error}") from None
            token, literal = self.consume(True)
            if token is _Token.END:
                return requirements
            if token is not _Token.COMMA:
                raise _ParseError(f"found '{literal}', expected: ',' or 'end of string'")
            following, following_literal = self.lookahead(True)
            if following not in (_Token.IDENTIFIER, _Token.NOT):
                raise _ParseError(f"found '{following_literal}', expected: identifier after ','")

    def requirement(self) -> Requirement:
        key, operator = self.key_and_operator()
        if operator is None:
            operator = self.operator()
            if operator in (Operator.IN, Operator.NOT_IN):
                values = self.value_set()
            else:
                values = self.exact_value()
        else:
            values = ()
        errors = _requirement_errors(key, operator, values, "")
        if errors:
            raise _ParseError(aggregate_message(errors))
        return Requirement(key=key, operator=operator, values=values)

    def key_and_operator(self) -> tuple[str, Operator | None]:
        operator: Operator | None = None
        token, literal = self.consume(True)
        if token is _Token.NOT:
            operator = Operator.DOES_NOT_EXIST
            token, literal = self.consume(True)
        if token is not _Token.IDENTIFIER:
            raise _ParseError(f"found '{literal}', expected: identifier")
        key_problems = label_key_errors(literal)
        if key_problems:
            raise _ParseError(invalid("", literal, "; ".join(key_problems)).message)
        following, _ = self.lookahead(True)
        if following in (_Token.END, _Token.COMMA) and operator is None:
            operator = Operator.EXISTS
        return literal, operator

    def operator(self) -> Operator:
        token, literal = self.consume(False)
        if token not in _OPERATOR_TOKENS:
            raise _ParseError(f"found '{literal}', expected: {', '.join(BINARY_OPERATORS)}")
        return _OPERATOR_TOKENS[token]

    def value_set(self) -> tuple[str, ...]:
        token, literal = self.consume(True)
        if token is not _Token.OPEN:
            raise _ParseError(f"found '{literal}' expected: '('")
        token, literal = self.lookahead(True)
        if token is _Token.CLOSE:
            self.consume(True)
            return ("",)
        if token not in (_Token.IDENTIFIER, _Token.COMMA):
            raise _ParseError(f"found '{literal}', expected: ',', ')' or identifier")
        found = self.identifier_list()
        closing, _ = self.consume(True)
        if closing is not _Token.CLOSE:
            raise _ParseError(f"found '{literal}', expected: ')'")
        return tuple(sorted(found))

    def identifier_list(self) -> set[str]:
        found: set[str] = set()
        for _ in range(len(self.tokens)):
            token, literal = self.consume(True)
            if token is _Token.IDENTIFIER:
                found.add(literal)
                following, following_literal = self.lookahead(True)
                if following is _Token.CLOSE:
                    return found
                if following is not _Token.COMMA:
                    raise _ParseError(f"found '{following_literal}', expected: ',' or ')'")
            elif token is _Token.COMMA:
                following, _ = self.lookahead(True)
                if not found or following in (_Token.CLOSE, _Token.COMMA):
                    found.add("")  # "(,", ",)" and ",," each stand for an empty value
                if following is _Token.CLOSE:
                    return found
            else:
                raise _ParseError(f"found '{literal}', expected: ',', or identifier")
        raise _ParseError("found 'end of string', expected: ',' or ')'")

    def exact_value(self) -> tuple[str, ...]:
        token, _ = self.lookahead(True)
        if token in (_Token.END, _Token.COMMA):
            return ("",)
        token, literal = self.consume(True)
        if token is _Token.IDENTIFIER:
            return (literal,)
        raise _ParseError(f"found '{literal}', expected: identifier")


def parse_label_selector(text: str) -> Result[Selector, SelectorError]:
    """``labels.Parse``: the selector, sorted by key, or the parse error."""
    try:
        requirements = _Parser(text).parse()
    except _ParseError as error:
        return Failure(SelectorError(message=str(error), text=text))
    ordered = sorted(requirements, key=lambda requirement: requirement.key)
    return Success(Selector(requirements=tuple(ordered)))


# The struct form --------------------------------------------------------------------------


class LabelSelectorOperator(enum.StrEnum):
    """``metav1.LabelSelectorOperator``."""

    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"


_STRUCT_OPERATORS: Final = {
    "In": Operator.IN,
    "NotIn": Operator.NOT_IN,
    "Exists": Operator.EXISTS,
    "DoesNotExist": Operator.DOES_NOT_EXIST,
}


class LabelSelectorRequirement(ApiStruct, frozen=True, kw_only=True):
    """``metav1.LabelSelectorRequirement``. ``operator`` is kept as written so that an invalid
    one can be reported rather than refused while decoding."""

    key: str | None = None
    operator: str | None = None
    values: tuple[str, ...] | None = None


class LabelSelector(ApiStruct, frozen=True, kw_only=True):
    """``metav1.LabelSelector``: matchLabels AND matchExpressions."""

    match_labels: FrozenMap[str, str] | None = None
    match_expressions: tuple[LabelSelectorRequirement, ...] | None = None


def validate_label_selector(selector: LabelSelector, path: str) -> tuple[FieldError, ...]:
    """``ValidateLabelSelector``: the API server's checks, fields named under ``path``."""
    errors: list[FieldError] = []
    labels = selector.match_labels or FrozenMap()
    for key in sorted(labels.keys()):
        key_problems = label_key_errors(key)
        if key_problems:
            errors.append(invalid(f"{path}.matchLabels", key, "; ".join(key_problems)))
        value_problems = label_value_errors(labels[key])
        if value_problems:
            errors.append(invalid(f"{path}.matchLabels", labels[key], "; ".join(value_problems)))
    for index, expression in enumerate(selector.match_expressions or ()):
        place = f"{path}.matchExpressions[{index}]"
        values = expression.values or ()
        operator_name = expression.operator or ""
        key = expression.key or ""
        if operator_name in ("In", "NotIn") and not values:
            detail = "must be specified when `operator` is 'In' or 'NotIn'"
            errors.append(required(f"{place}.values", detail))
        elif operator_name in ("Exists", "DoesNotExist") and values:
            detail = "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
            errors.append(forbidden(f"{place}.values", detail))
        elif operator_name not in _STRUCT_OPERATORS:
            detail = "not a valid selector operator"
            errors.append(invalid(f"{place}.operator", operator_name, detail))
        for problem in label_key_errors(key):
            errors.append(invalid(f"{place}.key", key, problem))
        for value_index, value in enumerate(values):
            for problem in label_value_errors(value):
                errors.append(invalid(f"{place}.values[{value_index}]", value, problem))
    return tuple(errors)


def label_selector_as_selector(
    selector: LabelSelector | None,
) -> Result[Selector, SelectorError]:
    """``metav1.LabelSelectorAsSelector``: None selects nothing, empty selects everything."""
    if selector is None:
        return Success(NOTHING)
    labels = selector.match_labels or FrozenMap()
    expressions = selector.match_expressions or ()
    if len(labels) + len(expressions) == 0:
        return Success(EVERYTHING)
    requirements: list[Requirement] = []
    for key in sorted(labels.keys()):
        errors = _requirement_errors(key, Operator.EQUALS, (labels[key],), "")
        if errors:
            return Failure(SelectorError(message=aggregate_message(errors)))
        requirements.append(Requirement(key=key, operator=Operator.EQUALS, values=(labels[key],)))
    for expression in expressions:
        operator = _STRUCT_OPERATORS.get(expression.operator or "")
        if operator is None:
            quoted = msgspec.json.encode(expression.operator or "").decode()
            return Failure(
                SelectorError(message=f"{quoted} is not a valid label selector operator")
            )
        values = tuple(expression.values or ())
        key = expression.key or ""
        errors = _requirement_errors(key, operator, values, "")
        if errors:
            return Failure(SelectorError(message=aggregate_message(errors)))
        requirements.append(Requirement(key=key, operator=operator, values=values))
    return Success(Selector().with_requirements(*requirements))


def parse_to_label_selector(text: str) -> Result[LabelSelector, SelectorError]:
    """``metav1.ParseToLabelSelector``: the struct form of a selector string."""
    parsed = parse_label_selector(text)
    if not isinstance(parsed, Success):
        reason = parsed.failure().message
        message = f'couldn\'t parse the selector string "{text}": {reason}'
        return Failure(SelectorError(message=message, text=text))
    match_labels: dict[str, str] = {}
    expressions: list[LabelSelectorRequirement] = []
    names = {
        Operator.IN: "In",
        Operator.NOT_IN: "NotIn",
        Operator.EXISTS: "Exists",
        Operator.DOES_NOT_EXIST: "DoesNotExist",
    }
    for requirement in parsed.unwrap().requirements:
        if requirement.operator in (Operator.EQUALS, Operator.DOUBLE_EQUALS):
            match_labels[requirement.key] = requirement.values[0]
        elif requirement.operator in names:
            expression = LabelSelectorRequirement(
                key=requirement.key,
                operator=names[requirement.operator],
                values=tuple(sorted(set(requirement.values))) or None,
            )
            expressions.append(expression)
        elif requirement.operator in (Operator.GREATER_THAN, Operator.LESS_THAN):
            quoted = f'"{requirement.operator.value}"'
            return Failure(SelectorError(message=f"{quoted} isn't supported in label selectors"))
        else:
            quoted = f'"{requirement.operator.value}"'
            message = f"{quoted} is not a valid label selector operator"
            return Failure(SelectorError(message=message))
    return Success(
        LabelSelector(match_labels=FrozenMap(match_labels), match_expressions=tuple(expressions))
    )


def format_label_selector(selector: LabelSelector | None) -> str:
    """``metav1.FormatLabelSelector``: the string form, ``<none>`` for none, ``<error>``."""
    converted = label_selector_as_selector(selector)
    if not isinstance(converted, Success):
        return "<error>"
    return converted.unwrap().string() or "<none>"


def selector_from_labels(labels: Mapping[str, str]) -> Selector:
    """``labels.SelectorFromSet``: equality on every pair (no validation)."""
    requirements = (
        Requirement(key=key, operator=Operator.EQUALS, values=(labels[key],))
        for key in sorted(labels)
    )
    return Selector(requirements=tuple(requirements))


# Field selectors live in their own module; re-exported here as part of this module's API.
from models.field_selectors import (  # noqa: E402
    FIELD_LABELS_ALL_KINDS,
    FIELD_LABELS_BY_KIND,
    NODE_FIELD_LABELS,
    POD_FIELD_LABELS,
    FieldSelector,
    FieldSelectorError,
    FieldTerm,
    escape_field_value,
    parse_field_selector,
)

__all__ = [
    "BINARY_OPERATORS",
    "EVERYTHING",
    "FIELD_LABELS_ALL_KINDS",
    "FIELD_LABELS_BY_KIND",
    "NODE_FIELD_LABELS",
    "NOTHING",
    "POD_FIELD_LABELS",
    "FieldSelector",
    "FieldSelectorError",
    "FieldTerm",
    "LabelSelector",
    "LabelSelectorOperator",
    "LabelSelectorRequirement",
    "Operator",
    "Requirement",
    "Selector",
    "SelectorError",
    "escape_field_value",
    "format_label_selector",
    "label_selector_as_selector",
    "new_requirement",
    "parse_field_selector",
    "parse_label_selector",
    "parse_to_label_selector",
    "selector_from_labels",
    "validate_label_selector",
]
