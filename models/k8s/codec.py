"""Decoding Kubernetes objects from JSON or YAML text and encoding them back.

Parsing is pure: it takes text (or bytes), never a file. YAML may hold several documents
(``---``); empty documents are skipped as kubectl skips them. Each document names its kind with
``apiVersion`` and ``kind``; a ``v1 List`` has its items decoded the same way, one by one.

Errors are values (``DecodeError``) naming the document (1-based), the line when the text is
YAML, and the field path in Kubernetes' notation (``spec.containers[0].imagePullPolicyy``).
Unknown fields are refused, never dropped: ``unknown field "spec.containers[0].x"``.

Reading is bounded by :class:`models.strict_input.Limits` (``docs/limits.md``): documents per
file, nesting depth, YAML nodes after alias expansion (a "billion laughs" document is refused
before it is constructed, as kubectl refuses "excessive aliasing"), integers within int64 in
JSON. Going past a limit is a ``DecodeError`` whose ``limit`` names it; nothing is dropped.

YAML is read with the YAML 1.1 rules kubectl's YAML library follows, except that timestamps stay
text (Kubernetes reads them as strings and parses them itself).

Encoding: ``encode_json`` writes compact JSON with keys sorted (deterministic, for hashing and
comparing); ``to_builtins`` gives plain dicts and lists; ``encode_yaml`` writes one YAML
document per object. Decoding then encoding gives JSON equal to the input as parsed values
(with the exceptions noted in ``models.k8s.base``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final, TypeAlias

import msgspec
import yaml
from returns.result import Failure, Result, Success

from models.k8s import lists
from models.k8s.apps import Deployment, ReplicaSet
from models.k8s.base import canonical_encode_hook, decode_hook, encode_hook
from models.k8s.coordination import Lease
from models.k8s.core.namespace import Binding, Event, Namespace
from models.k8s.core.node import Node
from models.k8s.core.pod import Pod
from models.k8s.core.service import Endpoints, Service
from models.k8s.discovery import EndpointSlice
from models.k8s.lists import List
from models.k8s.yaml_rules import KubernetesYamlLoader, yaml_shape
from models.quantity import JsonNumber
from models.strict_input import LIMITS, InputError, Limits, limit_error
from models.strict_input import decode_json as strict_decode_json

KubernetesObject: TypeAlias = (
    Pod
    | Node
    | Service
    | Endpoints
    | Namespace
    | Event
    | Binding
    | ReplicaSet
    | Deployment
    | EndpointSlice
    | Lease
    | List
    | lists.PodList
    | lists.NodeList
    | lists.ServiceList
    | lists.EndpointsList
    | lists.NamespaceList
    | lists.EventList
    | lists.ReplicaSetList
    | lists.DeploymentList
    | lists.EndpointSliceList
    | lists.LeaseList
)

KINDS: Final[dict[tuple[str, str], type[Any]]] = {
    ("v1", "Pod"): Pod,
    ("v1", "Node"): Node,
    ("v1", "Service"): Service,
    ("v1", "Endpoints"): Endpoints,
    ("v1", "Namespace"): Namespace,
    ("v1", "Event"): Event,
    ("v1", "Binding"): Binding,
    ("apps/v1", "ReplicaSet"): ReplicaSet,
    ("apps/v1", "Deployment"): Deployment,
    ("discovery.k8s.io/v1", "EndpointSlice"): EndpointSlice,
    ("coordination.k8s.io/v1", "Lease"): Lease,
    ("v1", "PodList"): lists.PodList,
    ("v1", "NodeList"): lists.NodeList,
    ("v1", "ServiceList"): lists.ServiceList,
    ("v1", "EndpointsList"): lists.EndpointsList,
    ("v1", "NamespaceList"): lists.NamespaceList,
    ("v1", "EventList"): lists.EventList,
    ("apps/v1", "ReplicaSetList"): lists.ReplicaSetList,
    ("apps/v1", "DeploymentList"): lists.DeploymentList,
    ("discovery.k8s.io/v1", "EndpointSliceList"): lists.EndpointSliceList,
    ("coordination.k8s.io/v1", "LeaseList"): lists.LeaseList,
}
_JSON_DECODER: Final = msgspec.json.Decoder(float_hook=JsonNumber.of)


def register_kinds(extra: Mapping[tuple[str, str], type[Any]]) -> dict[tuple[str, str], type[Any]]:
    """The kind table with ``extra`` added (a new dict; ``KINDS`` itself never changes)."""
    return {**KINDS, **extra}


class DecodeError(msgspec.Struct, frozen=True, kw_only=True):
    """Why a document could not be decoded, and where."""

    reason: str
    document: int = 0
    line: int = 0
    field: str = ""
    limit: str = ""
    """The :class:`models.strict_input.Limits` field the input went past, if any."""

    @classmethod
    def from_input_error(cls, error: InputError, document: int) -> DecodeError:
        return cls(
            reason=error.reason,
            document=document,
            line=error.line,
            field=error.field,
            limit=error.limit,
        )

    @property
    def message(self) -> str:
        place = []
        if self.document:
            place.append(f"document {self.document}")
        if self.line:
            place.append(f"line {self.line}")
        prefix = ", ".join(place)
        return f"{prefix}: {self.reason}" if prefix else self.reason


# YAML ----------------------------------------------------------------------------------------


def load_yaml_documents(text: str, limits: Limits = LIMITS) -> Result[list[object], DecodeError]:
    """Every document of a YAML text as plain data, read as Kubernetes reads YAML."""
    return _yaml_documents(text, limits).map(lambda documents: [item.data for item in documents])


class _Document(msgspec.Struct, frozen=True, kw_only=True):
    number: int
    data: object
    node: yaml.Node | None = None


def _yaml_documents(text: str, limits: Limits) -> Result[list[_Document], DecodeError]:
    loader = KubernetesYamlLoader(text)
    documents: list[_Document] = []
    try:
        for number in range(1, limits.documents + 2):
            if not loader.check_node():
                break
            node = loader.get_node()
            if number > limits.documents:
                value = f"more than {limits.documents} documents"
                error = limit_error("documents", value, limits, line=node.start_mark.line + 1)
                return Failure(DecodeError.from_input_error(error, number))
            too_big = _check_shape(node, number, limits)
            if too_big is not None:
                return Failure(too_big)
            duplicate = _duplicate_key(node)
            if duplicate is not None:
                key, line = duplicate
                reason = f'mapping key "{key}" already defined'
                return Failure(DecodeError(reason=reason, document=number, line=line))
            data = loader.construct_document(node)
            documents.append(_Document(number=number, data=data, node=node))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        reason = f"invalid YAML: {getattr(error, 'problem', None) or error}"
        return Failure(DecodeError(reason=reason, document=len(documents) + 1, line=line))
    finally:
        loader.dispose()
    return Success(documents)


def _check_shape(node: yaml.Node, number: int, limits: Limits) -> DecodeError | None:
    """A document too large once its aliases are expanded, too deep, or infinite, is refused
    before it is constructed."""
    shape = yaml_shape(node)
    line = node.start_mark.line + 1
    if shape.cyclic:
        reason = "an alias refers to a node that contains it (the document would be infinite)"
        return DecodeError(reason=reason, document=number, line=line, limit="yaml_nodes")
    if shape.nodes > limits.yaml_nodes:
        value = f"{shape.nodes} nodes with aliases expanded (excessive aliasing?)"
        error = limit_error("yaml_nodes", value, limits, line=line)
        return DecodeError.from_input_error(error, number)
    if shape.depth > limits.depth:
        error = limit_error("depth", f"nesting depth {shape.depth}", limits, line=line)
        return DecodeError.from_input_error(error, number)
    return None


def _duplicate_key(root: yaml.Node) -> tuple[str, int] | None:
    """The first key defined twice in one mapping (Kubernetes' strict YAML refuses those).
    The document's size was checked first, so the walk is bounded."""
    pending: list[yaml.Node] = [root]
    while pending:
        node = pending.pop()
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.value != "<<":
                    if key_node.value in seen:
                        return key_node.value, key_node.start_mark.line + 1
                    seen.add(key_node.value)
                pending.append(value_node)
        elif isinstance(node, yaml.SequenceNode):
            pending.extend(node.value)
    return None


def _line_of(node: yaml.Node | None, path: Sequence[str | int]) -> int:
    """The 1-based line of the deepest node on ``path`` that exists (0 without a node)."""
    if node is None:
        return 0
    line = node.start_mark.line + 1
    last = len(path) - 1
    for position, step in enumerate(path):
        found: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode) and isinstance(step, str):
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.value == step:
                    found = key_node if position == last else value_node
                    line = key_node.start_mark.line + 1
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int):
            found = node.value[step] if 0 <= step < len(node.value) else None
            line = found.start_mark.line + 1 if found is not None else line
        if found is None:
            return line
        node = found
    return line


# Paths and errors ----------------------------------------------------------------------------

_AT_PATTERN: Final = re.compile(
    r"^(?P<reason>.*?)(?: - at (?:`key` in )?`\$(?P<path>[^`]*)`)?$", re.DOTALL
)
_UNKNOWN_PATTERN: Final = re.compile(r"^Object contains unknown field `(?P<name>[^`]*)`$")
_KEYED_PATTERN: Final = re.compile(r"^(?P<reason>.*) \(at map key (?P<key>.*)\)$", re.DOTALL)
_STEP_PATTERN: Final = re.compile(r"\.([^.\[]+)|\[(\d+|\.\.\.)\]")


def _path_steps(path: str) -> list[str | int]:
    steps: list[str | int] = []
    for match in _STEP_PATTERN.finditer(path):
        name, index = match.group(1), match.group(2)
        if name is not None:
            steps.append(name)
        elif index is not None and index.isdigit():
            steps.append(int(index))
    return steps


def _render_path(steps: Sequence[str | int]) -> str:
    text = ""
    for step in steps:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else step)
    return text


def _error_from_validation(
    error: msgspec.ValidationError, document: _Document, prefix: Sequence[str | int]
) -> DecodeError:
    """msgspec's ``<reason> - at `$.a.b[0]``` as a Kubernetes-style field path and a line."""
    match = _AT_PATTERN.match(str(error))
    assert match is not None, "the pattern matches every text"
    reason = match.group("reason")
    steps = [*prefix, *_path_steps(match.group("path") or "")]
    keyed = _KEYED_PATTERN.match(reason)
    if keyed is not None:
        reason = keyed.group("reason")
        steps.append(keyed.group("key"))
    unknown = _UNKNOWN_PATTERN.match(reason)
    if unknown is not None:
        steps.append(unknown.group("name"))
        reason = f'strict decoding error: unknown field "{_render_path(steps)}"'
    return DecodeError(
        reason=reason,
        document=document.number,
        line=_line_of(document.node, steps),
        field=_render_path(steps),
    )


# Objects -------------------------------------------------------------------------------------


def _decode_object(
    data: object,
    document: _Document,
    prefix: Sequence[str | int],
    kinds: Mapping[tuple[str, str], type[Any]],
) -> Result[object, DecodeError]:
    def fail(reason: str, field: str = "") -> Result[object, DecodeError]:
        steps = [*prefix, field] if field else list(prefix)
        line = _line_of(document.node, steps)
        return Failure(
            DecodeError(
                reason=reason, document=document.number, line=line, field=_render_path(steps)
            )
        )

    if not isinstance(data, dict):
        return fail(f"expected an object, found {type(data).__name__}")
    api_version, kind = data.get("apiVersion"), data.get("kind")
    if not isinstance(kind, str) or not kind:
        return fail("Object 'Kind' is missing", "kind")
    if not isinstance(api_version, str) or not api_version:
        return fail("Object 'apiVersion' is missing", "apiVersion")
    if (api_version, kind) == ("v1", "List"):
        return _decode_list(data, document, prefix, kinds)
    target = kinds.get((api_version, kind))
    if target is None:
        return fail(f'no matches for kind "{kind}" in version "{api_version}"', "kind")
    try:
        return Success(msgspec.convert(data, target, dec_hook=decode_hook))
    except msgspec.ValidationError as error:
        return Failure(_error_from_validation(error, document, prefix))


def _decode_list(
    data: dict[str, Any],
    document: _Document,
    prefix: Sequence[str | int],
    kinds: Mapping[tuple[str, str], type[Any]],
) -> Result[object, DecodeError]:
    shell = {key: value for key, value in data.items() if key != "items"}
    try:
        empty: List = msgspec.convert(shell, List, dec_hook=decode_hook)
    except msgspec.ValidationError as error:
        return Failure(_error_from_validation(error, document, prefix))
    raw_items = data.get("items")
    if raw_items is None:
        return Success(empty)
    if not isinstance(raw_items, list):
        reason = f"Expected `array`, got `{type(raw_items).__name__}`"
        steps = [*prefix, "items"]
        line = _line_of(document.node, steps)
        return Failure(
            DecodeError(reason=reason, document=document.number, line=line, field="items")
        )
    items: list[object] = []
    for index, raw in enumerate(raw_items):
        decoded = _decode_object(raw, document, [*prefix, "items", index], kinds)
        if not isinstance(decoded, Success):
            return decoded
        items.append(decoded.unwrap())
    return Success(msgspec.structs.replace(empty, items=tuple(items)))


def decode_data(
    data: object, kinds: Mapping[tuple[str, str], type[Any]] = KINDS
) -> Result[object, DecodeError]:
    """One object from already-parsed JSON data (a dict)."""
    return _decode_object(data, _Document(number=0, data=data), (), kinds)


def decode_numbered(
    text: str | bytes,
    kinds: Mapping[tuple[str, str], type[Any]] = KINDS,
    limits: Limits = LIMITS,
) -> Result[tuple[tuple[int, object], ...], DecodeError]:
    """(document number, object) for every non-empty document: JSON when the text starts with
    ``{`` (one object, document 1), YAML otherwise."""
    source = text.decode() if isinstance(text, bytes) else text
    if source.lstrip().startswith("{"):
        return decode_json(source, kinds, limits).map(lambda decoded: ((1, decoded),))
    return _decode_yaml_numbered(source, kinds, limits)


def _decode_yaml_numbered(
    source: str, kinds: Mapping[tuple[str, str], type[Any]], limits: Limits
) -> Result[tuple[tuple[int, object], ...], DecodeError]:
    parsed = _yaml_documents(source, limits)
    if not isinstance(parsed, Success):
        return Failure(parsed.failure())
    objects: list[tuple[int, object]] = []
    for document in parsed.unwrap():
        if document.data is None:
            continue
        decoded = _decode_object(document.data, document, (), kinds)
        if not isinstance(decoded, Success):
            return Failure(decoded.failure())
        objects.append((document.number, decoded.unwrap()))
    return Success(tuple(objects))


def decode_yaml(
    text: str | bytes,
    kinds: Mapping[tuple[str, str], type[Any]] = KINDS,
    limits: Limits = LIMITS,
) -> Result[tuple[object, ...], DecodeError]:
    """Every non-empty document of a YAML text, in order."""
    source = text.decode() if isinstance(text, bytes) else text
    return _decode_yaml_numbered(source, kinds, limits).map(
        lambda pairs: tuple(value for _, value in pairs)
    )


def decode_json(
    text: str | bytes,
    kinds: Mapping[tuple[str, str], type[Any]] = KINDS,
    limits: Limits = LIMITS,
) -> Result[object, DecodeError]:
    """One object from JSON text (nesting, integers and size within ``limits``)."""
    data = text.encode() if isinstance(text, str) else text
    try:
        plain = strict_decode_json(_JSON_DECODER, data, "", limits=limits, wide_integers=None)
    except InputError as error:
        return Failure(DecodeError.from_input_error(error, 1))
    return _decode_object(plain, _Document(number=1, data=plain), (), kinds)


def decode_text(
    text: str | bytes, kinds: Mapping[tuple[str, str], type[Any]] = KINDS
) -> Result[tuple[object, ...], DecodeError]:
    """JSON when the text starts with ``{`` (one object), YAML otherwise (any documents)."""
    return decode_numbered(text, kinds).map(lambda pairs: tuple(value for _, value in pairs))


def to_builtins(value: object, *, canonical_quantities: bool = False) -> object:
    """Plain JSON data (dicts, lists, scalars) for an object, map keys sorted. Quantities keep
    the spelling they were decoded from unless ``canonical_quantities``."""
    hook = canonical_encode_hook if canonical_quantities else encode_hook
    encoded = msgspec.json.encode(value, enc_hook=hook, order="deterministic")
    plain: object = msgspec.json.decode(encoded)
    return plain


def encode_json(value: object, *, canonical_quantities: bool = False) -> bytes:
    """Compact JSON with every object's keys sorted: the same object gives the same bytes."""
    hook = canonical_encode_hook if canonical_quantities else encode_hook
    return msgspec.json.encode(value, enc_hook=hook, order="sorted")


def encode_yaml(values: Sequence[object], *, canonical_quantities: bool = False) -> str:
    """One YAML document per object, fields in Kubernetes' order, map keys sorted."""
    documents = [to_builtins(value, canonical_quantities=canonical_quantities) for value in values]
    return yaml.safe_dump_all(documents, sort_keys=False, default_flow_style=False)
