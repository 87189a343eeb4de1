"""Errors that end a command with exit code 2: bad usage or unreadable input.

The one error type is :class:`models.strict_input.InputError` (pure readers raise it too);
it is re-exported here for the runner's modules.
"""

from models.strict_input import InputError

__all__ = ["InputError"]
