"""Reading a trace of any world into the page's rows, lanes and arrows (``docs/view.md``).

Generic over the kernel's trace format: nothing here knows a world. The trace is re-executed
with the kernel's :class:`~runner.sim.run.Run` (as ``replay`` does), so each step's diff holds
the values before and after in full, down to the leaf that changed; where the replay cannot
follow the trace (an edited trace), the rest of the rows show the trace's recorded deltas.

- **Lane** of a step: the component its action names, found by the first of
  :data:`ACTOR_FIELDS` the action has (``component`` by its value, ``member`` as ``node``, the
  others as ``"client 2"``); an action naming a requester and a server (a client's call to a
  member) is in the requester's lane with an arrow to the server's; an action nested in
  another's ``action`` field (``{"type": "etcd", "action": {...}}``) is prefixed with the
  outer tag (``"etcd node 2"``). An action that names no component
  (a partition, a heal, time passing, a user's request) is in the ``environment`` lane; a
  delivery is in the lane of the message's destination.
- **Arrow**: a step whose diff adds ``…in_flight.<id>`` sent message ``<id>`` (from that step's
  lane); an action with a ``message`` field (deliver, drop, duplicate) takes it. The message's
  ``to_id``/``to`` field names its destination (for a message the trace holds only by digest:
  the ``nodes.<id>`` slot the delivery changed), its ``type`` labels the arrow.
- **A world's own names**: a world whose actions name one component in two ways (a cluster's
  ``replica 0`` is its ``manager-0``) may give its kind a ``view_lane(action, lane) -> str``
  method: given the action (as JSON) and the lane read as above, the lane to use.
- **Fault** rows: actions whose kind the world lists with a fault (``WorldKind.action_kinds``).
- **Violation**: the result's step (and the nodes it names) is marked.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec

from models.trace import FieldChange, TracePhase, TraceSnapshot, TraceStep
from runner.progress import track
from runner.sim.fingerprint import REMOVED_DIGEST, to_builtins, value_at
from runner.sim.run import AnyRun, Run, StepOutcome
from runner.sim.trace import ParsedTrace
from runner.sim.world import NotEnabled
from runner.view.model import ABSENT, Arrow, Mark, Row, ViewData, cap_diff, json_diff, show

ACTOR_FIELDS: Final = (
    "component",
    "node",
    "member",
    "replica",
    "controller",
    "scheduler",
    "client",
    "watch",
)
"""Action fields that name the component acting, in the order they are looked for."""
AS_NODE: Final = frozenset({"member"})
"""Actor fields that name the same components as ``node`` (an etcd member is a node)."""
NESTED_FIELD: Final = "action"
"""A world that wraps another's actions puts them in this field (``{"type": "etcd",
"action": {"action": "tick", "node": 2}}``)."""
REQUESTER_FIELDS: Final = ("client", "watch")
SERVER_FIELDS: Final = ("member", "node")
"""An action naming a requester and a server (``{"action": "call", "client": 2, "member":
1}``) is in the requester's lane, with an arrow to the server's."""
TAG_FIELDS: Final = ("action", "type")
"""The fields a world's action union is tagged on."""
ENVIRONMENT: Final = "environment"
NOT_RECORDED: Final = "(not recorded)"
TO_FIELDS: Final = ("to_id", "to", "destination")
LABEL_CHARS_MAX: Final = 110
_IN_FLIGHT: Final = re.compile(r"(?:^|\.)in_flight\.(\d+)$")
_NODE_SLOT: Final = re.compile(r"(?:^|\.)nodes\.(\d+)(?:\.|$)")


def action_tag(action: Any) -> str:
    """The action's tag (``deliver``, ``call``, ...), or ``?``."""
    if isinstance(action, dict):
        for name in TAG_FIELDS:
            if isinstance(action.get(name), str):
                return str(action[name])
    return "?"


def _lane_name(name: str, value: int | str) -> str:
    if name == "component":
        return str(value)
    return f"{'node' if name in AS_NODE else name} {value}"


def request_of(action: Any) -> tuple[str, str] | None:
    """For an action that names both a requester (:data:`REQUESTER_FIELDS`) and a server
    (:data:`SERVER_FIELDS`): the two lanes (a client's call to a member)."""
    if not isinstance(action, dict):
        return None
    found = [
        next(((n, action[n]) for n in fields if isinstance(action.get(n), int | str)), None)
        for fields in (REQUESTER_FIELDS, SERVER_FIELDS)
    ]
    requester, server = found
    if requester is None or server is None:
        return None
    return _lane_name(*requester), _lane_name(*server)


def actor_of(action: Any) -> str | None:
    """The lane an action's own fields name, or ``None``."""
    if not isinstance(action, dict):
        return None
    request = request_of(action)
    if request is not None:
        return request[0]
    for name in ACTOR_FIELDS:
        value = action.get(name)
        if isinstance(value, bool) or not isinstance(value, int | str):
            continue
        return _lane_name(name, value)
    nested = action.get(NESTED_FIELD)
    if isinstance(nested, dict):
        inner = actor_of(nested)
        if inner is not None:
            return f"{action_tag(action)} {inner}"
    return None


def _nesting(action: Any) -> tuple[str, Any]:
    """The prefix nested actions add (``"etcd "``) and the innermost action."""
    prefix = ""
    while isinstance(action, dict):
        inner = action.get(NESTED_FIELD)
        if not isinstance(inner, dict):
            break
        prefix += action_tag(action) + " "
        action = inner
    return prefix, action


def label_of(action: Any) -> str:
    """``deliver message=12``: the tag, then the other fields, on one short line."""
    prefix, inner = _nesting(action)
    if not isinstance(inner, dict):
        return prefix + show(inner)
    parts = [prefix + action_tag(inner)]
    for name, value in inner.items():
        if name in TAG_FIELDS:
            continue
        parts.append(f"{name}={value if isinstance(value, int | str) else show(value)}")
    text = " ".join(parts)
    return text if len(text) <= LABEL_CHARS_MAX else text[: LABEL_CHARS_MAX - 1] + "…"


def _message_fields(value: Any) -> dict[str, Any] | None:
    """The message inside an in-flight entry (``{"message": {...}}``), if it is an object."""
    while isinstance(value, dict) and isinstance(value.get("message"), dict):
        value = value["message"]
    return value if isinstance(value, dict) else None


def _destination(message: dict[str, Any] | None) -> Any:
    if message is None:
        return None
    for name in TO_FIELDS:
        if isinstance(message.get(name), int | str):
            return message[name]
    return None


@dataclass
class _Sent:
    row: int
    lane: int
    message: dict[str, Any] | None


@dataclass
class _Reader:
    """The lanes found so far and the messages in flight; ``world_lane``: the world kind's
    optional ``view_lane`` hook."""

    world_lane: Callable[[Any, str], str] | None = None
    lanes: dict[str, int] = field(default_factory=dict)
    sent: dict[int, _Sent] = field(default_factory=dict)
    arrows: list[Arrow] = field(default_factory=list)

    def lane(self, name: str) -> int:
        return self.lanes.setdefault(name, len(self.lanes))


@dataclass
class _Values:
    """The JSON of each path's value as the last step that changed it left it, so a step's
    "before" is not encoded again (the encoding is the costly part of reading a trace).

    An entry for a path is good while nothing at, under or above the path changed since.
    """

    cache: dict[str, tuple[int, Any]] = field(default_factory=dict)
    exact: dict[str, int] = field(default_factory=dict)
    under: dict[str, int] = field(default_factory=dict)

    def before(self, state: object, path: str) -> Any:
        cached = self.cache.get(path)
        if cached is not None and self._still_good(path, cached[0]):
            return cached[1]
        found, value = value_at(state, path)
        return to_builtins(value) if found else ABSENT

    def _still_good(self, path: str, stored: int) -> bool:
        if self.under.get(path, -1) != stored:
            return False
        parts = path.split(".")
        return all(
            self.exact.get(".".join(parts[:end]), -1) < stored for end in range(1, len(parts))
        )

    def changed(self, step: int, path: str, value: Any) -> None:
        self.exact[path] = step
        parts = path.split(".")
        for end in range(1, len(parts) + 1):
            self.under[".".join(parts[:end])] = step
        self.cache[path] = (step, value)


def _replayed_diff(
    values: _Values, step: int, before: object, after: object, delta: tuple[FieldChange, ...]
) -> tuple[list[tuple[str, str, str]], dict[str, Any]]:
    """The fine diff of a replayed step, and the new value of every changed path."""
    entries: list[tuple[str, str, str]] = []
    new_values: dict[str, Any] = {}
    olds = [values.before(before, change.path) for change in delta]
    for change, old_json in zip(delta, olds, strict=True):
        found_after, new = value_at(after, change.path)
        new_json = to_builtins(new) if found_after else ABSENT
        new_values[change.path] = new_json
        json_diff(change.path, old_json, new_json, entries)
    for change in delta:
        values.changed(step, change.path, new_values[change.path])
    return entries, new_values


@dataclass
class _Recorded:
    """What the trace itself says of each path: the values its deltas carry, over the last
    snapshot's full state (decoded only when a path is looked up)."""

    known: dict[str, Any] = field(default_factory=dict)
    snapshot: msgspec.Raw | None = None
    decoded: Any = None

    def new_snapshot(self, state: msgspec.Raw) -> None:
        self.snapshot, self.decoded, self.known = state, None, {}

    def before(self, path: str) -> Any:
        if path in self.known:
            return self.known[path]
        if self.snapshot is None:
            return NOT_RECORDED
        if self.decoded is None:
            self.decoded = msgspec.json.decode(self.snapshot)
        value = self.decoded
        for name in path.split("."):
            if not isinstance(value, dict):
                return NOT_RECORDED
            if name not in value:
                return ABSENT  # the snapshot is the whole state: the path did not exist
            value = value[name]
        return value

    def diff(
        self, delta: tuple[FieldChange, ...] | None
    ) -> tuple[list[tuple[str, str, str]], dict[str, Any]]:
        """The diff the trace records (values over 240 bytes are only digests there)."""
        entries: list[tuple[str, str, str]] = []
        new_values: dict[str, Any] = {}
        for change in delta or ():
            if change.digest == REMOVED_DIGEST:
                new: Any = ABSENT
            elif isinstance(change.value, msgspec.Raw):
                new = msgspec.json.decode(change.value)
            else:
                new = f"(long value, digest {change.digest[:12]})"
            old = self.before(change.path)
            self.known[change.path] = new
            new_values[change.path] = new
            json_diff(change.path, old, new, entries)
        return entries, new_values


def _fault_tags(parsed: ParsedTrace) -> frozenset[str]:
    return frozenset(kind.name for kind in parsed.kind.action_kinds if kind.fault is not None)


def _steps_with_phase(
    parsed: ParsedTrace,
) -> Iterator[tuple[TraceStep[Any] | TraceSnapshot, bool]]:
    """Each step (and snapshot), and whether the liveness phase starts just before it."""
    phase_next = False
    for _, record in parsed.records:
        if isinstance(record, TracePhase):
            phase_next = True
        elif isinstance(record, TraceSnapshot):
            yield record, False
        else:
            yield record, phase_next
            phase_next = False


def read_trace_view(parsed: ParsedTrace, replay: bool = True) -> ViewData:
    """The page's data for a checked trace; ``replay=False``: do not re-execute it, show the
    values its deltas and snapshots record (fast, but long values only by digest)."""
    hook = getattr(parsed.kind, "view_lane", None)
    reader = _Reader(world_lane=hook if callable(hook) else None)
    faults = _fault_tags(parsed)
    run: AnyRun | None = None
    notes: list[str] = []
    if replay:
        run = Run(parsed.kind.build(parsed.header.setup, parsed.header.swarm))
    else:
        notes.append(
            "not re-executed (--no-replay): diffs show the values the trace records (up to 240 "
            "bytes; longer ones by digest), earlier values from its last snapshot"
        )
    recorded = _Recorded()
    values = _Values()
    rows: list[Row] = []
    steps = track(_steps_with_phase(parsed), "view: steps", total=len(parsed.records))
    for record, phase_starts in steps:
        if isinstance(record, TraceSnapshot):
            recorded.new_snapshot(record.state)
            continue
        action = to_builtins(record.action)
        entries: list[tuple[str, str, str]]
        if run is not None:
            before = run.state
            outcome = run.step(record.action)
            if isinstance(outcome, NotEnabled) or (
                isinstance(outcome, StepOutcome) and outcome.fingerprint != record.fingerprint
            ):
                why = outcome.reason if isinstance(outcome, NotEnabled) else "another state"
                notes.append(
                    f"the replay departs from the trace at step {record.index} ({why}): from "
                    "there on, diffs are the trace's recorded deltas"
                )
                run = None
            else:
                assert isinstance(outcome, StepOutcome)
                entries, new_values = _replayed_diff(
                    values, record.index, before, run.state, outcome.delta
                )
        if run is None:
            entries, new_values = recorded.diff(record.delta)
        rows.append(_row(reader, len(rows), record.index, action, entries, new_values))
        style = "fault" if action_tag(_nesting(action)[1]) in faults else ""
        if phase_starts:
            style = "phase"
        if style:
            rows[-1] = msgspec.structs.replace(rows[-1], style=style)
    rows = _in_lane_order(reader, rows)
    marks = _marks(parsed, reader, rows)
    header = parsed.header
    result = parsed.result
    summary = [
        f"world {header.world}, seed {header.seed}, {len(rows)} steps, "
        f"faults: {', '.join(header.swarm.faults) or 'none'}; written by {header.code_version}",
        f"result: {result.status}"
        + (f", {result.property} after step {result.index}" if result.property else "")
        + (f": {result.message}" if result.message else ""),
        *notes,
    ]
    return ViewData(
        title=parsed.source,
        kind="trace",
        summary=tuple(summary),
        lanes=tuple(reader.lanes),
        rows=tuple(rows),
        arrows=tuple(reader.arrows),
        marks=marks,
        legend=(
            ("fault", "a fault the world injects"),
            ("phase", "the liveness phase starts"),
            ("violation", "the step a property broke at"),
        ),
    )


def _row(
    reader: _Reader,
    position: int,
    index: int,
    action: Any,
    entries: list[tuple[str, str, str]],
    new_values: dict[str, Any],
) -> Row:
    """One step's row; records the messages it sends and the arrow of one it takes."""
    prefix, inner = _nesting(action)
    tag = action_tag(inner)
    message_id = inner.get("message") if isinstance(inner, dict) else None
    label = label_of(action)
    name = actor_of(action)
    sent = reader.sent.get(message_id) if isinstance(message_id, int) else None
    kind = sent.message.get("type") if sent is not None and sent.message else None
    if isinstance(kind, str):
        label = f"{label} ({kind})"
    duplicate = tag == "duplicate"
    if name is None and sent is not None and not duplicate:
        to = _destination(sent.message)
        if to is None:  # a long message the trace records by digest: the node it changed
            to = next((m.group(1) for m in map(_NODE_SLOT.search, new_values) if m), None)
        name = f"{prefix}node {to}" if to is not None else None
    name = name or ENVIRONMENT
    if reader.world_lane is not None:
        name = reader.world_lane(action, name)
    lane = reader.lane(name)
    request = request_of(inner)
    if request is not None:
        server = f"{prefix}{request[1]}"
        if reader.world_lane is not None:
            server = reader.world_lane(action, server)
        target = reader.lane(server)
        reader.arrows.append(
            Arrow(start=position, end=position, source=lane, target=target, label=tag)
        )
    if sent is not None and not duplicate:
        reader.arrows.append(
            Arrow(
                start=sent.row,
                end=position,
                source=sent.lane,
                target=lane,
                label=f"#{message_id} {kind if isinstance(kind, str) else ''}".strip(),
                lost=tag == "drop",
            )
        )
        del reader.sent[message_id]  # type: ignore[arg-type]
    for path, value in new_values.items():
        match = _IN_FLIGHT.search(path)
        if match is None or (isinstance(value, str) and value == ABSENT):
            continue
        # A duplicate's copy was sent by the original's sender.
        origin = sent if duplicate and sent is not None else _Sent(position, lane, None)
        reader.sent[int(match.group(1))] = _Sent(origin.row, origin.lane, _message_fields(value))
    detail = msgspec.json.format(msgspec.json.encode(action), indent=2).decode()
    return Row(n=index, lane=lane, label=label, detail=detail, diff=cap_diff(entries))


def _marks(parsed: ParsedTrace, reader: _Reader, rows: list[Row]) -> tuple[Mark, ...]:
    """The violation of the result line, on its step's row, with the lanes of its nodes."""
    result = parsed.result
    if result.status == "pass" or result.index is None or not rows:
        return ()
    position = next((i for i, row in enumerate(rows) if row.n == result.index), len(rows) - 1)
    rows[position] = msgspec.structs.replace(rows[position], style="violation")
    lanes = tuple(
        sorted(
            lane
            for name, lane in reader.lanes.items()
            for node in result.nodes
            if name == f"node {node}" or name.endswith(f" node {node}")
        )
    )
    what = "liveness failure" if result.status == "liveness_failure" else "violation"
    return (
        Mark(
            row=position,
            property=f"{what}: {result.property or ''}",
            message=result.message,
            lanes=lanes,
        ),
    )


def _natural(name: str) -> tuple[Any, ...]:
    """Sort key: the environment first, then names with their numbers compared as numbers."""
    parts = re.split(r"(\d+)", name)
    return (name != ENVIRONMENT, *((0, int(p)) if p.isdigit() else (1, p) for p in parts))


def _in_lane_order(reader: _Reader, rows: list[Row]) -> list[Row]:
    """Renumber the lanes in natural order (``node 2`` before ``node 10``)."""
    names = sorted(reader.lanes, key=_natural)
    new = {reader.lanes[name]: index for index, name in enumerate(names)}
    reader.lanes = {name: index for index, name in enumerate(names)}
    reader.arrows = [
        msgspec.structs.replace(arrow, source=new[arrow.source], target=new[arrow.target])
        for arrow in reader.arrows
    ]
    return [msgspec.structs.replace(row, lane=new[row.lane]) for row in rows]
