"""The :class:`impl.controllers.arithmetic.Arithmetic` of z3 integer terms, so the rollout and
autoscaling formulas the controllers run are the formulas z3 reasons about. ``floor_divide``
is only used with positive divisors, where z3's integer division is the floor."""

from __future__ import annotations

from typing import Final, final

from proofs.z3adapter import And, ArithRef, BoolRef, If, IntVal, Not, Or


@final
class Z3Arithmetic:
    def constant(self, value: int) -> ArithRef:
        return IntVal(value)

    def add(self, left: ArithRef, right: ArithRef) -> ArithRef:
        return left + right

    def subtract(self, left: ArithRef, right: ArithRef) -> ArithRef:
        return left - right

    def multiply(self, left: ArithRef, right: ArithRef) -> ArithRef:
        return left * right

    def floor_divide(self, left: ArithRef, right: ArithRef) -> ArithRef:
        return left / right

    def less(self, left: ArithRef, right: ArithRef) -> BoolRef:
        return left < right

    def less_equal(self, left: ArithRef, right: ArithRef) -> BoolRef:
        return left <= right

    def equal(self, left: ArithRef, right: ArithRef) -> BoolRef:
        return left == right

    def both(self, left: BoolRef, right: BoolRef) -> BoolRef:
        return And(left, right)

    def either(self, left: BoolRef, right: BoolRef) -> BoolRef:
        return Or(left, right)

    def negate(self, value: BoolRef) -> BoolRef:
        return Not(value)

    def select(self, condition: BoolRef, then: ArithRef, otherwise: ArithRef) -> ArithRef:
        return If(condition, then, otherwise)


Z3: Final = Z3Arithmetic()
