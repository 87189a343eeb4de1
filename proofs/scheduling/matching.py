"""Toleration and node-selector matching: a z3 encoding of the documented semantics agrees
with the implementation on every case of a bounded vocabulary.

The implementation's answers (:func:`models.scheduling.matching.tolerates` and compiled node
selector terms) are tabulated over the vocabulary and turned into a formula; z3 then checks that
the formula and the encoding of the rules (k8s.io/api ``ToleratesTaint`` at v1.35, apimachinery
selector operators, node affinity's Gt/Lt on integers) are equivalent everywhere.

Vocabulary: keys {"", k1, k2}, values {"", "1", "2"}, effects {"", NoSchedule,
PreferNoSchedule, NoExecute}, operators {"", Equal, Exists, Bogus, Gt, Lt} (Gt/Lt with the
TaintTolerationComparisonOperators gate off); for the gated comparison, values {"", "-1", "0",
"7", "07", "x"} with the gate on; node labels on keys a and b with values {absent, "1", "5",
"x"}; requirements In, NotIn, Exists, DoesNotExist, Gt, Lt with value lists (), ("1",), ("5",),
("x",), ("1", "5") - a requirement that does not parse makes its term match nothing.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import immutables

from models.k8s.core.node import Taint
from models.k8s.core.pod import NodeSelectorRequirement, NodeSelectorTerm, Toleration
from models.scheduling.matching import compile_term, tolerates
from proofs.catalog import Mutant, ProofCase
from proofs.scheduling.z3arithmetic import first_failure
from proofs.z3adapter import (
    And,
    ArithRef,
    BoolRef,
    BoolVal,
    If,
    Int,
    Or,
    Verdict,
    check_valid,
)

KEYS = ("", "k1", "k2")
VALUES = ("", "1", "2")
EFFECTS = ("", "NoSchedule", "PreferNoSchedule", "NoExecute")
OPERATORS = ("", "Equal", "Exists", "Bogus", "Gt", "Lt")
NUMBERS = ("", "-1", "0", "7", "07", "x")  # canonical integers: -1, 0, 7

LABEL_VALUES = ("1", "5", "x")  # codes 0, 1, 2; code 3 = absent
VALUE_LISTS: tuple[tuple[str, ...], ...] = ((), ("1",), ("5",), ("x",), ("1", "5"))
SELECTOR_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt")

Tolerates = Callable[[Toleration, Taint], bool]
Labels = immutables.Map[str, str]


def _domain(term: ArithRef, size: int, low: int = 0) -> BoolRef:
    return And(term >= low, term < size)


def toleration_encoding(
    key: ArithRef,
    operator: ArithRef,
    value: ArithRef,
    effect: ArithRef,
    taint_key: ArithRef,
    taint_value: ArithRef,
    taint_effect: ArithRef,
) -> BoolRef:
    """``ToleratesTaint`` with the comparison gate off: effect empty or equal, key empty or
    equal, then Equal (or empty) compares values, Exists matches any value, other operators
    (Gt and Lt included) never match."""
    value_rule = If(Or(operator == 0, operator == 1), value == taint_value, operator == 2)
    return And(Or(effect == 0, effect == taint_effect), Or(key == 0, key == taint_key), value_rule)


def _tolerations_agree(tolerates: Tolerates) -> Verdict:
    names = ("key", "operator", "value", "effect", "taint_key", "taint_value", "taint_effect")
    key, operator, value, effect, taint_key, taint_value, taint_effect = (Int(n) for n in names)
    table: list[BoolRef] = []
    for k, o, v, e, tk, tv, te in itertools.product(
        range(3), range(len(OPERATORS)), range(3), range(4), range(1, 3), range(3), range(1, 4)
    ):
        toleration = Toleration(
            key=KEYS[k] or None, operator=OPERATORS[o] or None, value=VALUES[v], effect=EFFECTS[e]
        )
        taint = Taint(key=KEYS[tk], value=VALUES[tv] or None, effect=EFFECTS[te])
        if tolerates(toleration, taint):
            table.append(
                And(
                    key == k,
                    operator == o,
                    value == v,
                    effect == e,
                    taint_key == tk,
                    taint_value == tv,
                    taint_effect == te,
                )
            )
    encoded = toleration_encoding(
        key, operator, value, effect, taint_key, taint_value, taint_effect
    )
    domain = (
        _domain(key, 3),
        _domain(operator, len(OPERATORS)),
        _domain(value, 3),
        _domain(effect, 4),
        _domain(taint_key, 3, 1),
        _domain(taint_value, 3),
        _domain(taint_effect, 4, 1),
    )
    return check_valid(encoded == Or(table), assumptions=domain)


def gate_off(toleration: Toleration, taint: Taint) -> bool:
    """The implementation with TaintTolerationComparisonOperators off (v1.35's default)."""
    return tolerates(toleration, taint, comparison_operators=False)


def exact_key_only(toleration: Toleration, taint: Taint) -> bool:
    """Mutant: an empty toleration key no longer matches every taint key."""
    if toleration.key != taint.key:
        return False
    return gate_off(toleration, taint)


def _parsed(code: ArithRef) -> BoolRef:
    """The value parses as a canonical decimal integer (``IsDecimalInteger``)."""
    return Or(code == 1, code == 2, code == 3)


def _number(code: ArithRef) -> ArithRef:
    return If(code == 1, -1, If(code == 2, 0, 7))


def comparison_encoding(operator: ArithRef, bound: ArithRef, value: ArithRef) -> BoolRef:
    """Gt/Lt with the gate on: both values canonical integers, then taint value > (Gt) or
    < (Lt) the toleration's."""
    both = And(_parsed(bound), _parsed(value))
    compare = If(operator == 0, _number(value) > _number(bound), _number(value) < _number(bound))
    return And(both, compare)


def _comparisons_agree(tolerates_with_gate: Tolerates) -> Verdict:
    operator, bound, value = Int("operator"), Int("bound"), Int("value")
    table: list[BoolRef] = []
    for o, b, v in itertools.product(range(2), range(len(NUMBERS)), range(len(NUMBERS))):
        toleration = Toleration(key="sla", operator=("Gt", "Lt")[o], value=NUMBERS[b])
        taint = Taint(key="sla", value=NUMBERS[v], effect="NoSchedule")
        if tolerates_with_gate(toleration, taint):
            table.append(And(operator == o, bound == b, value == v))
    domain = (_domain(operator, 2), _domain(bound, len(NUMBERS)), _domain(value, len(NUMBERS)))
    encoded = comparison_encoding(operator, bound, value)
    return check_valid(encoded == Or([BoolVal(False), *table]), assumptions=domain)


def gate_on(toleration: Toleration, taint: Taint) -> bool:
    """The implementation with TaintTolerationComparisonOperators on."""
    return tolerates(toleration, taint, comparison_operators=True)


def reversed_comparison(toleration: Toleration, taint: Taint) -> bool:
    """Mutant: Gt compares the toleration's value against the taint's (the wrong way round)."""
    swapped = Taint(key=taint.key, value=toleration.value, effect=taint.effect)
    flipped = Toleration(key=toleration.key, operator=toleration.operator, value=taint.value)
    return gate_on(flipped, swapped)


def lenient_integers(toleration: Toleration, taint: Taint) -> bool:
    """Mutant: values parse as Go's ParseInt does (leading zeros accepted), not canonically."""

    def number(text: str) -> int | None:
        try:
            return int(text, 10)
        except ValueError:
            return None

    bound, value = number(toleration.value or ""), number(taint.value or "")
    if bound is None or value is None:
        return False
    return value > bound if toleration.operator == "Gt" else value < bound


def _labels(codes: Sequence[int]) -> Labels:
    return immutables.Map(
        {key: LABEL_VALUES[code] for key, code in zip(("a", "b"), codes, strict=True) if code < 3}
    )


def requirement_encoding(operator: int, values: tuple[str, ...], code: ArithRef) -> BoolRef:
    """The operators' rules on one label (code 3 = absent; "x" is not an integer). A
    requirement that does not parse (In/NotIn without values, Exists/DoesNotExist with values,
    Gt/Lt without exactly one integer) never matches."""
    present = code < 3
    member = Or([BoolVal(False)] + [code == LABEL_VALUES.index(v) for v in values])
    name = SELECTOR_OPERATORS[operator]
    if name in ("In", "NotIn") and not values:
        return BoolVal(False)
    if name in ("Exists", "DoesNotExist") and values:
        return BoolVal(False)
    if name == "In":
        return And(present, member)
    if name == "NotIn":
        return Or(code == 3, And(present, member) == BoolVal(False))
    if name == "Exists":
        return present
    if name == "DoesNotExist":
        return code == 3
    if len(values) != 1 or values[0] == "x":
        return BoolVal(False)
    bound = int(values[0])
    number = If(code == 0, 1, 5)
    compare = number > bound if name == "Gt" else number < bound
    return And(present, code != 2, compare)


def _one(requirement: NodeSelectorRequirement, labels: Labels) -> bool:
    """The implementation: a term of this one requirement, compiled and matched."""
    term = NodeSelectorTerm(match_expressions=(requirement,))
    return compile_term(term).matches("node", labels)


def _requirements_agree(
    matches: Callable[[NodeSelectorRequirement, Labels], bool] = _one,
) -> Verdict:
    code = Int("label_a")
    claims: list[BoolRef] = []
    for operator, values in itertools.product(range(len(SELECTOR_OPERATORS)), VALUE_LISTS):
        requirement = NodeSelectorRequirement(
            key="a", operator=SELECTOR_OPERATORS[operator], values=values
        )
        table = Or(
            [BoolVal(False)]
            + [code == c for c in range(4) if matches(requirement, _labels((c, 3)))]
        )
        claims.append(requirement_encoding(operator, values, code) == table)
    return check_valid(And(claims), assumptions=(_domain(code, 4),))


def not_in_requires_key(requirement: NodeSelectorRequirement, labels: Labels) -> bool:
    """Mutant: NotIn fails when the key is absent."""
    if requirement.operator == "NotIn" and requirement.values:
        key = requirement.key or ""
        return key in labels and labels[key] not in requirement.values
    return _one(requirement, labels)


def _terms_agree() -> Verdict:
    """A term of two expressions (on a and b) matches iff both do; an empty term never."""
    code_a, code_b = Int("label_a"), Int("label_b")
    claims: list[BoolRef] = []
    pairs = list(itertools.product(range(len(SELECTOR_OPERATORS)), VALUE_LISTS[:3]))
    for (op_a, values_a), (op_b, values_b) in itertools.product(pairs, pairs):
        first = NodeSelectorRequirement(key="a", operator=SELECTOR_OPERATORS[op_a], values=values_a)
        second = NodeSelectorRequirement(
            key="b", operator=SELECTOR_OPERATORS[op_b], values=values_b
        )
        term = compile_term(NodeSelectorTerm(match_expressions=(first, second)))
        table = Or(
            [BoolVal(False)]
            + [
                And(code_a == a, code_b == b)
                for a, b in itertools.product(range(4), range(4))
                if term.matches("node", _labels((a, b)))
            ]
        )
        encoded = And(
            requirement_encoding(op_a, values_a, code_a),
            requirement_encoding(op_b, values_b, code_b),
        )
        claims.append(encoded == table)
    empty = compile_term(NodeSelectorTerm())
    claims.append(BoolVal(not empty.matches("node", _labels((0, 0)))))
    return check_valid(And(claims), assumptions=(_domain(code_a, 4), _domain(code_b, 4)))


PROOFS: tuple[ProofCase, ...] = (
    ProofCase(
        name="scheduling.matching.tolerations",
        property_text="tolerates agrees with the z3 encoding of ToleratesTaint (comparison "
        "gate off: Gt/Lt never match)",
        method="exhaustive",
        bound="keys {'', k1, k2}, values {'', 1, 2}, 4 effects, 6 operators (3888 cases)",
        check=lambda: _tolerations_agree(gate_off),
        mutants=(
            Mutant(
                name="exact-key-only",
                description="an empty toleration key stops matching every key",
                check=lambda: _tolerations_agree(exact_key_only),
            ),
            Mutant(
                name="gate-ignored",
                description="Gt/Lt compare even with TaintTolerationComparisonOperators off",
                check=lambda: _tolerations_agree(gate_on),
            ),
        ),
    ),
    ProofCase(
        name="scheduling.matching.toleration_comparison",
        property_text="with TaintTolerationComparisonOperators on, Gt/Lt tolerate iff both "
        "values are canonical int64 integers and the taint's is greater/less",
        method="exhaustive",
        bound="Gt, Lt; values {'', -1, 0, 7, 07, x} on both sides (72 cases)",
        check=lambda: _comparisons_agree(gate_on),
        mutants=(
            Mutant(
                name="reversed-comparison",
                description="the toleration's value is compared against the taint's",
                check=lambda: _comparisons_agree(reversed_comparison),
            ),
            Mutant(
                name="lenient-integers",
                description="leading zeros accepted (ParseInt without IsDecimalInteger)",
                check=lambda: _comparisons_agree(lenient_integers),
            ),
        ),
    ),
    ProofCase(
        name="scheduling.matching.node_selectors",
        property_text="selector requirements and node selector terms agree with the z3 "
        "encoding of In, NotIn, Exists, DoesNotExist, Gt, Lt",
        method="exhaustive",
        bound="labels a, b in {absent, '1', '5', 'x'}; 6 operators; 5 value lists",
        check=lambda: first_failure([_requirements_agree, _terms_agree]),
        mutants=(
            Mutant(
                name="not-in-requires-key",
                description="NotIn fails on a node without the key",
                check=lambda: _requirements_agree(not_in_requires_key),
            ),
        ),
    ),
)
