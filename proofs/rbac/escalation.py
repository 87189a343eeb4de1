"""RBAC escalation prevention, proved: no sequence of writes the escalation check allows gives
any subject a permission that neither it nor the writer could exercise before.

The model. A bounded vocabulary: request verbs get, delete, list; API groups "", apps, batch;
resources pods, pods/log, deployments, deployments/log, jobs; names "", a, b. A rule is a
symbolic set over the rule vocabulary (verbs get, delete, ``*``; groups "", apps, ``*``;
resources pods, pods/log, deployments, ``*/log``, ``*``; resourceNames {a} or none), so ``*``
and ``*/log`` are there to be mis-handled, and list, batch, jobs and the name b are reachable
only through a wildcard. ``rule_allows`` is the RBAC authorizer's match
(:func:`impl.apiserver.rbac.rule_allows`); ``rule_covers`` is the escalation check's coverage
of one broken-down atom (:func:`impl.apiserver.escalation.rule_covers` after ``breakdown``).
``tests/proofs/test_rbac_tie.py`` checks by property test that both encodings give the
implementation's answer on concrete rules.

The state: ``ROLES`` roles of ``RULES`` rules each, ``SUBJECTS`` subjects (subject 0 is the
writer) and which subject is bound to which role. A step is one write by the writer, allowed as
the API allows it to a user outside ``system:masters`` without ``escalate`` or ``bind``:
replace a role's rules with rules the writer's current rules cover, bind a subject to a role
whose every rule the writer's rules cover, or remove a binding or a role's rules (always
allowed). The invariant, for the initial state ``S0``: every request any subject may make, it
or the writer could make in ``S0``. It holds initially and every allowed step keeps it, for
every state, so it holds after any number of writes.

Mutants: no escalation check (every write allowed); a written ``*`` verb covered by any verb
the writer holds (the wildcard taken as "some verb"); a written ``*`` resource covered by any
resource the writer holds.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from proofs.catalog import Mutant, ProofCase
from proofs.z3adapter import (
    And,
    ArithRef,
    Bool,
    BoolRef,
    BoolVal,
    Implies,
    Int,
    IntVal,
    ModelRef,
    Not,
    Or,
    Proved,
    Verdict,
    check_valid,
    model_pairs,
)

RULE_VERBS: Final = ("get", "delete", "*")
RULE_GROUPS: Final = ("", "apps", "*")
RULE_RESOURCES: Final = ("pods", "pods/log", "deployments", "*/log", "*")
RULE_NAMES: Final = ("a",)
REQUEST_VERBS: Final = ("get", "delete", "list")
REQUEST_GROUPS: Final = ("", "apps", "batch")
REQUEST_RESOURCES: Final = (
    ("pods", ""),
    ("pods", "log"),
    ("deployments", ""),
    ("deployments", "log"),
    ("jobs", ""),
)
REQUEST_NAMES: Final = ("", "a", "b")
ROLES: Final = 2
RULES: Final = 1
SUBJECTS: Final = 2


@dataclass(frozen=True)
class SymRule:
    """A rule as one boolean per vocabulary entry: is it in the rule's list?"""

    verbs: tuple[BoolRef, ...]
    groups: tuple[BoolRef, ...]
    resources: tuple[BoolRef, ...]
    names: tuple[BoolRef, ...]

    def verb(self, value: str) -> BoolRef:
        return self.verbs[RULE_VERBS.index(value)]

    def group(self, value: str) -> BoolRef:
        return self.groups[RULE_GROUPS.index(value)]

    def resource(self, value: str) -> BoolRef:
        return self.resources[RULE_RESOURCES.index(value)]

    def has_names(self) -> BoolRef:
        return Or(*self.names)


def fresh_rule(prefix: str) -> SymRule:
    return SymRule(
        verbs=tuple(Bool(f"{prefix}.verb[{v}]") for v in RULE_VERBS),
        groups=tuple(Bool(f"{prefix}.group[{g}]") for g in RULE_GROUPS),
        resources=tuple(Bool(f"{prefix}.resource[{r}]") for r in RULE_RESOURCES),
        names=tuple(Bool(f"{prefix}.name[{n}]") for n in RULE_NAMES),
    )


def concrete_rule(
    verbs: Sequence[str], groups: Sequence[str], resources: Sequence[str], names: Sequence[str]
) -> SymRule:
    """A rule of the vocabulary as constants (for the tie to the implementation)."""
    return SymRule(
        verbs=tuple(BoolVal(v in verbs) for v in RULE_VERBS),
        groups=tuple(BoolVal(g in groups) for g in RULE_GROUPS),
        resources=tuple(BoolVal(r in resources) for r in RULE_RESOURCES),
        names=tuple(BoolVal(n in names) for n in RULE_NAMES),
    )


# Matching a concrete request -----------------------------------------------------------------


def _in_rule(value: str, vocabulary: Sequence[str], flags: tuple[BoolRef, ...]) -> BoolRef:
    return flags[vocabulary.index(value)] if value in vocabulary else BoolVal(False)


@dataclass(frozen=True)
class SymRequest:
    """A request as indexes into the request vocabulary."""

    verb: ArithRef
    group: ArithRef
    resource: ArithRef
    name: ArithRef

    def domain(self) -> BoolRef:
        return And(
            *(
                And(value >= 0, value < len(vocabulary))
                for value, vocabulary in (
                    (self.verb, REQUEST_VERBS),
                    (self.group, REQUEST_GROUPS),
                    (self.resource, REQUEST_RESOURCES),
                    (self.name, REQUEST_NAMES),
                )
            )
        )


def fresh_request(prefix: str) -> SymRequest:
    return SymRequest(
        verb=Int(f"{prefix}.verb"),
        group=Int(f"{prefix}.group"),
        resource=Int(f"{prefix}.resource"),
        name=Int(f"{prefix}.name"),
    )


def concrete_request(verb: str, group: str, resource: str, sub: str, name: str) -> SymRequest:
    return SymRequest(
        verb=IntVal(REQUEST_VERBS.index(verb)),
        group=IntVal(REQUEST_GROUPS.index(group)),
        resource=IntVal(REQUEST_RESOURCES.index((resource, sub))),
        name=IntVal(REQUEST_NAMES.index(name)),
    )


def _one_of(
    index: ArithRef, vocabulary: Sequence[str], accepts: Callable[[str], BoolRef]
) -> BoolRef:
    return Or(*(And(index == i, accepts(value)) for i, value in enumerate(vocabulary)))


def rule_allows(rule: SymRule, request: SymRequest) -> BoolRef:
    """``rule_allows`` of the RBAC authorizer."""

    def resource_ok(resource: str, sub: str) -> BoolRef:
        combined = f"{resource}/{sub}" if sub else resource
        return Or(
            rule.resource("*"),
            _in_rule(combined, RULE_RESOURCES, rule.resources),
            _in_rule(f"*/{sub}", RULE_RESOURCES, rule.resources) if sub else BoolVal(False),
        )

    return And(
        Or(
            rule.verb("*"),
            _one_of(request.verb, REQUEST_VERBS, lambda v: _in_rule(v, RULE_VERBS, rule.verbs)),
        ),
        Or(
            rule.group("*"),
            _one_of(request.group, REQUEST_GROUPS, lambda g: _in_rule(g, RULE_GROUPS, rule.groups)),
        ),
        Or(
            *(
                And(request.resource == i, resource_ok(resource, sub))
                for i, (resource, sub) in enumerate(REQUEST_RESOURCES)
            )
        ),
        Or(
            Not(rule.has_names()),
            _one_of(request.name, REQUEST_NAMES, lambda n: _in_rule(n, RULE_NAMES, rule.names)),
        ),
    )


# Coverage (the escalation check) -------------------------------------------------------------

Atom = tuple[str, str, str, str]
"""One rule of ``breakdown``: verb, group, resource, name ("" : no resourceNames)."""
ATOMS: Final[tuple[Atom, ...]] = tuple(
    itertools.product(RULE_VERBS, RULE_GROUPS, RULE_RESOURCES, ("", *RULE_NAMES))
)


def atom_in(rule: SymRule, atom: Atom) -> BoolRef:
    """Does ``breakdown(rule)`` produce ``atom``?"""
    verb, group, resource, name = atom
    name_part = Not(rule.has_names()) if not name else rule.names[RULE_NAMES.index(name)]
    return And(rule.verb(verb), rule.group(group), rule.resource(resource), name_part)


def _resource_covered(owner: SymRule, resource: str) -> BoolRef:
    options = [owner.resource("*"), owner.resource(resource)]
    if "/" in resource:
        options.append(_in_rule("*/" + resource.split("/", 1)[1], RULE_RESOURCES, owner.resources))
    return Or(*options)


def rule_covers(owner: SymRule, atom: Atom) -> BoolRef:
    """``ruleCovers(owner, atom)``: a ``*`` in the owner covers anything; a ``*`` in the atom is
    a literal only a ``*`` covers."""
    verb, group, resource, name = atom
    name_ok = BoolVal(True) if name else Not(owner.has_names())
    return And(
        Or(owner.verb("*"), owner.verb(verb)),
        Or(owner.group("*"), owner.group(group)),
        _resource_covered(owner, resource),
        name_ok,
    )


Coverage = Callable[[SymRule, Atom], BoolRef]


def covered(held: Sequence[tuple[BoolRef, SymRule]], wanted: SymRule, covers: Coverage) -> BoolRef:
    """Every atom of ``wanted`` is covered by a rule the writer holds (``held``: each rule with
    the condition under which the writer holds it)."""
    return And(
        *(
            Implies(
                atom_in(wanted, atom), Or(*(And(holds, covers(rule, atom)) for holds, rule in held))
            )
            for atom in ATOMS
        )
    )


# The state and one write ---------------------------------------------------------------------


@dataclass(frozen=True)
class State:
    roles: tuple[tuple[SymRule, ...], ...]
    bound: tuple[tuple[BoolRef, ...], ...]
    """``bound[s][r]``: subject s is bound to role r."""


def fresh_state(prefix: str) -> State:
    return State(
        roles=tuple(
            tuple(fresh_rule(f"{prefix}.role{r}.rule{k}") for k in range(RULES))
            for r in range(ROLES)
        ),
        bound=tuple(
            tuple(Bool(f"{prefix}.bound[{s}][{r}]") for r in range(ROLES)) for s in range(SUBJECTS)
        ),
    )


def may(state: State, subject: int, request: SymRequest) -> BoolRef:
    return Or(
        *(
            And(state.bound[subject][r], rule_allows(rule, request))
            for r in range(ROLES)
            for rule in state.roles[r]
        )
    )


def held_rules(state: State, subject: int) -> list[tuple[BoolRef, SymRule]]:
    return [(state.bound[subject][r], rule) for r in range(ROLES) for rule in state.roles[r]]


def _same_rule(a: SymRule, b: SymRule) -> BoolRef:
    pairs = zip(
        (*a.verbs, *a.groups, *a.resources, *a.names),
        (*b.verbs, *b.groups, *b.resources, *b.names),
        strict=True,
    )
    return And(*(x == y for x, y in pairs))


def _empty(rule: SymRule) -> BoolRef:
    return And(*(Not(flag) for flag in (*rule.verbs, *rule.groups, *rule.resources, *rule.names)))


def allowed_step(
    before: State, after: State, kind: ArithRef, target: int, checked: bool, covers: Coverage
) -> BoolRef:
    """One write by subject 0 (``kind`` 0: set role ``target``'s rules; 1: bind some subject to
    role ``target``; 2: unbind; 3: empty role ``target``), allowed by the escalation check
    (``checked``), and nothing else changes."""
    held = held_rules(before, 0)
    same_bindings = And(
        *(after.bound[s][r] == before.bound[s][r] for s in range(SUBJECTS) for r in range(ROLES))
    )
    same_roles_except = And(
        *(
            _same_rule(after.roles[r][k], before.roles[r][k])
            for r in range(ROLES)
            if r != target
            for k in range(RULES)
        )
    )
    same_target = And(
        *(_same_rule(after.roles[target][k], before.roles[target][k]) for k in range(RULES))
    )
    set_rules = And(
        same_bindings,
        same_roles_except,
        And(*(covered(held, rule, covers) for rule in after.roles[target]))
        if checked
        else BoolVal(True),
    )
    bindings_grow_on_target = And(
        *(
            Implies(after.bound[s][r] != before.bound[s][r], And(r == target, after.bound[s][r]))
            for s in range(SUBJECTS)
            for r in range(ROLES)
        )
    )
    bind = And(
        same_roles_except,
        same_target,
        bindings_grow_on_target,
        And(*(covered(held, rule, covers) for rule in before.roles[target]))
        if checked
        else BoolVal(True),
    )
    unbind = And(
        same_roles_except,
        same_target,
        And(
            *(
                Implies(after.bound[s][r], before.bound[s][r])
                for s in range(SUBJECTS)
                for r in range(ROLES)
            )
        ),
    )
    empty = And(
        same_bindings, same_roles_except, And(*(_empty(rule) for rule in after.roles[target]))
    )
    return Or(
        And(kind == 0, set_rules),
        And(kind == 1, bind),
        And(kind == 2, unbind),
        And(kind == 3, empty),
    )


def invariant(initial: State, state: State, request: SymRequest) -> BoolRef:
    """The invariant at one request: whichever subject may make it, it or the writer (subject
    0) could make it initially."""
    return And(
        *(
            Implies(may(state, s, request), Or(may(initial, s, request), may(initial, 0, request)))
            for s in range(SUBJECTS)
        )
    )


def prove_no_escalation(checked: bool = True, covers: Coverage = rule_covers) -> Verdict:
    """The invariant (for every request) is inductive. It holds of the initial state; and for
    every request q, an allowed write from a state where it holds at q leads to a state where it
    holds at q, which is stronger than needing it at every request before the write."""
    initial, before, after = fresh_state("initial"), fresh_state("before"), fresh_state("after")
    request = fresh_request("request")
    kind = Int("write")
    steps = Or(
        *(allowed_step(before, after, kind, target, checked, covers) for target in range(ROLES))
    )
    base = check_valid(invariant(initial, initial, request), assumptions=(request.domain(),))
    if not isinstance(base, Proved):
        return base
    return check_valid(
        invariant(initial, after, request),
        assumptions=(
            request.domain(),
            invariant(initial, before, request),
            steps,
            kind >= 0,
            kind <= 3,
        ),
        describe=_describe,
    )


def _describe(model: ModelRef) -> tuple[tuple[str, str], ...]:
    """The write, and the true flags of the states (the rules and bindings that exist)."""
    pairs = [(name, value) for name, value in model_pairs(model) if value != "False"]
    return tuple(pairs)


def _star_verb_is_any_verb(owner: SymRule, atom: Atom) -> BoolRef:
    verb, group, resource, name = atom
    if verb != "*":
        return rule_covers(owner, atom)
    return And(
        Or(*owner.verbs),
        Or(owner.group("*"), owner.group(group)),
        _resource_covered(owner, resource),
        BoolVal(True) if name else Not(owner.has_names()),
    )


def _star_resource_is_any_resource(owner: SymRule, atom: Atom) -> BoolRef:
    verb, group, resource, name = atom
    if resource != "*":
        return rule_covers(owner, atom)
    return And(
        Or(owner.verb("*"), owner.verb(verb)),
        Or(owner.group("*"), owner.group(group)),
        Or(*owner.resources),
        BoolVal(True) if name else Not(owner.has_names()),
    )


PROOFS: tuple[ProofCase, ...] = (
    ProofCase(
        name="rbac.escalation.no-new-permissions",
        property_text="writes the escalation check allows never give a subject a permission "
        "that neither it nor the writer had",
        method="inductive invariant",
        bound=f"{ROLES} roles of {RULES} symbolic rule(s), {SUBJECTS} subjects, any number of "
        "writes; verbs get/delete/list, groups ''/apps/batch, 5 resources with subresources, "
        "names ''/a/b; wildcards * and */log",
        check=prove_no_escalation,
        mutants=(
            Mutant(
                name="no-escalation-check",
                description="every role and binding write is allowed",
                check=lambda: prove_no_escalation(checked=False),
            ),
            Mutant(
                name="star-verb-covered-by-any-verb",
                description="a written verb * counts as held when the writer holds any verb",
                check=lambda: prove_no_escalation(covers=_star_verb_is_any_verb),
            ),
            Mutant(
                name="star-resource-covered-by-any-resource",
                description="a written resource * counts as held when the writer holds any "
                "resource",
                check=lambda: prove_no_escalation(covers=_star_resource_is_any_resource),
            ),
        ),
    ),
)
