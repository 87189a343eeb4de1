"""The pure input discipline: strict JSON decoding, limits, line streams, UTF-8, YAML shape."""

import msgspec
import pytest
import yaml

from models.k8s.yaml_rules import KubernetesYamlLoader, yaml_shape
from models.strict_input import (
    INT64_MAX,
    InputError,
    Limits,
    decode_json,
    json_depth,
    loose_structs,
    numbered_lines,
    utf8_text,
)


class Inner(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    state: str
    term: int = 0


class Outer(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    node: int
    inner: Inner
    items: tuple[Inner, ...] = ()
    seed: int = 0


DECODER = msgspec.json.Decoder(Outer)


def refused(data: bytes, **options: object) -> InputError:
    with pytest.raises(InputError) as caught:
        decode_json(DECODER, data, "f.jsonl", line=4, **options)  # type: ignore[arg-type]
    return caught.value


def test_a_misspelled_field_is_refused_with_its_full_path() -> None:
    error = refused(b'{"node":1,"inner":{"stat":"leader"}}')
    assert error.field == "inner.stat"
    assert error.reason == 'unknown field "inner.stat"'
    assert error.describe().startswith("f.jsonl:4: field inner.stat: ")


def test_a_wrong_type_in_a_list_names_the_index() -> None:
    error = refused(b'{"node":1,"inner":{"state":"a"},"items":[{"state":"b"},{"state":5}]}')
    assert error.field == "items[1].state"
    assert error.reason == "Expected `str`, got `int`"


def test_integers_beyond_int64_are_refused_with_their_path() -> None:
    error = refused(b'{"node":1,"inner":{"state":"a","term":%d}}' % (INT64_MAX + 1))
    assert error.field == "inner.term"
    assert "outside int64" in error.reason
    fits = decode_json(DECODER, b'{"node":1,"inner":{"state":"a","term":%d}}' % INT64_MAX, "f")
    assert fits.inner.term == INT64_MAX


def test_a_wide_integer_field_may_exceed_int64() -> None:
    data = b'{"node":1,"inner":{"state":"a"},"seed":%d}' % 2**159
    decoded = decode_json(DECODER, data, "f", wide_integers=frozenset({"seed"}))
    assert decoded.seed == 2**159
    assert refused(data).field == "seed"


def test_a_long_digit_string_is_not_an_integer() -> None:
    decoded = decode_json(DECODER, b'{"node":1,"inner":{"state":"%s"}}' % (b"9" * 40), "f")
    assert decoded.inner.state == "9" * 40


def test_deep_nesting_is_refused_by_the_depth_limit_not_a_recursion_error() -> None:
    data = b'{"node":1,"inner":' + b"[" * 10_000 + b"]" * 10_000 + b"}"
    error = refused(data)
    assert error.limit == "depth"
    assert "nesting depth 10001" in error.reason
    assert "depth = 100" in error.reason


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    text = b'{"node":1,"inner":{"state":"' + b"[{" * 200 + b'\\"' + b'"}}'
    assert decode_json(DECODER, text, "f").inner.state.startswith("[{[{")
    assert json_depth(text) == (2, text.index(b"{", 1))


def test_malformed_json_in_a_document_names_the_line_of_the_bad_byte() -> None:
    with pytest.raises(InputError) as caught:
        decode_json(DECODER, b'{"node": 1,\n"inner":\n  {x}}', "doc.json")
    assert caught.value.line == 3
    assert caught.value.reason.startswith("invalid JSON")


def test_non_utf8_bytes_name_line_and_column() -> None:
    error = refused(b'{"node":1,"inner":{"state":"\xff"}}')
    assert error.reason == "not UTF-8: byte 0xff at column 29"
    assert error.line == 4
    with pytest.raises(InputError) as caught:
        utf8_text(b"ok\nalso ok\nbad \xc3(", "m.yaml")
    assert (caught.value.line, caught.value.reason) == (3, "not UTF-8: byte 0xc3 at column 5")


def test_numbered_lines_enforce_line_count_and_byte_limits() -> None:
    limits = Limits(line_bytes=5, lines=3, stream_bytes=100)
    assert list(numbered_lines([b"ab\r\n", b"cd\n", b"ef"], "s", limits)) == [
        (1, b"ab"),
        (2, b"cd"),
        (3, b"ef"),
    ]
    with pytest.raises(InputError) as long_line:
        list(numbered_lines([b"ok\n", b"toolong"], "s", limits))
    assert (long_line.value.line, long_line.value.limit) == (2, "line_bytes")
    with pytest.raises(InputError) as many:
        list(numbered_lines([b"a\n"] * 4, "s", limits))
    assert many.value.limit == "lines"
    with pytest.raises(InputError) as big:
        list(numbered_lines([b"abcd\n"] * 3, "s", Limits(stream_bytes=12)))
    assert (big.value.line, big.value.limit) == (3, "stream_bytes")


def test_loose_structs_finds_a_nested_struct_that_drops_unknown_fields() -> None:
    class Loose(msgspec.Struct):
        value: int

    class Root(msgspec.Struct, forbid_unknown_fields=True):
        strict: Inner
        loose: tuple[Loose, ...] | None = None

    assert loose_structs(Outer) == []
    assert loose_structs(Root) == [Loose.__qualname__]


def compose(text: str) -> yaml.Node:
    loader = KubernetesYamlLoader(text)
    try:
        node: yaml.Node = loader.get_single_node()
    finally:
        loader.dispose()
    return node


def test_yaml_shape_counts_alias_expansion_without_expanding() -> None:
    levels = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        levels.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
    shape = yaml_shape(compose("\n".join(levels)))
    # Level "a" is one sequence and 9 scalars; each next level is a sequence of 9 copies of the
    # previous one; the mapping holds 9 keys and the 9 levels.
    sizes = [10]
    for _ in range(8):
        sizes.append(1 + 9 * sizes[-1])
    assert shape.nodes == 1 + 9 + sum(sizes)
    # The mapping, then nine nested sequences (i down to a).
    assert shape.depth == 1 + 9
    assert not shape.cyclic


def test_yaml_shape_finds_an_alias_cycle() -> None:
    assert yaml_shape(compose("a: &a [1, *a]\n")).cyclic
    assert not yaml_shape(compose("a: &a [1]\nb: *a\n")).cyclic


def test_non_utf8_inside_a_raw_field_is_refused() -> None:
    class Carrier(msgspec.Struct, forbid_unknown_fields=True):
        value: msgspec.Raw

    with pytest.raises(InputError) as caught:
        decode_json(msgspec.json.Decoder(Carrier), b'{"value":"\xff"}', "t", line=2)
    assert caught.value.describe() == "t:2: not UTF-8: byte 0xff at column 11"


def test_a_wrong_type_before_malformed_json_is_reported_as_malformed_json() -> None:
    # msgspec stops at "node": "x" (a type error) before it reaches the broken end of the text.
    error = refused(b'{"node":"x","inner":{"state":"a","term":99999999999999999999' + b"}")
    assert error.reason.startswith("invalid JSON")
    assert error.line == 4
