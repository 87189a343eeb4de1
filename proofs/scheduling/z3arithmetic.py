"""The :class:`impl.scheduler.arithmetic.Arithmetic` of z3 integer terms, so that the score
formulas the scheduler runs are the formulas z3 reasons about.

Go's integer division truncates toward zero; z3's ``/`` on integers is Euclidean, so
``quotient`` divides magnitudes and restores the sign.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final, final

from proofs.z3adapter import And, ArithRef, BoolRef, If, Int, IntVal, Proved, Verdict


@final
class Z3Arithmetic:
    """Integer operations on z3 terms with Go int64 division semantics."""

    def constant(self, value: int) -> ArithRef:
        return IntVal(value)

    def add(self, left: ArithRef, right: ArithRef) -> ArithRef:
        return left + right

    def subtract(self, left: ArithRef, right: ArithRef) -> ArithRef:
        return left - right

    def multiply(self, left: ArithRef, right: ArithRef) -> ArithRef:
        return left * right

    def quotient(self, left: ArithRef, right: ArithRef) -> ArithRef:
        magnitude = If(left >= 0, left, -left) / If(right >= 0, right, -right)
        same_sign = (left >= 0) == (right > 0)
        return If(same_sign, magnitude, -magnitude)

    def less(self, left: ArithRef, right: ArithRef) -> BoolRef:
        return left < right

    def equal(self, left: ArithRef, right: ArithRef) -> BoolRef:
        return left == right

    def equal_each(self, values: Sequence[ArithRef], target: ArithRef) -> list[BoolRef]:
        return [value == target for value in values]

    def select(self, condition: BoolRef, then: ArithRef, otherwise: ArithRef) -> ArithRef:
        return If(condition, then, otherwise)

    def conjunction(self, left: BoolRef, right: BoolRef) -> BoolRef:
        return And(left, right)

    def maximum_of(self, values: Sequence[ArithRef]) -> ArithRef:
        best = values[0]
        for value in values[1:]:
            best = If(best < value, value, best)
        return best


Z3: Final = Z3Arithmetic()
AMOUNT_BOUND: Final = 2**56
"""Resource amounts range over 0..2^56 (so that ``amount * 100`` stays inside int64)."""


def amount(name: str) -> tuple[ArithRef, BoolRef]:
    """A resource amount variable and its range constraint."""
    term = Int(name)
    return term, And(term >= 0, term <= AMOUNT_BOUND)


def in_score_range(term: ArithRef) -> BoolRef:
    """0 <= term <= 100."""
    return And(term >= 0, term <= 100)


def first_failure(checks: Sequence[Callable[[], Verdict]]) -> Verdict:
    """Run checks in order; the first verdict that is not Proved, else Proved."""
    for check in checks:
        verdict = check()
        if not isinstance(verdict, Proved):
            return verdict
    return Proved()
