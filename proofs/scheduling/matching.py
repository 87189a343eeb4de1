"""Toleration and node-selector matching: a z3 encoding of the documented semantics agrees
with the implementation on every case of a bounded vocabulary.

The implementation's answers (``Toleration.tolerates``, ``Requirement.matches``,
``NodeSelectorTerm.matches``) are tabulated over the vocabulary and turned into a formula;
z3 then checks that the formula and the encoding of the rules (k8s.io/api ``ToleratesTaint``,
apimachinery selector operators, node affinity's Gt/Lt on integers) are equivalent everywhere.

Vocabulary: keys {"", k1, k2}, values {"", v1, v2}, effects {"", NoSchedule,
PreferNoSchedule, NoExecute}, operators {"", Equal, Exists, Bogus}; node labels on keys a and
b with values {absent, "1", "5", "x"}; requirements In, NotIn, Exists, DoesNotExist, Gt, Lt with
value lists (), ("1",), ("5",), ("x",), ("1", "5").
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import immutables

from models.scheduling import NodeSelectorTerm, Requirement, StringMap, Taint, Toleration
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
VALUES = ("", "v1", "v2")
EFFECTS = ("", "NoSchedule", "PreferNoSchedule", "NoExecute")
OPERATORS = ("", "Equal", "Exists", "Bogus")

LABEL_VALUES = ("1", "5", "x")  # codes 0, 1, 2; code 3 = absent
VALUE_LISTS: tuple[tuple[str, ...], ...] = ((), ("1",), ("5",), ("x",), ("1", "5"))
SELECTOR_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt")

Tolerates = Callable[[Toleration, Taint], bool]


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
    """``ToleratesTaint``: effect empty or equal, key empty or equal, then Equal (or empty)
    compares values, Exists matches any value, other operators never match."""
    value_rule = If(Or(operator == 0, operator == 1), value == taint_value, operator == 2)
    return And(Or(effect == 0, effect == taint_effect), Or(key == 0, key == taint_key), value_rule)


def _tolerations_agree(tolerates: Tolerates) -> Verdict:
    names = ("key", "operator", "value", "effect", "taint_key", "taint_value", "taint_effect")
    key, operator, value, effect, taint_key, taint_value, taint_effect = (Int(n) for n in names)
    table: list[BoolRef] = []
    for k, o, v, e, tk, tv, te in itertools.product(
        range(3), range(4), range(3), range(4), range(1, 3), range(3), range(1, 4)
    ):
        toleration = Toleration(
            key=KEYS[k], operator=OPERATORS[o], value=VALUES[v], effect=EFFECTS[e]
        )
        taint = Taint(key=KEYS[tk], value=VALUES[tv], effect=EFFECTS[te])
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
        _domain(operator, 4),
        _domain(value, 3),
        _domain(effect, 4),
        _domain(taint_key, 3, 1),
        _domain(taint_value, 3),
        _domain(taint_effect, 4, 1),
    )
    return check_valid(encoded == Or(table), assumptions=domain)


def exact_key_only(toleration: Toleration, taint: Taint) -> bool:
    """Mutant: an empty toleration key no longer matches every taint key."""
    if toleration.effect and toleration.effect != taint.effect:
        return False
    if toleration.key != taint.key:
        return False
    if toleration.operator in ("", "Equal"):
        return toleration.value == taint.value
    return toleration.operator == "Exists"


def _labels(codes: Sequence[int]) -> StringMap:
    return immutables.Map(
        {key: LABEL_VALUES[code] for key, code in zip(("a", "b"), codes, strict=True) if code < 3}
    )


def requirement_encoding(operator: int, values: tuple[str, ...], code: ArithRef) -> BoolRef:
    """The operators' rules on one label (code 3 = absent; "x" is not an integer)."""
    present = code < 3
    member = Or([BoolVal(False)] + [code == LABEL_VALUES.index(v) for v in values])
    name = SELECTOR_OPERATORS[operator]
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


def _requirements_agree(
    matches: Callable[[Requirement, StringMap], bool] = lambda r, labels: r.matches(labels),
) -> Verdict:
    code = Int("label_a")
    claims: list[BoolRef] = []
    for operator, values in itertools.product(range(len(SELECTOR_OPERATORS)), VALUE_LISTS):
        requirement = Requirement(key="a", operator=SELECTOR_OPERATORS[operator], values=values)
        table = Or(
            [BoolVal(False)]
            + [code == c for c in range(4) if matches(requirement, _labels((c, 3)))]
        )
        claims.append(requirement_encoding(operator, values, code) == table)
    return check_valid(And(claims), assumptions=(_domain(code, 4),))


def not_in_requires_key(requirement: Requirement, labels: StringMap) -> bool:
    """Mutant: NotIn fails when the key is absent."""
    if requirement.operator == "NotIn":
        return requirement.key in labels and labels[requirement.key] not in requirement.values
    return requirement.matches(labels)


def _terms_agree() -> Verdict:
    """A term of two expressions (on a and b) matches iff both do; an empty term never."""
    code_a, code_b = Int("label_a"), Int("label_b")
    claims: list[BoolRef] = []
    pairs = list(itertools.product(range(len(SELECTOR_OPERATORS)), VALUE_LISTS[:3]))
    for (op_a, values_a), (op_b, values_b) in itertools.product(pairs, pairs):
        first = Requirement(key="a", operator=SELECTOR_OPERATORS[op_a], values=values_a)
        second = Requirement(key="b", operator=SELECTOR_OPERATORS[op_b], values=values_b)
        term = NodeSelectorTerm(match_expressions=(first, second))
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
    empty = NodeSelectorTerm()
    claims.append(BoolVal(not empty.matches("node", _labels((0, 0)))))
    return check_valid(And(claims), assumptions=(_domain(code_a, 4), _domain(code_b, 4)))


PROOFS: tuple[ProofCase, ...] = (
    ProofCase(
        name="scheduling.matching.tolerations",
        property_text="Toleration.tolerates agrees with the z3 encoding of ToleratesTaint",
        method="exhaustive",
        bound="keys {'', k1, k2}, values {'', v1, v2}, 4 effects, 4 operators (2592 cases)",
        check=lambda: _tolerations_agree(lambda t, taint: t.tolerates(taint)),
        mutants=(
            Mutant(
                name="exact-key-only",
                description="an empty toleration key stops matching every key",
                check=lambda: _tolerations_agree(exact_key_only),
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
