"""Validation errors worded like apimachinery's ``field.Error`` (``<path>: <Type>: <detail>``)."""

from __future__ import annotations

import enum
import json

import msgspec


class FieldErrorType(enum.StrEnum):
    """The kinds of ``field.Error`` this project reports."""

    INVALID = "Invalid value"
    REQUIRED = "Required value"
    FORBIDDEN = "Forbidden"
    NOT_SUPPORTED = "Unsupported value"
    DUPLICATE = "Duplicate value"


class FieldError(msgspec.Struct, frozen=True, kw_only=True):
    """One problem with one field. ``bad_value`` is the offending value as JSON-able data
    (a string, a list of strings, ...); it is shown only for the kinds that show it."""

    type: FieldErrorType
    field: str
    detail: str = ""
    bad_value: str | int | bool | tuple[str, ...] | None = None
    shows_value: bool = False

    @property
    def message(self) -> str:
        """``field.Error.Error()``: the path (``<nil>`` when there is none) and the body."""
        return f"{self.field or '<nil>'}: {self.body}"

    @property
    def body(self) -> str:
        text = self.type.value
        if self.shows_value:
            value = self.bad_value
            rendered = json.dumps(list(value) if isinstance(value, tuple) else value)
            text = f"{text}: {rendered}"
        if self.detail:
            text = f"{text}: {self.detail}"
        return text


def invalid(
    field: str, value: str | int | bool | tuple[str, ...] | None, detail: str
) -> FieldError:
    """``field.Invalid``."""
    return FieldError(
        type=FieldErrorType.INVALID, field=field, detail=detail, bad_value=value, shows_value=True
    )


def required(field: str, detail: str) -> FieldError:
    """``field.Required``."""
    return FieldError(type=FieldErrorType.REQUIRED, field=field, detail=detail)


def forbidden(field: str, detail: str) -> FieldError:
    """``field.Forbidden``."""
    return FieldError(type=FieldErrorType.FORBIDDEN, field=field, detail=detail)


def aggregate_message(errors: tuple[FieldError, ...]) -> str:
    """``ErrorList.ToAggregate().Error()``: one message alone, several in brackets."""
    messages: list[str] = []
    for error in errors:
        if error.message not in messages:
            messages.append(error.message)
    if len(messages) == 1:
        return messages[0]
    return "[" + ", ".join(messages) + "]"
