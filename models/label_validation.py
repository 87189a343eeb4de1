"""Label key and value validation with apimachinery's messages (``IsLabelKey``,
``IsValidLabelValue``, ``IsDNS1123Subdomain``). Lengths count UTF-8 bytes, as Go does."""

from __future__ import annotations

import re
from typing import Final

LABEL_KEY_FORMAT: Final = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
LABEL_KEY_MESSAGE: Final = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character"
)
LABEL_VALUE_FORMAT: Final = f"({LABEL_KEY_FORMAT})?"
LABEL_VALUE_MESSAGE: Final = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character"
)
DNS1123_LABEL_FORMAT: Final = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN_FORMAT: Final = f"{DNS1123_LABEL_FORMAT}(\\.{DNS1123_LABEL_FORMAT})*"
DNS1123_SUBDOMAIN_MESSAGE: Final = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character"
)
LABEL_MAX_BYTES: Final = 63
DNS1123_SUBDOMAIN_MAX_BYTES: Final = 253

_LABEL_KEY_PATTERN: Final = re.compile(LABEL_KEY_FORMAT)
_LABEL_VALUE_PATTERN: Final = re.compile(LABEL_VALUE_FORMAT)
_DNS1123_SUBDOMAIN_PATTERN: Final = re.compile(DNS1123_SUBDOMAIN_FORMAT)


def regex_error(message: str, pattern: str, *examples: str) -> str:
    """``content.RegexError``: the message, examples and the pattern, worded as Go words it."""
    if not examples:
        return f"{message} (regex used for validation is '{pattern}')"
    shown = " or ".join(f"'{example}', " for example in examples)
    return f"{message} (e.g. {shown}regex used for validation is '{pattern}')"


def max_length_error(length: int) -> str:
    return f"must be no more than {length} bytes"


def _byte_length(text: str) -> int:
    return len(text.encode())


def dns1123_subdomain_errors(value: str) -> tuple[str, ...]:
    """``IsDNS1123Subdomain``: the problems with a DNS subdomain (empty when valid)."""
    errors: list[str] = []
    if _byte_length(value) > DNS1123_SUBDOMAIN_MAX_BYTES:
        errors.append(max_length_error(DNS1123_SUBDOMAIN_MAX_BYTES))
    if _DNS1123_SUBDOMAIN_PATTERN.fullmatch(value) is None:
        errors.append(
            regex_error(DNS1123_SUBDOMAIN_MESSAGE, DNS1123_SUBDOMAIN_FORMAT, "example.com")
        )
    return tuple(errors)


def label_key_errors(key: str) -> tuple[str, ...]:
    """``IsLabelKey`` (= ``IsQualifiedName``): an optional DNS prefix, '/', and a name."""
    errors: list[str] = []
    parts = key.split("/")
    if len(parts) > 2:
        return (
            "a valid label key "
            + regex_error(LABEL_KEY_MESSAGE, LABEL_KEY_FORMAT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
        )
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            errors.append("prefix part must be non-empty")
        else:
            errors.extend("prefix part " + message for message in dns1123_subdomain_errors(prefix))
    if not name:
        errors.append("name part must be non-empty")
    elif _byte_length(name) > LABEL_MAX_BYTES:
        errors.append("name part " + max_length_error(LABEL_MAX_BYTES))
    if _LABEL_KEY_PATTERN.fullmatch(name) is None:
        errors.append(
            "name part "
            + regex_error(LABEL_KEY_MESSAGE, LABEL_KEY_FORMAT, "MyName", "my.name", "123-abc")
        )
    return tuple(errors)


def label_value_errors(value: str) -> tuple[str, ...]:
    """``IsValidLabelValue``: empty, or at most 63 bytes of the label character set."""
    errors: list[str] = []
    if _byte_length(value) > LABEL_MAX_BYTES:
        errors.append(max_length_error(LABEL_MAX_BYTES))
    if _LABEL_VALUE_PATTERN.fullmatch(value) is None:
        errors.append(
            regex_error(LABEL_VALUE_MESSAGE, LABEL_VALUE_FORMAT, "MyValue", "my_value", "12345")
        )
    return tuple(errors)
