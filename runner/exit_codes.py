"""The exit codes every kubeoracle command uses (DESIGN.md, "Runner")."""

from enum import IntEnum
from typing import final


@final
class ExitCode(IntEnum):
    """Process exit status, shared by every verb."""

    PASS = 0
    """Everything checked held."""
    VIOLATION = 1
    """An invariant broke, a history is not linearizable, a replay diverged, conformance failed."""
    USAGE = 2
    """Bad arguments or unreadable input (the message names the file, line and reason)."""
    INCONCLUSIVE = 3
    """A time or search limit was reached, or the solver answered unknown."""
