"""Label and field selectors: grammar, matching, validation messages and the two forms."""

from collections.abc import Mapping

import pytest
from hypothesis import given
from hypothesis import strategies as st
from returns.pipeline import is_successful

from models.k8s.base import FrozenMap
from models.selectors import (
    LabelSelector,
    LabelSelectorRequirement,
    Operator,
    Requirement,
    format_label_selector,
    label_selector_as_selector,
    new_requirement,
    parse_field_selector,
    parse_label_selector,
    parse_to_label_selector,
    validate_label_selector,
)


def matches(text: str, labels: Mapping[str, str]) -> bool:
    return parse_label_selector(text).unwrap().matches(labels)


# apimachinery's TestSelectorMatches cases.
@pytest.mark.parametrize(
    ("text", "labels"),
    [
        ("", {"x": "y"}),
        ("x=y", {"x": "y"}),
        ("x=y,z=w", {"x": "y", "z": "w"}),
        ("x!=y,z!=w", {"x": "z", "z": "a"}),
        ("notin=in", {"notin": "in"}),
        ("x", {"x": "z"}),
        ("!x", {"y": "z"}),
        ("x>1", {"x": "2"}),
        ("x<1", {"x": "0"}),
        ("x in (a,b)", {"x": "b"}),
        ("x notin (a,b)", {"y": "a"}),
        ("x!=y", {}),
    ],
)
def test_selector_matches(text: str, labels: dict[str, str]) -> None:
    assert matches(text, labels)


@pytest.mark.parametrize(
    ("text", "labels"),
    [
        ("x=z", {}),
        ("x=y", {"x": "z"}),
        ("x=y,z=w", {"x": "w", "z": "w"}),
        ("x!=y,z!=w", {"x": "z", "z": "w"}),
        ("x", {"y": "z"}),
        ("!x", {"x": "z"}),
        ("x>1", {"x": "0"}),
        ("x<1", {"x": "2"}),
        ("x>1", {"x": "a"}),
        ("x in (a,b)", {"x": "c"}),
        ("x notin (a,b)", {"x": "a"}),
    ],
)
def test_selector_does_not_match(text: str, labels: dict[str, str]) -> None:
    assert not matches(text, labels)


def test_string_form_is_sorted_by_key_with_sorted_unique_values() -> None:
    parsed = parse_label_selector("z=1, a in (y,x,x) ,!b,c notin (q),d,e==2,f!=3").unwrap()
    assert parsed.string() == "a in (x,y),!b,c notin (q),d,e==2,f!=3,z=1"
    assert parse_label_selector(parsed.string()).unwrap() == parsed


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x=a)y=b", "found ')', expected: ',' or 'end of string'"),
        ("x in (a", "unable to parse requirement: found '', expected: ',' or ')'"),
        ("x in a", "unable to parse requirement: found 'a' expected: '('"),
        ("x y", "unable to parse requirement: found 'y', expected: in, notin, =, ==, !=, gt, lt"),
        ("x=a,", "found '', expected: identifier after ','"),
        (",x=a", "found ',', expected: !, identifier, or 'end of string'"),
        (
            "x>a",
            'unable to parse requirement: values[0]: Invalid value: "a": '
            "for 'Gt', 'Lt' operators, the value must be an integer",
        ),
    ],
)
def test_syntax_errors(text: str, message: str) -> None:
    result = parse_label_selector(text)
    assert not is_successful(result)
    assert result.failure().message == message


def test_invalid_key_is_reported_like_the_api_server() -> None:
    message = parse_label_selector("-x=a").failure().message
    assert message.startswith('unable to parse requirement: <nil>: Invalid value: "-x": name part')


def test_struct_validation_needs_values_for_in_and_none_for_exists() -> None:
    selector = LabelSelector(
        match_expressions=(
            LabelSelectorRequirement(key="a", operator="In"),
            LabelSelectorRequirement(key="b", operator="Exists", values=("x",)),
            LabelSelectorRequirement(key="c", operator="Near", values=("x",)),
        )
    )
    messages = [error.message for error in validate_label_selector(selector, "spec.selector")]
    assert messages == [
        "spec.selector.matchExpressions[0].values: Required value: "
        "must be specified when `operator` is 'In' or 'NotIn'",
        "spec.selector.matchExpressions[1].values: Forbidden: "
        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
        'spec.selector.matchExpressions[2].operator: Invalid value: "Near": '
        "not a valid selector operator",
    ]
    failure = label_selector_as_selector(selector).failure()
    assert "for 'in', 'notin' operators, values set can't be empty" in failure.message


def test_missing_struct_selects_nothing_and_empty_selects_everything() -> None:
    assert not label_selector_as_selector(None).unwrap().matches({})
    assert label_selector_as_selector(LabelSelector()).unwrap().matches({"a": "b"})
    assert format_label_selector(None) == "<none>"
    selector = LabelSelector(
        match_labels=FrozenMap({"app": "web"}),
        match_expressions=(
            LabelSelectorRequirement(key="tier", operator="NotIn", values=("db", "cache")),
        ),
    )
    assert format_label_selector(selector) == "app=web,tier notin (cache,db)"


def test_new_requirement_checks_value_counts() -> None:
    assert not is_successful(new_requirement("a", Operator.EQUALS, ("x", "y")))
    assert not is_successful(new_requirement("a", Operator.EXISTS, ("x",)))
    assert new_requirement("a", Operator.IN, ("x",)).unwrap() == Requirement(
        key="a", operator=Operator.IN, values=("x",)
    )


def test_parse_to_label_selector_refuses_greater_than() -> None:
    assert (
        parse_to_label_selector("a>1").failure().message
        == '"gt" isn\'t supported in label selectors'
    )
    assert (
        parse_to_label_selector("a!=1").failure().message
        == '"!=" is not a valid label selector operator'
    )


# Field selectors ---------------------------------------------------------------------------


def test_field_selector_terms_and_matching() -> None:
    selector = parse_field_selector("spec.nodeName=n1,status.phase!=Failed").unwrap()
    assert selector.matches({"spec.nodeName": "n1", "status.phase": "Running"})
    assert not selector.matches({"spec.nodeName": "n1", "status.phase": "Failed"})
    assert not selector.matches({"spec.nodeName": "n2"})
    assert parse_field_selector("spec.nodeName==").unwrap().matches({})
    assert selector.string() == "spec.nodeName=n1,status.phase!=Failed"
    escaped = parse_field_selector(r"metadata.name=a\,b\=c").unwrap()
    assert escaped.terms[0].value == "a,b=c"
    assert escaped.string() == r"metadata.name=a\,b\=c"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("abc", "invalid selector: 'abc'; can't understand 'abc'"),
        ("a=b=c", "invalid field selector: unescaped character in value: 61"),
        (r"a=\x", r"invalid field selector: invalid escape sequence: \x"),
    ],
)
def test_field_selector_errors(text: str, message: str) -> None:
    assert parse_field_selector(text).failure().message == message


def test_unsupported_pod_field_is_refused_as_the_api_server_does() -> None:
    selector = parse_field_selector("spec.priority=3").unwrap()
    assert selector.for_kind("Pod").failure().message == "field label not supported: spec.priority"
    converted = parse_field_selector("spec.host=n1").unwrap().for_kind("Pod").unwrap()
    assert converted.string() == "spec.nodeName=n1"
    assert is_successful(parse_field_selector("spec.unschedulable=true").unwrap().for_kind("Node"))
    assert not is_successful(parse_field_selector("status.phase=x").unwrap().for_kind("Service"))


# Property: the string and struct forms select the same objects -------------------------------

KEYS = st.sampled_from(["app", "tier", "example.com/zone", "k8s.io_x"])
VALUES = st.sampled_from(["a", "b", "web", "x-1"])


@st.composite
def label_selectors(draw: st.DrawFn) -> LabelSelector:
    match_labels = draw(st.none() | st.dictionaries(KEYS, VALUES, max_size=2))
    expressions = []
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        operator = draw(st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist"]))
        values = None
        if operator in ("In", "NotIn"):
            values = tuple(draw(st.lists(VALUES, min_size=1, max_size=3)))
        expressions.append(
            LabelSelectorRequirement(key=draw(KEYS), operator=operator, values=values)
        )
    return LabelSelector(
        match_labels=None if match_labels is None else FrozenMap(match_labels),
        match_expressions=tuple(expressions),
    )


def oracle(selector: LabelSelector, labels: Mapping[str, str]) -> bool:
    """The documented meaning of the struct form, written directly."""
    for key, value in (selector.match_labels or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.match_expressions or ():
        key = expression.key or ""
        present = key in labels
        values = expression.values or ()
        if expression.operator == "In" and not (present and labels[key] in values):
            return False
        if expression.operator == "NotIn" and present and labels[key] in values:
            return False
        if expression.operator == "Exists" and not present:
            return False
        if expression.operator == "DoesNotExist" and present:
            return False
    return True


@given(label_selectors(), st.dictionaries(KEYS, VALUES, max_size=4))
def test_struct_and_string_forms_agree(selector: LabelSelector, labels: dict[str, str]) -> None:
    converted = label_selector_as_selector(selector).unwrap()
    expected = oracle(selector, labels)
    assert converted.matches(labels) == expected
    reparsed = parse_label_selector(converted.string()).unwrap()
    assert reparsed.matches(labels) == expected
    as_struct = parse_to_label_selector(converted.string()).unwrap()
    assert label_selector_as_selector(as_struct).unwrap().matches(labels) == expected


@pytest.mark.parametrize(
    "text",
    [
        "x=a,y=b,z=c",
        "",
        "x!=a,y=b",
        "close=a",
        "notin=a",
        "in=a",
        "notin in (a)",
        "notin notin (a)",
        "x=",
        "x= ",
        "x=,z= ",
        "x= ,z= ",
        "!x",
        "x>1",
        "x>1,z<5",
        "x in (a, b )",
    ],
)
def test_valid_selectors_parse(text: str) -> None:
    # Keywords are ordinary keys and values outside the operator position.
    assert is_successful(parse_label_selector(text))


@pytest.mark.parametrize(
    "text",
    [
        "x=a||y=b",
        "x==a==b",
        "!x=a",
        "x<a",
        "x>1.1",
        "x>-1",
        "x in (a",
        "x in a)",
        "x in (a,b",
        "x in",
        "x notin",
    ],
)
def test_invalid_selectors_are_refused(text: str) -> None:
    assert not is_successful(parse_label_selector(text))
