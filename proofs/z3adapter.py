"""The one module that imports z3: typed re-exports and the ``Proved / Counterexample / Unknown``
verdict that every proof returns.

Proof modules import z3 names from here, never from z3, so the solver's untyped surface stays
behind the local stubs in ``proofs/stubs/z3``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import final

import msgspec
import z3
from z3 import (
    And,
    ArithRef,
    Array,
    ArrayRef,
    ArraySort,
    Bool,
    BoolRef,
    BoolSort,
    BoolVal,
    Const,
    DeclareSort,
    Distinct,
    Exists,
    ExprRef,
    ForAll,
    FuncDeclRef,
    Function,
    If,
    Implies,
    Int,
    IntSort,
    IntVal,
    K,
    Lambda,
    ModelRef,
    Not,
    Or,
    Select,
    Solver,
    SortRef,
    Store,
    Sum,
    is_true,
    sat,
    simplify,
    substitute,
    unknown,
    unsat,
)

from proofs.execution import Execution

__all__ = [
    "And",
    "ArithRef",
    "Array",
    "ArrayRef",
    "ArraySort",
    "Bool",
    "BoolRef",
    "BoolSort",
    "BoolVal",
    "Const",
    "Counterexample",
    "DeclareSort",
    "Distinct",
    "Exists",
    "ExprRef",
    "ForAll",
    "FuncDeclRef",
    "Function",
    "If",
    "Implies",
    "Int",
    "IntSort",
    "IntVal",
    "K",
    "Lambda",
    "ModelRef",
    "Not",
    "Or",
    "Proved",
    "Select",
    "Solver",
    "SortRef",
    "Store",
    "Sum",
    "Unknown",
    "Verdict",
    "check_valid",
    "is_true",
    "model_bool",
    "model_int",
    "model_pairs",
    "sat",
    "select_bool",
    "select_int",
    "simplify",
    "solver_version",
    "substitute",
    "unknown",
    "unsat",
    "unsatisfied_labels",
]


@final
class Proved(msgspec.Struct, frozen=True, kw_only=True, tag="proved"):
    """z3 found the negation of the claim unsatisfiable."""


@final
class Counterexample(msgspec.Struct, frozen=True, kw_only=True, tag="counterexample"):
    """z3 found an assignment that breaks the claim; ``assignment`` maps names to values."""

    assignment: tuple[tuple[str, str], ...]
    execution: Execution | None = None
    """For a bounded check of the cluster model: the violating execution as values."""


@final
class Unknown(msgspec.Struct, frozen=True, kw_only=True, tag="unknown"):
    """z3 could not decide (timeout, incompleteness); ``reason`` is z3's own word."""

    reason: str


Verdict = Proved | Counterexample | Unknown


def check_valid(
    claim: BoolRef,
    *,
    assumptions: Sequence[BoolRef] = (),
    timeout_ms: int = 60_000,
    describe: Callable[[ModelRef], tuple[tuple[str, str], ...]] | None = None,
) -> Verdict:
    """Is ``assumptions -> claim`` valid? Asks z3 for a model of ``assumptions and not claim``.

    ``describe`` turns a model into readable ``(name, value)`` pairs; by default every constant
    the model assigns is listed, sorted by name.
    """
    assert timeout_ms > 0
    solver = Solver()
    solver.set("timeout", timeout_ms)
    for assumption in assumptions:
        solver.add(assumption)
    solver.add(Not(claim))
    result = solver.check()
    if result == z3.unsat:
        return Proved()
    if result == z3.sat:
        model = solver.model()
        pairs = describe(model) if describe is not None else _all_constants(model)
        return Counterexample(assignment=pairs)
    return Unknown(reason=solver.reason_unknown())


def _all_constants(model: ModelRef) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((decl.name(), str(model[decl])) for decl in model.decls()))


def model_pairs(model: ModelRef) -> tuple[tuple[str, str], ...]:
    """Every constant a model assigns, as sorted ``(name, value)`` pairs."""
    return _all_constants(model)


def model_int(model: ModelRef, term: ArithRef) -> int:
    """The integer a model gives ``term`` (completing the model where it is silent)."""
    value = model.eval(term, model_completion=True)
    assert isinstance(value, z3.IntNumRef), f"{term} is not an integer in the model"
    return value.as_long()


def solver_version() -> str:
    """z3's version string, for reports."""
    return z3.get_version_string()


def model_bool(model: ModelRef, term: BoolRef) -> bool:
    """The truth value a model gives ``term`` (completing the model where it is silent)."""
    return is_true(model.eval(term, model_completion=True))


def select_int(array: ArrayRef, *indexes: ExprRef | int) -> ArithRef:
    """``array[indexes]`` for an array whose range is the integers."""
    value = Select(array, *indexes)
    assert isinstance(value, ArithRef), f"{array} does not hold integers"
    return value


def select_bool(array: ArrayRef, *indexes: ExprRef | int) -> BoolRef:
    """``array[indexes]`` for an array whose range is the booleans."""
    value = Select(array, *indexes)
    assert isinstance(value, BoolRef), f"{array} does not hold booleans"
    return value


def unsatisfied_labels(
    labelled: Sequence[tuple[str, BoolRef]],
    *,
    background: Sequence[BoolRef] = (),
    timeout_ms: int = 10_000,
) -> tuple[str, ...] | Unknown:
    """Can all ``labelled`` formulas hold together (with ``background``)? ``()`` when they can;
    otherwise the labels of an unsatisfiable core: the conjuncts that cannot hold together."""
    assert timeout_ms > 0
    solver = Solver()
    solver.set("timeout", timeout_ms)
    for formula in background:
        solver.add(formula)
    markers: dict[str, BoolRef] = {}
    for index, (label, formula) in enumerate(labelled):
        marker = Bool(f"label {index}: {label}")
        markers[str(marker)] = marker
        solver.add(Implies(marker, formula))
    result = solver.check(*markers.values())
    if result == z3.sat:
        return ()
    if result == z3.unsat:
        core = {str(marker) for marker in solver.unsat_core()}
        return tuple(
            label for index, (label, _) in enumerate(labelled) if f"label {index}: {label}" in core
        )
    return Unknown(reason=solver.reason_unknown())
