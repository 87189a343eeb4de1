"""Integer arithmetic written once for Python ints and for z3 terms.

The rollout and autoscaling formulas (``rollout_math``, ``hpa_math``) take an
:class:`Arithmetic` first: :data:`INTEGERS` runs them on Python ints (what the controllers
execute) and the proofs pass a z3 arithmetic, so the code z3 reasons about is the code that
runs. Divisions here only ever divide non-negative numbers by positive constants or counts, so
floor and Go's truncation agree.
"""

from __future__ import annotations

from typing import Final, Generic, Protocol, TypeVar, final

N = TypeVar("N")
B = TypeVar("B")


class Arithmetic(Protocol, Generic[N, B]):
    def constant(self, value: int) -> N: ...
    def add(self, left: N, right: N) -> N: ...
    def subtract(self, left: N, right: N) -> N: ...
    def multiply(self, left: N, right: N) -> N: ...
    def floor_divide(self, left: N, right: N) -> N:
        """``left // right`` for ``right > 0``."""
        ...

    def less(self, left: N, right: N) -> B: ...
    def less_equal(self, left: N, right: N) -> B: ...
    def equal(self, left: N, right: N) -> B: ...
    def both(self, left: B, right: B) -> B: ...
    def either(self, left: B, right: B) -> B: ...
    def negate(self, value: B) -> B: ...
    def select(self, condition: B, then: N, otherwise: N) -> N: ...


@final
class IntegerArithmetic:
    def constant(self, value: int) -> int:
        return value

    def add(self, left: int, right: int) -> int:
        return left + right

    def subtract(self, left: int, right: int) -> int:
        return left - right

    def multiply(self, left: int, right: int) -> int:
        return left * right

    def floor_divide(self, left: int, right: int) -> int:
        assert right > 0, "division by a non-positive number"
        return left // right

    def less(self, left: int, right: int) -> bool:
        return left < right

    def less_equal(self, left: int, right: int) -> bool:
        return left <= right

    def equal(self, left: int, right: int) -> bool:
        return left == right

    def both(self, left: bool, right: bool) -> bool:
        return left and right

    def either(self, left: bool, right: bool) -> bool:
        return left or right

    def negate(self, value: bool) -> bool:
        return not value

    def select(self, condition: bool, then: int, otherwise: int) -> int:
        return then if condition else otherwise


INTEGERS: Final = IntegerArithmetic()


def minimum(ar: Arithmetic[N, B], left: N, right: N) -> N:
    return ar.select(ar.less(left, right), left, right)


def maximum(ar: Arithmetic[N, B], left: N, right: N) -> N:
    return ar.select(ar.less(left, right), right, left)


def ceil_divide(ar: Arithmetic[N, B], left: N, right: N) -> N:
    """Ceiling of ``left / right`` for ``right > 0``."""
    zero = ar.constant(0)
    return ar.subtract(zero, ar.floor_divide(ar.subtract(zero, left), right))
