r"""YAML read as kubectl and the API server read it (go-yaml v2 behind sigs.k8s.io/yaml).

PyYAML's safe loader follows YAML 1.1; go-yaml v2 differs in a few plain scalars, checked
against kubectl v1.32 (``kubectl set env --local`` on a manifest):

- timestamps stay strings (Kubernetes parses ``metav1.Time`` itself);
- ``y``, ``Y``, ``n``, ``N`` are booleans, like ``yes``/``no``/``on``/``off``;
- integers are what Go's ``strconv.ParseInt(s, 0, 64)`` accepts once underscores are removed:
  ``0b101``, ``0o17``, ``017`` (octal), ``0x1F``; there are no sexagesimal numbers (``1:20`` is
  a string; ``09``, not octal, is the float 9);
- floats match ``[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`` (underscores removed)
  when not integers, so ``1e6`` is a number, where YAML 1.1 reads a string; anything else
  stays a string.

:func:`yaml_shape` measures a composed document (nodes with aliases expanded, depth, alias
cycles) so that readers can refuse what ``docs/limits.md`` bounds before constructing it.
"""

from __future__ import annotations

import re
from typing import Final, NamedTuple

import yaml

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_TIMESTAMP_TAG: Final = "tag:yaml.org,2002:timestamp"
_FLOAT_TAG: Final = "tag:yaml.org,2002:float"
_INT_TAG: Final = "tag:yaml.org,2002:int"
_BOOL_TAG: Final = "tag:yaml.org,2002:bool"

_NUMBER_TAG: Final = "tag:kubeoracle,2026:go-yaml-number"
# Plain scalars that may be numbers for go-yaml; the constructor decides as go-yaml does.
_NUMBER_CANDIDATE: Final = re.compile(
    r"^(?:[-+]?[0-9.][0-9a-zA-Z_.+-]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
_GO_FLOAT: Final = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_GO_YAML_BOOL: Final = re.compile(
    r"^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$"
)
_TRUE_WORDS: Final = frozenset({"y", "yes", "true", "on"})
_INT64_MIN: Final = -(2**63)
_UINT64_MAX: Final = 2**64 - 1
_SPECIAL_FLOATS: Final = {".inf": float("inf"), "-.inf": float("-inf"), "+.inf": float("inf")}


def _resolvers() -> dict[str | None, list[tuple[str, re.Pattern[str]]]]:
    """SafeLoader's implicit resolvers with go-yaml's bool and number rules and no
    timestamps."""
    replaced = (_TIMESTAMP_TAG, _FLOAT_TAG, _INT_TAG, _BOOL_TAG)
    resolvers: dict[str | None, list[tuple[str, re.Pattern[str]]]] = {}
    for first, entries in yaml.SafeLoader.yaml_implicit_resolvers.items():
        resolvers[first] = [(tag, pattern) for tag, pattern in entries if tag not in replaced]
    for first in "+-.0123456789":
        resolvers.setdefault(first, []).insert(0, (_NUMBER_TAG, _NUMBER_CANDIDATE))
    for first in "yYnNtTfFoO":
        resolvers.setdefault(first, []).insert(0, (_BOOL_TAG, _GO_YAML_BOOL))
    return resolvers


def _parse_go_int(text: str) -> int | None:
    """``strconv.ParseInt/ParseUint(text, 0, 64)``: 0b/0o/0x prefixes, leading 0 octal."""
    sign = -1 if text.startswith("-") else 1
    body = text[1:] if text[:1] in "+-" else text
    bases = {"0b": 2, "0o": 8, "0x": 16}
    base = bases.get(body[:2].lower(), 8 if len(body) > 1 and body.startswith("0") else 10)
    digits = body[2:] if base in (2, 16) or body[:2].lower() == "0o" else body
    try:
        value = sign * int(digits, base)
    except ValueError:
        return None
    return value if _INT64_MIN <= value <= _UINT64_MAX else None


def _construct_number(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int | float | str:
    """go-yaml v2's ``resolve``: an integer, else a float when the text (underscores
    removed) looks like one, else the text itself."""
    text = str(loader.construct_scalar(node))
    plain = text.replace("_", "")
    if plain.lower() in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[plain.lower()]
    if plain.lower() == ".nan":
        return float("nan")
    integer = _parse_go_int(plain) if plain else None
    if integer is not None:
        return integer
    if _GO_FLOAT.match(plain):
        return float(plain)
    return text


def _construct_bool(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> bool:
    return str(loader.construct_scalar(node)).lower() in _TRUE_WORDS


class KubernetesYamlLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    """A safe loader with go-yaml v2's scalar rules (configured once, below)."""


KubernetesYamlLoader.yaml_implicit_resolvers = _resolvers()
KubernetesYamlLoader.add_constructor(_NUMBER_TAG, _construct_number)
KubernetesYamlLoader.add_constructor(_BOOL_TAG, _construct_bool)


class YamlShape(NamedTuple):
    """The size of a composed YAML document once its aliases are expanded."""

    nodes: int
    """Nodes (scalars, sequences, mappings, mapping keys), each alias counting its target's."""
    depth: int
    """Nesting of sequences and mappings, as JSON's nesting of arrays and objects (a scalar
    alone is depth 0)."""
    cyclic: bool
    """An alias refers to a node that contains it: the document is infinite."""


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [item for pair in node.value for item in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def yaml_shape(root: yaml.Node) -> YamlShape:
    """Nodes and depth of ``root`` with aliases expanded, in time linear in the composed nodes
    (each distinct node is measured once, so a billion-laughs document is measured at once)."""
    measured: dict[int, tuple[int, int]] = {}
    open_nodes: set[int] = set()
    pending: list[tuple[yaml.Node, bool]] = [(root, False)]
    while pending:
        node, children_done = pending.pop()
        key = id(node)
        if children_done:
            open_nodes.discard(key)
            sizes = [measured[id(child)] for child in _children(node)]
            nodes = 1 + sum(size for size, _ in sizes)
            container = isinstance(node, yaml.CollectionNode)
            deepest = max((depth for _, depth in sizes), default=0)
            measured[key] = (nodes, deepest + 1 if container else 0)
            continue
        if key in measured:
            continue
        if key in open_nodes:
            return YamlShape(nodes=0, depth=0, cyclic=True)
        open_nodes.add(key)
        pending.append((node, True))
        pending.extend((child, False) for child in _children(node) if id(child) not in measured)
    nodes, depth = measured[id(root)]
    return YamlShape(nodes=nodes, depth=depth, cyclic=False)
