"""Fingerprints: the definition (blake2b of deterministic JSON, combined per field) and the
incremental cache, which must always agree with it."""

from __future__ import annotations

import hashlib

import immutables
import msgspec
from hypothesis import given
from hypothesis import strategies as st

from runner.sim.fingerprint import (
    REMOVED_DIGEST,
    Fingerprinter,
    digest_of,
    encode,
    fingerprint_of,
    value_at,
)


class Inner(msgspec.Struct, frozen=True, kw_only=True):
    term: int
    log: tuple[int, ...] = ()


class Outer(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    inner: Inner | None
    table: immutables.Map[int, Inner]


def blake(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


def test_a_leaf_digest_is_blake2b_of_its_json() -> None:
    assert digest_of(3) == blake(b"3")
    assert digest_of((1, 2)) == blake(b"[1,2]")
    assert digest_of(frozenset({3, 1})) == blake(b"[1,3]")


def test_a_struct_digest_combines_type_field_names_and_child_digests() -> None:
    value = Inner(term=2, log=(1,))
    expected = hashlib.blake2b(b"Inner", digest_size=16)
    expected.update(b"\x00term=" + blake(b"2"))
    expected.update(b"\x00log=" + blake(b"[1]"))
    assert digest_of(value) == expected.digest()


def test_map_digest_ignores_insertion_order() -> None:
    one = immutables.Map({1: Inner(term=1), 10: Inner(term=2)})
    other = immutables.Map({10: Inner(term=2)}).set(1, Inner(term=1))
    assert digest_of(one) == digest_of(other)
    assert encode(one) == b'{"1":{"log":[],"term":1},"10":{"log":[],"term":2}}'


def test_a_changed_field_changes_the_fingerprint() -> None:
    base = Outer(name="a", inner=Inner(term=1), table=immutables.Map())
    changed = msgspec.structs.replace(base, inner=Inner(term=2))
    assert fingerprint_of(base) != fingerprint_of(changed)


def test_delta_names_exactly_the_changed_leaves() -> None:
    fingerprinter = Fingerprinter()
    base = Outer(name="a", inner=Inner(term=1), table=immutables.Map({1: Inner(term=1)}))
    fingerprinter.update(base)
    after = msgspec.structs.replace(
        base,
        inner=Inner(term=5),
        table=base.table.delete(1).set(2, Inner(term=7)),
    )
    fingerprint, delta = fingerprinter.update(after)
    assert fingerprint == fingerprint_of(after)
    changes = {change.path: change for change in delta}
    # term changed, log did not; entry 1 of the table went away, entry 2 is new (reported whole)
    assert sorted(changes) == ["inner.term", "table.1", "table.2"]
    assert changes["table.1"].digest == REMOVED_DIGEST
    value = changes["table.2"].value
    assert isinstance(value, msgspec.Raw)
    assert msgspec.json.decode(value) == {"term": 7, "log": []}
    assert changes["inner.term"].digest == blake(b"5").hex()


def test_value_at_follows_struct_fields_and_map_keys() -> None:
    state = Outer(name="a", inner=None, table=immutables.Map({2: Inner(term=7)}))
    assert value_at(state, "table.2.term") == (True, 7)
    assert value_at(state, "table.3") == (False, None)
    assert value_at(state, "name") == (True, "a")


inners = st.builds(
    Inner,
    term=st.integers(0, 5),
    log=st.lists(st.integers(0, 3), max_size=3).map(tuple),
)
outers = st.builds(
    Outer,
    name=st.sampled_from(["a", "b"]),
    inner=st.none() | inners,
    table=st.dictionaries(st.integers(0, 4), inners, max_size=4).map(immutables.Map),
)


@given(st.lists(outers, min_size=1, max_size=6))
def test_incremental_fingerprints_equal_fingerprints_from_scratch(states: list[Outer]) -> None:
    fingerprinter = Fingerprinter()
    for state in states:
        fingerprint, _ = fingerprinter.update(state)
        assert fingerprint == fingerprint_of(state)


class Log(msgspec.Struct, frozen=True, kw_only=True):
    entries: tuple[Inner, ...]


@given(
    st.lists(
        st.tuples(st.sampled_from(["append", "truncate", "copy"]), st.integers(0, 40)),
        min_size=1,
        max_size=12,
    )
)
def test_a_long_tuple_hashed_on_from_its_prefix_equals_the_definition(
    operations: list[tuple[str, int]],
) -> None:
    """A log (tuple leaf) that grows by appends, loses its head or tail, or is rebuilt from
    equal but new objects keeps the fingerprint and the delta of the definition."""
    fingerprinter = Fingerprinter()
    entries = tuple(Inner(term=i, log=(i,)) for i in range(30))
    previous = Log(entries=entries)
    fingerprinter.update(previous)
    for operation, count in operations:
        if operation == "append":
            entries = (*entries, *(Inner(term=count + i) for i in range(count % 7 + 1)))
        elif operation == "truncate":
            entries = entries[count:] if count % 2 else entries[: len(entries) - count]
        else:
            entries = tuple(msgspec.structs.replace(entry) for entry in entries)
        state = Log(entries=entries)
        fingerprint, delta = fingerprinter.update(state)
        assert fingerprint == fingerprint_of(state)
        changed = encode(state.entries) != encode(previous.entries)
        assert [change.path for change in delta] == (["entries"] if changed else [])
        if changed:
            assert delta[0].digest == blake(encode(entries)).hex()
            short = len(encode(entries)) <= 240
            assert isinstance(delta[0].value, msgspec.Raw) == short
        previous = state
