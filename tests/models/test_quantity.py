"""resource.Quantity: parsing, canonical form, arithmetic and rounding, against apimachinery's
documented behaviour (its test tables and the rules in quantity.go), derived by hand."""

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st
from returns.pipeline import is_successful

from models.quantity import (
    FORMAT_WRONG,
    NUMERIC_WRONG,
    SUFFIX_WRONG,
    Quantity,
    QuantityFormat,
    parse_quantity,
    parse_quantity_or_raise,
    quantity_from_json,
)

DECIMAL = QuantityFormat.DECIMAL_SI
BINARY = QuantityFormat.BINARY_SI
EXPONENT = QuantityFormat.DECIMAL_EXPONENT


def parse(text: str) -> Quantity:
    return parse_quantity_or_raise(text)


# (input, exact value, format): apimachinery's TestQuantityParse table, values worked out by hand.
PARSE_TABLE = [
    ("0", Fraction(0), DECIMAL),
    ("0n", Fraction(0), DECIMAL),
    ("0Ki", Fraction(0), BINARY),
    ("1", Fraction(1), DECIMAL),
    ("1Ki", Fraction(1024), BINARY),
    ("8Ki", Fraction(8 * 1024), BINARY),
    ("7Mi", Fraction(7 * 2**20), BINARY),
    ("3Ei", Fraction(3 * 2**60), BINARY),
    ("5n", Fraction(5, 10**9), DECIMAL),
    ("4u", Fraction(4, 10**6), DECIMAL),
    ("3m", Fraction(3, 1000), DECIMAL),
    ("50k", Fraction(50_000), DECIMAL),
    ("40T", Fraction(40 * 10**12), DECIMAL),
    ("1E", Fraction(10**18), DECIMAL),
    ("1E-3", Fraction(1, 1000), EXPONENT),
    ("1e3", Fraction(1000), EXPONENT),
    ("100.035k", Fraction(100_035), DECIMAL),
    ("0.0005k", Fraction(1, 2), DECIMAL),
    ("0.5e-2", Fraction(5, 1000), EXPONENT),
    ("1.3E+6", Fraction(1_300_000), EXPONENT),
    ("6.987654321G", Fraction(6_987_654_321), DECIMAL),
    ("1.01E", Fraction(101 * 10**16), DECIMAL),
    # rounding up to a whole nano-unit
    ("3.001n", Fraction(4, 10**9), DECIMAL),
    ("1.1E-9", Fraction(2, 10**9), EXPONENT),
    ("0.0000000001", Fraction(1, 10**9), DECIMAL),
    ("0.9n", Fraction(1, 10**9), DECIMAL),
    ("0.00000012345", Fraction(124, 10**9), DECIMAL),
    # binary values are capped at 2^63-1, decimal ones are not
    ("9Ei", Fraction(2**63 - 1), BINARY),
    ("9223372036854775807Ki", Fraction(2**63 - 1), BINARY),
    ("12E", Fraction(12 * 10**18), DECIMAL),
    ("100.035Ki", Fraction(10243584, 100), BINARY),
    ("0.5Mi", Fraction(2**19), BINARY),
    # below one, a binary value changes to decimal
    ("0.000000000001Ki", Fraction(2, 10**9), DECIMAL),
    (".001", Fraction(1, 1000), DECIMAL),
    ("1.", Fraction(1), DECIMAL),
    ("1.G", Fraction(10**9), DECIMAL),
]


@pytest.mark.parametrize(("text", "value", "quantity_format"), PARSE_TABLE)
def test_parse_table(text: str, value: Fraction, quantity_format: QuantityFormat) -> None:
    for sign, signed_value in (("", value), ("+", value), ("-", -value)):
        quantity = parse(sign + text)
        assert quantity.exact == signed_value
        assert quantity.format is quantity_format


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", FORMAT_WRONG),
        ("1.1.M", FORMAT_WRONG),
        ("1+1.0M", FORMAT_WRONG),
        (" 1", FORMAT_WRONG),
        ("1 ", FORMAT_WRONG),
        ("aoeu", FORMAT_WRONG),
        ("0.1mi", SUFFIX_WRONG),
        ("0.1am", FORMAT_WRONG),
        (".5i", SUFFIX_WRONG),
        ("1i", SUFFIX_WRONG),
        ("-3.01e-", SUFFIX_WRONG),
        ("1e", SUFFIX_WRONG),
        (".e-10", NUMERIC_WRONG),
    ],
)
def test_invalid_text_is_refused_with_the_text_quoted(text: str, reason: str) -> None:
    result = parse_quantity(text)
    assert not is_successful(result)
    error = result.failure()
    assert error.reason == reason
    assert error.message == f"cannot parse '{text}': {reason}"


def test_format_error_quotes_kubernetes_regular_expression() -> None:
    message = parse_quantity("abc").failure().message
    assert message == (
        "cannot parse 'abc': quantities must match the regular expression "
        "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    )


# (input, canonical form): the examples in quantity.go's documentation, TestQuantityParseEmit,
# and the "alternate" spellings of TestQuantityString.
CANONICAL_TABLE = [
    ("1.5", "1500m"),
    ("1.5Gi", "1536Mi"),
    ("1000m", "1"),
    ("0.1", "100m"),
    ("1e3", "1e3"),
    ("100Mi", "100Mi"),
    ("1024Mi", "1Gi"),
    ("1000M", "1G"),
    (".001Ki", "1024m"),
    (".000001Ki", "1024u"),
    (".000000001Ki", "1024n"),
    (".000000000001Ki", "2n"),
    ("307200Ki", "300Mi"),
    ("1025024Mi", "1001Gi"),
    ("1024Gi", "1Ti"),
    ("0.001T", "1G"),
    ("1000u", "1m"),
    ("1.08", "1080m"),
    ("1080000000n", "1080m"),
    (".001e12", "1e9"),
    ("0.001e0", "1e-3"),
    ("1000e-12", "1e-9"),
    ("00", "0"),
    ("8Ei", "9223372036854775807"),
    ("1025Ki", "1025Ki"),
    ("1.5Ki", "1536"),
    ("0.5Ki", "512"),
]


@pytest.mark.parametrize(("text", "canonical"), CANONICAL_TABLE)
def test_canonical_form(text: str, canonical: str) -> None:
    assert parse(text).string() == canonical
    if canonical != "0":
        assert parse("-" + text).string() == "-" + canonical


def test_canonical_text_is_remembered_as_written() -> None:
    # A text already in canonical shape is printed back as written, like Go's cached string:
    # a leading '+' survives, and so does "1.500" (scale -3, no trailing "000").
    assert parse("+1").string() == "+1"
    assert parse("+1").canonical() == "1"
    assert parse("1.500").string() == "1.500"
    assert parse("1.500").canonical() == "1500m"
    assert parse("1000m").cached_text == ""


def test_decimal_si_beyond_exa_prints_without_suffix_as_apimachinery_does() -> None:
    # 1000E = 10^21; apimachinery has no suffix for 10^21 and prints the bare mantissa.
    assert parse("1000E").canonical() == "1"
    assert parse("1000E").exact == 10**21


@pytest.mark.parametrize(
    ("text", "value", "milli_value"),
    [
        ("1", 1, 1000),
        ("1.5", 2, 1500),
        ("0.1", 1, 100),
        ("100m", 1, 100),
        ("1n", 1, 1),
        ("1Ki", 1024, 1024000),
        ("1.5Gi", 1610612736, 1610612736000),
        # int64Amount rounds away from zero
        ("-1.5", -2, -1500),
        ("-0.1", -1, -100),
        ("-1n", -1, -1),
        # inf.Dec (more than nano precision in the text) truncates, then adds one if inexact
        ("-1.0000000001", 0, -999),
        # int64Amount whose scaled value overflows int64 reads as 0
        ("1E", 10**18, 0),
    ],
)
def test_value_and_milli_value_round_as_apimachinery(
    text: str, value: int, milli_value: int
) -> None:
    quantity = parse(text)
    assert quantity.value() == value
    assert quantity.milli_value() == milli_value


def test_add_and_subtract_keep_the_receivers_format_unless_it_is_zero() -> None:
    total = parse("1Gi") + parse("512Mi")
    assert total.exact == 1536 * 2**20
    assert total.string() == "1536Mi"
    assert (parse("0") + parse("1Ki")).format is BINARY
    assert (parse("0") - parse("1Ki")).string() == "-1Ki"
    assert (parse("100m") + parse("1Ki")).string() == "1024100m"
    assert (parse("1") - parse("1000m")).is_zero()


def test_comparison_is_by_exact_value() -> None:
    assert parse("1") == parse("1000m") == parse("1e0")
    assert parse("1Ki") > parse("1k")
    assert parse("999m") < parse("1")
    assert parse("1").compare(parse("2")) == -1
    assert hash(parse("1")) == hash(parse("1000m"))


def test_json_numbers_and_padded_strings_parse_and_round_trip() -> None:
    assert quantity_from_json(2).unwrap().exact == 2
    assert quantity_from_json(2).unwrap().json_value() == 2
    assert quantity_from_json(0.5).unwrap().exact == Fraction(1, 2)
    assert quantity_from_json(" 1Ki ").unwrap().exact == 1024
    assert quantity_from_json(True).failure().message.startswith("cannot parse 'true'")
    assert quantity_from_json(None).unwrap().is_zero()
    assert (parse("1") + parse("1")).json_value() == "2"


# Properties --------------------------------------------------------------------------------

DECIMAL_MULTIPLIERS = {
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 10**3),
    "": Fraction(1),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
}
BINARY_MULTIPLIERS = {
    name: Fraction(2**power)
    for name, power in (("Ki", 10), ("Mi", 20), ("Gi", 30), ("Ti", 40), ("Pi", 50), ("Ei", 60))
}


def round_up_to_nano(value: Fraction) -> Fraction:
    """Round away from zero to a whole number of nano-units (the documented rule)."""
    scaled = abs(value) * 10**9
    whole = -(-scaled.numerator // scaled.denominator)
    return Fraction(whole if value >= 0 else -whole, 10**9)


@st.composite
def quantity_texts(draw: st.DrawFn) -> tuple[str, Fraction]:
    """A quantity text and its value computed independently of the parser."""
    negative = draw(st.booleans())
    whole = draw(st.integers(min_value=0, max_value=10**12))
    fraction = draw(st.text(alphabet="0123456789", max_size=12))
    kind = draw(st.sampled_from(["decimal", "binary", "exponent"]))
    number = str(whole) + (f".{fraction}" if fraction else "")
    magnitude = Fraction(whole) + (Fraction(int(fraction), 10 ** len(fraction)) if fraction else 0)
    if kind == "decimal":
        suffix = draw(st.sampled_from(sorted(DECIMAL_MULTIPLIERS)))
        value = magnitude * DECIMAL_MULTIPLIERS[suffix]
    elif kind == "binary":
        suffix = draw(st.sampled_from(sorted(BINARY_MULTIPLIERS)))
        value = min(magnitude * BINARY_MULTIPLIERS[suffix], Fraction(2**63 - 1))
    else:
        exponent = draw(st.integers(min_value=-20, max_value=20))
        suffix = f"e{exponent}"
        value = magnitude * Fraction(10) ** exponent
    value = round_up_to_nano(value)
    return ("-" if negative else "") + number + suffix, -value if negative else value


@given(quantity_texts())
def test_parse_gives_the_value_rounded_up_to_nano(case: tuple[str, Fraction]) -> None:
    text, value = case
    assert parse(text).exact == value


@given(quantity_texts())
def test_canonical_form_round_trips_and_is_idempotent(case: tuple[str, Fraction]) -> None:
    text, value = case
    quantity = parse(text)
    canonical = quantity.canonical()
    again = parse(canonical)
    # Decimal SI has no suffix beyond E (10^18): from 10^21 apimachinery prints a bare mantissa.
    if quantity.format is EXPONENT or abs(value) < 10**21:
        assert again.exact == value
    assert again.canonical() == canonical
    assert parse(quantity.string()).string() == quantity.string()


@given(quantity_texts(), quantity_texts())
def test_ordering_agrees_with_exact_values(
    left: tuple[str, Fraction], right: tuple[str, Fraction]
) -> None:
    left_quantity, right_quantity = parse(left[0]), parse(right[0])
    assert (left_quantity < right_quantity) == (left[1] < right[1])
    assert (left_quantity == right_quantity) == (left[1] == right[1])
    assert (left_quantity + right_quantity).exact == left[1] + right[1]
    assert (left_quantity - right_quantity).exact == left[1] - right[1]


@given(quantity_texts())
def test_value_is_the_ceiling_for_non_negative_quantities(case: tuple[str, Fraction]) -> None:
    text, value = case
    if value >= 0:
        quantity = parse(text)
        expected = -(-value.numerator // value.denominator)
        if expected <= 2**63 - 1:
            assert quantity.value() == expected
        milli = value * 1000
        expected_milli = -(-milli.numerator // milli.denominator)
        if expected_milli <= 2**63 - 1:
            assert quantity.milli_value() == expected_milli
