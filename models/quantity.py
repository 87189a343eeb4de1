"""Kubernetes ``resource.Quantity`` with the exact semantics of k8s.io/apimachinery.

A quantity is a fixed-point number with a suffix: decimal SI (``n u m "" k M G T P E``), binary
SI (``Ki Mi Gi Ti Pi Ei``) or a decimal exponent (``1e3``, ``1E-3``). Parsing remembers which of
the three formats was used and the canonical string is printed in that format again:

- non-zero values are rounded up in magnitude to a whole number of nano-units (``0.1n`` -> ``1n``);
- binary values are capped at 2^63-1 in magnitude; decimal values are not capped;
- the canonical form has no fractional digits and the largest exponent (or suffix) that keeps
  the value exact (``1000m`` -> ``1``, ``1.5Gi`` -> ``1536Mi``, ``0.1`` -> ``100m``);
- a binary value below 1024 in magnitude, or one that is not whole, is printed as decimal SI.

Like apimachinery, a parsed string that is already in canonical shape is remembered and printed
back unchanged (``String()``), and ``value()``/``milli_value()`` follow apimachinery's rounding,
which depends on whether Go holds the number as an ``int64Amount`` or an ``inf.Dec``: the int64
form rounds away from zero, the decimal form truncates and then adds one when inexact. This
module tracks that representation so that results agree with Go bit for bit (within int64).

Everything is exact integer arithmetic; no floats are used for values.
"""

from __future__ import annotations

import enum
import functools
from decimal import Decimal
from fractions import Fraction
from typing import Final, final

import msgspec
from returns.pipeline import is_successful
from returns.result import Failure, Result, Success

SPLIT_PATTERN: Final = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
FORMAT_WRONG: Final = f"quantities must match the regular expression '{SPLIT_PATTERN}'"
NUMERIC_WRONG: Final = "unable to parse numeric part of quantity"
SUFFIX_WRONG: Final = "unable to parse quantity's suffix"
EXPONENT_UNSUPPORTED: Final = "decimal exponent above the range kubeoracle supports (e <= 4096)"

INT64_MAX: Final = (1 << 63) - 1
INT64_MIN: Final = -(1 << 63)
NANO_EXPONENT: Final = -9
MAX_INT64_DIGITS: Final = 18
MAX_SUPPORTED_EXPONENT: Final = 4096

_SUFFIX_CHARACTERS: Final = frozenset("eEinumkKMGTP")
_DIGITS: Final = frozenset("0123456789")


class QuantityFormat(enum.StrEnum):
    """The three notations a quantity can be written and re-printed in."""

    DECIMAL_EXPONENT = "DecimalExponent"
    BINARY_SI = "BinarySI"
    DECIMAL_SI = "DecimalSI"


_DECIMAL_SUFFIXES: Final[dict[str, int]] = {
    "n": -9,
    "u": -6,
    "m": -3,
    "": 0,
    "k": 3,
    "M": 6,
    "G": 9,
    "T": 12,
    "P": 15,
    "E": 18,
}
_BINARY_SUFFIXES: Final[dict[str, int]] = {
    "Ki": 10,
    "Mi": 20,
    "Gi": 30,
    "Ti": 40,
    "Pi": 50,
    "Ei": 60,
}
_DECIMAL_SUFFIX_BY_EXPONENT: Final = {
    exponent: name for name, exponent in _DECIMAL_SUFFIXES.items()
}
_BINARY_SUFFIX_BY_EXPONENT: Final = {exponent: name for name, exponent in _BINARY_SUFFIXES.items()}


class QuantityError(msgspec.Struct, frozen=True, kw_only=True):
    """Why a text is not a quantity; ``message`` quotes the text as apimachinery does."""

    text: str
    reason: str

    @property
    def message(self) -> str:
        return f"cannot parse '{self.text}': {self.reason}"


def _wrap_int64(value: int) -> int:
    """Two's-complement wrap, as Go's int64 arithmetic and ``big.Int.Int64`` do."""
    return ((value - INT64_MIN) % (1 << 64)) + INT64_MIN


def _in_int64(value: int) -> bool:
    return INT64_MIN <= value <= INT64_MAX


@final
@functools.total_ordering
class Quantity:
    """An immutable quantity. Equality, hashing and ordering follow the exact rational value
    (``Quantity.Cmp``); ``format`` and the remembered text do not take part.

    ``unscaled * 10**exponent`` is the value. ``decimal_form`` says whether apimachinery would
    hold it as ``inf.Dec`` (True) or ``int64Amount`` (False). ``cached_text`` is the string Go
    remembers from parsing (empty when none). ``source`` is the JSON value it was decoded from
    (a string or a number), kept so that decoding and re-encoding gives the same JSON.
    """

    __slots__ = ("_cached_text", "_decimal_form", "_exponent", "_format", "_source", "_unscaled")

    def __init__(
        self,
        *,
        unscaled: int,
        exponent: int,
        format: QuantityFormat,
        decimal_form: bool = False,
        cached_text: str = "",
        source: str | int | float | None = None,
    ) -> None:
        assert decimal_form or _in_int64(unscaled), "an int64Amount must fit in int64"
        self._unscaled = unscaled
        self._exponent = exponent
        self._format = format
        self._decimal_form = decimal_form
        self._cached_text = cached_text
        self._source = source

    # Construction -------------------------------------------------------------------------

    @classmethod
    def from_int(cls, value: int, format: QuantityFormat) -> Quantity:
        """``resource.NewQuantity(value, format)``."""
        return cls(unscaled=value, exponent=0, format=format)

    @classmethod
    def from_milli(cls, milli_value: int, format: QuantityFormat) -> Quantity:
        """``resource.NewMilliQuantity(value, format)``."""
        return cls(unscaled=milli_value, exponent=-3, format=format)

    @classmethod
    def zero(cls) -> Quantity:
        """The zero quantity (``resource.Quantity{}`` with DecimalSI)."""
        return cls(unscaled=0, exponent=0, format=QuantityFormat.DECIMAL_SI)

    # Accessors ----------------------------------------------------------------------------

    @property
    def format(self) -> QuantityFormat:
        return self._format

    @property
    def unscaled(self) -> int:
        return self._unscaled

    @property
    def exponent(self) -> int:
        return self._exponent

    @property
    def decimal_form(self) -> bool:
        return self._decimal_form

    @property
    def cached_text(self) -> str:
        return self._cached_text

    @property
    def source(self) -> str | int | float | None:
        return self._source

    @property
    def exact(self) -> Fraction:
        """The exact rational value."""
        if self._exponent >= 0:
            return Fraction(self._unscaled * 10**self._exponent)
        return Fraction(self._unscaled, 10**-self._exponent)

    def sign(self) -> int:
        return (self._unscaled > 0) - (self._unscaled < 0)

    def is_zero(self) -> bool:
        return self._unscaled == 0

    def without_source(self) -> Quantity:
        """The same quantity, forgetting the JSON it came from (it then encodes canonically)."""
        return self._replace(source=None)

    def _replace(self, *, source: str | int | float | None) -> Quantity:
        return Quantity(
            unscaled=self._unscaled,
            exponent=self._exponent,
            format=self._format,
            decimal_form=self._decimal_form,
            cached_text=self._cached_text,
            source=source,
        )

    # Comparison ---------------------------------------------------------------------------

    def compare(self, other: Quantity) -> int:
        """``Quantity.Cmp``: -1, 0 or 1 by exact value."""
        left, right = self.exact, other.exact
        return (left > right) - (left < right)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Quantity):
            return NotImplemented
        return self.exact == other.exact

    def __lt__(self, other: Quantity) -> bool:
        return self.exact < other.exact

    def __hash__(self) -> int:
        return hash(self.exact)

    def __repr__(self) -> str:
        return f"Quantity({self.string()!r}, {self._format.value})"

    def __str__(self) -> str:
        return self.string()

    # Formatting ---------------------------------------------------------------------------

    def string(self) -> str:
        """``Quantity.String()``: the remembered parsed text if any, else the canonical form."""
        return self._cached_text or self.canonical()

    def canonical(self) -> str:
        """``CanonicalizeBytes``: number and suffix in canonical form."""
        return _canonical(self._unscaled, self._exponent, self._format)

    def json_value(self) -> str | int | float:
        """What to encode: the decoded JSON value when known, else ``String()`` (as Go does)."""
        return self._source if self._source is not None else self.string()

    # Arithmetic ---------------------------------------------------------------------------

    def add(self, other: Quantity) -> Quantity:
        """``q.Add(y)``: the sum; the format is ``self``'s unless ``self`` is zero."""
        form = other._format if self.is_zero() else self._format
        if not self._decimal_form and not other._decimal_form:
            summed = _int64_add(self._unscaled, self._exponent, other._unscaled, other._exponent)
            if summed is not None:
                return Quantity(unscaled=summed[0], exponent=summed[1], format=form)
        unscaled, exponent = _decimal_add(
            self._unscaled, self._exponent, other._unscaled, other._exponent
        )
        return Quantity(unscaled=unscaled, exponent=exponent, format=form, decimal_form=True)

    def subtract(self, other: Quantity) -> Quantity:
        """``q.Sub(y)``: the difference; the format is ``self``'s unless ``self`` is zero."""
        form = other._format if self.is_zero() else self._format
        if not self._decimal_form and not other._decimal_form:
            negated = _wrap_int64(-other._unscaled)
            summed = _int64_add(self._unscaled, self._exponent, negated, other._exponent)
            if summed is not None:
                return Quantity(unscaled=summed[0], exponent=summed[1], format=form)
        unscaled, exponent = _decimal_add(
            self._unscaled, self._exponent, -other._unscaled, other._exponent
        )
        return Quantity(unscaled=unscaled, exponent=exponent, format=form, decimal_form=True)

    def negated(self) -> Quantity:
        """``q.Neg()``."""
        unscaled = -self._unscaled if self._decimal_form else _wrap_int64(-self._unscaled)
        return Quantity(
            unscaled=unscaled,
            exponent=self._exponent,
            format=self._format,
            decimal_form=self._decimal_form,
        )

    def __add__(self, other: Quantity) -> Quantity:
        return self.add(other)

    def __sub__(self, other: Quantity) -> Quantity:
        return self.subtract(other)

    def __neg__(self) -> Quantity:
        return self.negated()

    # Integer views ------------------------------------------------------------------------

    def scaled_value(self, scale: int) -> int:
        """``ScaledValue(scale)``: the value in units of 10**scale, rounded as Go rounds."""
        if not self._decimal_form:
            return _int64_scaled_value(self._unscaled, self._exponent, scale)
        return _decimal_scaled_value(self._unscaled, self._exponent, scale)

    def value(self) -> int:
        """``Value()``: whole units, rounded up (see ``scaled_value``)."""
        return self.scaled_value(0)

    def milli_value(self) -> int:
        """``MilliValue()``: thousandths of a unit, rounded up (see ``scaled_value``)."""
        return self.scaled_value(-3)


# Arithmetic helpers ------------------------------------------------------------------------


def _int64_add(left: int, left_scale: int, right: int, right_scale: int) -> tuple[int, int] | None:
    """``int64Amount.Add``: the sum at the smaller scale, or None when int64 overflows."""
    if right == 0:
        return left, left_scale
    if left == 0:
        return right, right_scale
    if left_scale == right_scale:
        total = left + right
        return (total, left_scale) if _in_int64(total) else None
    if left_scale > right_scale:
        shifted = left * 10 ** (left_scale - right_scale)
        total = shifted + right
        if not _in_int64(shifted) or not _in_int64(total):
            return None
        return total, right_scale
    shifted = right * 10 ** (right_scale - left_scale)
    total = left + shifted
    if not _in_int64(shifted) or not _in_int64(total):
        return None
    return total, left_scale


def _decimal_add(left: int, left_exponent: int, right: int, right_exponent: int) -> tuple[int, int]:
    """``inf.Dec.Add``: exact, at the finer of the two scales."""
    exponent = min(left_exponent, right_exponent)
    total = left * 10 ** (left_exponent - exponent) + right * 10 ** (right_exponent - exponent)
    return total, exponent


def _int64_scaled_value(unscaled: int, exponent: int, scale: int) -> int:
    """``int64Amount.AsScaledInt64``: scale down rounds away from zero; overflow gives 0."""
    if exponent < scale:
        divisor: int = 10 ** (scale - exponent)
        quotient, remainder = divmod(abs(unscaled), divisor)
        if remainder:
            quotient += 1
        return quotient if unscaled >= 0 else -quotient
    product: int = unscaled * 10 ** (exponent - scale)
    return product if _in_int64(product) else 0


def _decimal_scaled_value(unscaled: int, exponent: int, scale: int) -> int:
    """``scaledValue`` on an inf.Dec: truncating division plus one when inexact (fast path),
    or floor division plus one (big path); both wrap to int64 like Go."""
    difference = scale - exponent  # Go: dec scale (-exponent) minus new scale (-scale)
    if difference == 0:
        return _wrap_int64(unscaled)
    if difference < 0:
        return _wrap_int64(_wrap_int64(unscaled) * 10**-difference)
    divisor = 10**difference
    if unscaled < INT64_MAX and difference < 19:
        small = _wrap_int64(unscaled)
        quotient = abs(small) // divisor * (1 if small >= 0 else -1)
        remainder = small - quotient * divisor
        return _wrap_int64(quotient + 1) if remainder else quotient
    quotient, remainder = divmod(unscaled, divisor)
    return _wrap_int64(_wrap_int64(quotient) + 1) if remainder else _wrap_int64(quotient)


# Canonical form -----------------------------------------------------------------------------


def _strip_factors(value: int, base: int) -> tuple[int, int]:
    """``removeInt64Factors``: divide |value| by base while it divides evenly."""
    magnitude, times = abs(value), 0
    while magnitude >= base and magnitude % base == 0:
        magnitude //= base
        times += 1
    return (magnitude if value >= 0 else -magnitude), times


def _canonical(unscaled: int, exponent: int, quantity_format: QuantityFormat) -> str:
    if unscaled == 0:
        return "0"
    mantissa, times = _strip_factors(unscaled, 10)
    exponent += times
    notation = quantity_format
    if notation is QuantityFormat.BINARY_SI:
        whole = exponent >= 0
        if whole and -1024 < mantissa * 10**exponent < 1024:
            whole = False
        if whole:
            binary, binary_times = _strip_factors(mantissa * 10**exponent, 1024)
            # Beyond Ei apimachinery finds no suffix and prints the bare number.
            return f"{binary}{_BINARY_SUFFIX_BY_EXPONENT.get(binary_times * 10, '')}"
        notation = QuantityFormat.DECIMAL_SI
    while exponent % 3 != 0:
        mantissa *= 10
        exponent -= 1
    if notation is QuantityFormat.DECIMAL_EXPONENT:
        suffix = f"e{exponent}" if exponent else ""
    else:  # a DecimalSI exponent without a suffix prints bare, as apimachinery does
        suffix = _DECIMAL_SUFFIX_BY_EXPONENT.get(exponent, "")
    return f"{mantissa}{suffix}"


# Parsing ------------------------------------------------------------------------------------


class _Scanned(msgspec.Struct, frozen=True, kw_only=True):
    """``parseQuantityString``'s pieces: sign, numeric text, numerator, fraction, suffix."""

    positive: bool
    value: str
    numerator: str
    fraction: str
    suffix: str


def _scan_digits(text: str, start: int) -> int:
    """The index of the first non-digit at or after ``start``."""
    position = start
    while position < len(text) and text[position] in _DIGITS:
        position += 1
    return position


def _scan(text: str) -> _Scanned | None:
    """apimachinery's fast scanner; None means the text does not match ``SPLIT_PATTERN``."""
    end = len(text)
    position = 0
    positive = True
    if end and text[0] in "+-":
        positive = text[0] == "+"
        position = 1
    while position < end and text[position] == "0":
        position += 1
    if position >= end:  # only a sign and zeros: zero, with no suffix
        return _Scanned(positive=positive, value="0", numerator="0", fraction="", suffix="")
    numerator_end = _scan_digits(text, position)
    numerator = text[position:numerator_end] or "0"
    position = numerator_end
    fraction = ""
    if position < end and text[position] == ".":
        fraction_end = _scan_digits(text, position + 1)
        fraction = text[position + 1 : fraction_end]
        position = fraction_end
    value = text[:position]
    suffix_start = position
    while position < end and text[position] in _SUFFIX_CHARACTERS:
        position += 1
    if position < end and text[position] in "+-":
        position += 1
    if _scan_digits(text, position) < end:
        return None
    return _Scanned(
        positive=positive,
        value=value,
        numerator=numerator,
        fraction=fraction,
        suffix=text[suffix_start:],
    )


def _interpret_suffix(suffix: str) -> tuple[int, int, QuantityFormat] | None:
    """(base, exponent, format) of a suffix, or None when it is not one."""
    if suffix in _DECIMAL_SUFFIXES:
        return 10, _DECIMAL_SUFFIXES[suffix], QuantityFormat.DECIMAL_SI
    if suffix in _BINARY_SUFFIXES:
        return 2, _BINARY_SUFFIXES[suffix], QuantityFormat.BINARY_SI
    if len(suffix) > 1 and suffix[0] in "eE":
        digits = suffix[1:]
        body = digits[1:] if digits[0] in "+-" else digits
        if not body or not body.isdigit() or not body.isascii():
            return None
        exponent = int(digits)
        if not _in_int64(exponent):  # strconv.ParseInt range error
            return None
        exponent = ((exponent + (1 << 31)) % (1 << 32)) - (1 << 31)  # Go's int32() conversion
        return 10, exponent, QuantityFormat.DECIMAL_EXPONENT
    return None


def _fast_path(
    scanned: _Scanned, text: str, exponent: int, quantity_format: QuantityFormat
) -> Quantity | None:
    """The int64Amount path of ``ParseQuantity``; None sends the text to the inf.Dec path."""
    numerator, fraction = scanned.numerator, scanned.fraction
    mantissa = 1
    if quantity_format is QuantityFormat.BINARY_SI:
        scale = 0
        if fraction:
            return None
        mantissa = 1 << exponent
        precision = 15 - len(numerator) - exponent * 3 // 10 - 1
    else:
        scale = exponent
        precision = MAX_INT64_DIGITS - len(numerator) - len(fraction)
    scale -= len(fraction)
    if precision < 0 or scale < NANO_EXPONENT:
        return None
    shifted = numerator + fraction
    magnitude = int(shifted)
    result = magnitude * mantissa
    if not _in_int64(result):
        return None
    if not scanned.positive:
        result = -result
    if quantity_format is QuantityFormat.BINARY_SI:
        keep_text = exponent % 10 == 0 and magnitude & 0x07 != 0
    else:
        keep_text = scale % 3 == 0 and not shifted.endswith("000") and shifted[0] != "0"
    return Quantity(
        unscaled=result,
        exponent=scale,
        format=quantity_format,
        cached_text=text if keep_text else "",
    )


def _decimal_path(
    scanned: _Scanned, base: int, exponent: int, quantity_format: QuantityFormat
) -> Quantity | None:
    """The inf.Dec path: exact, rounded up in magnitude to nano-units, binary capped."""
    digits = scanned.value.lstrip("+-").replace(".", "", 1)
    if not digits:
        return None
    magnitude = int(digits)
    decimal_exponent = -len(scanned.fraction)
    if base == 10:
        decimal_exponent += exponent
    else:
        magnitude <<= exponent
    if magnitude != 0:
        if NANO_EXPONENT - decimal_exponent > len(digits):
            magnitude = 1  # below one nano-unit: rounds up to exactly 1n
        elif decimal_exponent < NANO_EXPONENT:
            divisor = 10 ** (NANO_EXPONENT - decimal_exponent)
            magnitude = -(-magnitude // divisor)
        else:
            magnitude *= 10 ** (decimal_exponent - NANO_EXPONENT)
        decimal_exponent = NANO_EXPONENT
    if quantity_format is QuantityFormat.BINARY_SI:
        if Fraction(magnitude) * Fraction(10) ** decimal_exponent > INT64_MAX:
            magnitude, decimal_exponent = INT64_MAX, 0
        elif magnitude != 0 and decimal_exponent < 0 and magnitude < 10**-decimal_exponent:
            quantity_format = QuantityFormat.DECIMAL_SI
    return Quantity(
        unscaled=magnitude if scanned.positive else -magnitude,
        exponent=decimal_exponent,
        format=quantity_format,
        decimal_form=True,
    )


def parse_quantity(text: str) -> Result[Quantity, QuantityError]:
    """``resource.ParseQuantity``: a quantity, or the reason the text is not one."""
    if text == "":
        return Failure(QuantityError(text=text, reason=FORMAT_WRONG))
    if text == "0":
        return Success(
            Quantity(unscaled=0, exponent=0, format=QuantityFormat.DECIMAL_SI, cached_text="0")
        )
    scanned = _scan(text)
    if scanned is None:
        return Failure(QuantityError(text=text, reason=FORMAT_WRONG))
    interpreted = _interpret_suffix(scanned.suffix)
    if interpreted is None:
        return Failure(QuantityError(text=text, reason=SUFFIX_WRONG))
    base, exponent, quantity_format = interpreted
    if exponent > MAX_SUPPORTED_EXPONENT:
        return Failure(QuantityError(text=text, reason=EXPONENT_UNSUPPORTED))
    fast = _fast_path(scanned, text, exponent, quantity_format)
    if fast is not None:
        return Success(fast)
    slow = _decimal_path(scanned, base, exponent, quantity_format)
    if slow is None:
        return Failure(QuantityError(text=text, reason=NUMERIC_WRONG))
    return Success(slow)


def parse_quantity_or_raise(text: str) -> Quantity:
    """``resource.MustParse`` for decoders: raises ValueError with the apimachinery message."""
    result = parse_quantity(text)
    if is_successful(result):
        return result.unwrap()
    raise ValueError(result.failure().message)


class JsonNumber(float):
    """A JSON number that remembers its text, so a quantity written as ``1e3`` in JSON parses
    as the text ``1e3`` (Go's ``UnmarshalJSON`` sees the raw bytes), not as ``1000.0``."""

    __slots__ = ("text",)

    text: str

    @classmethod
    def of(cls, text: str) -> JsonNumber:
        number = cls(text)
        number.text = text
        return number


def go_float_text(value: float) -> str:
    """How Go's ``encoding/json`` prints a float64: the shortest digits, positional unless
    the magnitude is below 1e-6 or from 1e21 on, and ``e-07`` shortened to ``e-7``. This is
    the text Go's Quantity sees for a YAML float (YAML is turned into JSON first)."""
    magnitude = abs(value)
    if magnitude != 0 and (magnitude < 1e-6 or magnitude >= 1e21):
        text = repr(value)
        if len(text) >= 4 and text[-4] == "e" and text[-3] == "-" and text[-2] == "0":
            text = text[:-2] + text[-1]
        return text
    return format(Decimal(repr(value)).normalize(), "f")


def quantity_from_json(raw: object) -> Result[Quantity, QuantityError]:
    """``Quantity.UnmarshalJSON``: a JSON string (trimmed) or number, remembered for
    re-encoding; ``null`` is the zero quantity, as in Go. A number's text is its JSON text
    when known (``JsonNumber``), else the text Go prints for it (``go_float_text``)."""
    if raw is None:
        return Success(Quantity.zero())
    if isinstance(raw, bool):
        return Failure(QuantityError(text="true" if raw else "false", reason=FORMAT_WRONG))
    if isinstance(raw, JsonNumber):
        return parse_quantity(raw.text).map(lambda quantity: quantity._replace(source=float(raw)))
    if isinstance(raw, float):
        if raw != raw or raw in (float("inf"), float("-inf")):
            return Failure(QuantityError(text=repr(raw), reason=FORMAT_WRONG))
        return parse_quantity(go_float_text(raw)).map(
            lambda quantity: quantity._replace(source=raw)
        )
    if isinstance(raw, int):
        return parse_quantity(str(raw)).map(lambda quantity: quantity._replace(source=raw))
    if isinstance(raw, str):
        return parse_quantity(raw.strip()).map(lambda quantity: quantity._replace(source=raw))
    return Failure(QuantityError(text=repr(raw), reason=FORMAT_WRONG))
