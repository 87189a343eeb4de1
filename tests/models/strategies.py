"""Hypothesis strategies that build JSON data for any model struct, by walking its fields.

The data is what a Kubernetes client could send: each optional field present or absent, maps
keyed by short strings, quantities from a pool of valid spellings (including JSON numbers),
opaque subtrees as arbitrary JSON. Decoding it and encoding the result must give it back.
"""

import enum
import types
import typing
from typing import Any

import immutables
import msgspec
from hypothesis import strategies as st

from models.k8s.base import Opaque
from models.quantity import Quantity

QUANTITY_SPELLINGS = st.sampled_from(
    ["1", "100m", "1.5Gi", "0.1", "1e3", "2Ki", "512Mi", "1000m", "+3", "7.5", "0", "12E"]
) | st.integers(min_value=0, max_value=10**6)

NAMES = st.text(alphabet="abcxyz-./0123", min_size=1, max_size=8)
JSON_SCALARS = st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(max_size=6)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(NAMES, inner, max_size=3),
    max_leaves=8,
)


def _is_unset(tp: object) -> bool:
    return tp is msgspec.UnsetType


def data_for(tp: Any, depth: int = 0) -> st.SearchStrategy[object]:
    """JSON data that decodes as ``tp`` (a field annotation), None excluded."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = [
            arg for arg in typing.get_args(tp) if arg is not type(None) and not _is_unset(arg)
        ]
        strategy = st.one_of(*(data_for(option, depth) for option in options))
        if type(None) in typing.get_args(tp) and any(_is_unset(a) for a in typing.get_args(tp)):
            return strategy | st.none()
        return strategy
    if origin is typing.Literal:
        return st.sampled_from(typing.get_args(tp))
    if origin is tuple:
        item = typing.get_args(tp)[0]
        return st.lists(data_for(item, depth + 1), max_size=2 if depth < 3 else 0)
    if origin is immutables.Map:
        value_type = typing.get_args(tp)[1]
        return st.dictionaries(NAMES, data_for(value_type, depth + 1), max_size=3)
    if tp is Quantity:
        return QUANTITY_SPELLINGS
    if tp is Opaque:
        return JSON_VALUES
    if tp is str:
        return st.text(max_size=8)
    if tp is bool:
        return st.booleans()
    if tp is int:
        return st.integers(min_value=-(2**31), max_value=2**31)
    if tp is object:
        return JSON_VALUES
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return st.sampled_from([member.value for member in tp])
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        return struct_data(tp, depth + 1)
    raise AssertionError(f"no strategy for {tp!r}")


def struct_data(cls: type[msgspec.Struct], depth: int = 0) -> st.SearchStrategy[dict[str, object]]:
    """A JSON object for ``cls``: every field optional, absent beyond a nesting depth."""
    hints = typing.get_type_hints(cls)
    fields = msgspec.structs.fields(cls)
    if depth > 5:
        return st.just({})
    optional = {field.encode_name: data_for(hints[field.name], depth) for field in fields}
    return st.fixed_dictionaries({}, optional=optional)
