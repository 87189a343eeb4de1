"""The escalation proof is about the implementation: on concrete rules and requests of the
proof's vocabulary, its z3 encodings of matching (``rule_allows``), breakdown (``atom_in``) and
coverage (``rule_covers``, ``covered``) give exactly the answers of ``impl/apiserver/rbac.py``
and ``impl/apiserver/escalation.py``."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from impl.apiserver import escalation, rbac
from models.apiserver.auth import Attributes, Rule, UserInfo
from proofs.rbac.escalation import (
    ATOMS,
    REQUEST_GROUPS,
    REQUEST_NAMES,
    REQUEST_RESOURCES,
    REQUEST_VERBS,
    RULE_GROUPS,
    RULE_NAMES,
    RULE_RESOURCES,
    RULE_VERBS,
    SymRule,
    atom_in,
    concrete_request,
    concrete_rule,
    covered,
    rule_allows,
    rule_covers,
)
from proofs.z3adapter import BoolRef, BoolVal, is_true, simplify


def _subset(values: tuple[str, ...]) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(values), unique=True).map(lambda v: sorted(v, key=values.index))


rules = st.builds(
    lambda verbs, groups, resources, names: Rule(
        verbs=tuple(verbs),
        api_groups=tuple(groups),
        resources=tuple(resources),
        resource_names=tuple(names),
    ),
    _subset(RULE_VERBS),
    _subset(RULE_GROUPS),
    _subset(RULE_RESOURCES),
    _subset(RULE_NAMES),
)


def encoded(rule: Rule) -> SymRule:
    return concrete_rule(rule.verbs, rule.api_groups, rule.resources, rule.resource_names)


def holds(formula: BoolRef) -> bool:
    return is_true(simplify(formula))


@given(
    rule=rules,
    verb=st.sampled_from(REQUEST_VERBS),
    group=st.sampled_from(REQUEST_GROUPS),
    resource=st.sampled_from(REQUEST_RESOURCES),
    name=st.sampled_from(REQUEST_NAMES),
)
def test_matching_is_the_authorizers(
    rule: Rule, verb: str, group: str, resource: tuple[str, str], name: str
) -> None:
    attributes = Attributes(
        user=UserInfo(name="u"),
        verb=verb,
        resource_request=True,
        group=group,
        resource=resource[0],
        subresource=resource[1],
        name=name,
    )
    request = concrete_request(verb, group, resource[0], resource[1], name)
    assert holds(rule_allows(encoded(rule), request)) == rbac.rule_allows(rule, attributes)


@given(rule=rules)
def test_breakdown_is_the_escalation_checks(rule: Rule) -> None:
    expected = {
        (
            a.verbs[0],
            a.api_groups[0],
            a.resources[0],
            a.resource_names[0] if a.resource_names else "",
        )
        for a in escalation.breakdown(rule)
    }
    assert {atom for atom in ATOMS if holds(atom_in(encoded(rule), atom))} == expected


@given(owner=rules, atom=st.sampled_from(ATOMS))
def test_coverage_of_an_atom_is_the_escalation_checks(
    owner: Rule, atom: tuple[str, str, str, str]
) -> None:
    verb, group, resource, name = atom
    wanted = Rule(
        verbs=(verb,),
        api_groups=(group,),
        resources=(resource,),
        resource_names=(name,) if name else (),
    )
    assert holds(rule_covers(encoded(owner), atom)) == escalation.rule_covers(owner, wanted)


@given(held=st.lists(rules, max_size=3), wanted=rules)
def test_coverage_of_a_rule_is_the_escalation_checks(held: list[Rule], wanted: Rule) -> None:
    pairs = [(BoolVal(True), encoded(rule)) for rule in held]
    answer = holds(covered(pairs, encoded(wanted), rule_covers))
    assert answer == (not escalation.missing_rules(tuple(held), (wanted,)))
