"""Errors that end a command with exit code 2: bad usage or unreadable input."""

from typing import final


@final
class InputError(Exception):
    """Input that cannot be used, with where it came from (file, line, field) and why."""

    def __init__(self, reason: str, *, source: str = "", line: int = 0, field: str = "") -> None:
        self.reason = reason
        self.source = source
        self.line = line
        self.field = field
        super().__init__(self.describe())

    def describe(self) -> str:
        """One line naming the place and the reason, for a person to act on."""
        place = self.source
        if self.line:
            place = f"{place}:{self.line}" if place else f"line {self.line}"
        if self.field:
            place = f"{place}: field {self.field}" if place else f"field {self.field}"
        return f"{place}: {self.reason}" if place else self.reason
