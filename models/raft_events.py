"""kubeoracle's Raft event format: what one node of a Raft implementation says it did.

A trace is a sequence of events, one JSON object per line. Each event names the node that did
something (``node``), what it did (``kind``), the message or entry concerned, and optionally the
node's state right after the event (``state``). Every field of ``state`` may be left out: a field
an implementation does not log is unknown, and the validator searches over its possible values
instead of guessing one. ``docs/raft-events.md`` describes the format for implementers; its JSON
Schema is generated from these types.

Node ids are strings. ``vote: null`` means "has not voted in this term"; an omitted ``vote``
means "not logged". Log indexes start at 1; index 0 with term 0 is the empty log's sentinel.
"""

from __future__ import annotations

from typing import Annotated, Literal, TypeAlias

import msgspec
from msgspec import UNSET, UnsetType

FORMAT_NAME = "kubeoracle-raft-events"
FORMAT_VERSION = 1

Role: TypeAlias = Literal["follower", "pre_candidate", "candidate", "leader"]
ROLES: tuple[Role, ...] = ("follower", "pre_candidate", "candidate", "leader")

MessageType: TypeAlias = Literal[
    "vote_request",
    "vote_response",
    "pre_vote_request",
    "pre_vote_response",
    "append_request",
    "append_response",
    "heartbeat",
    "heartbeat_response",
    "snapshot",
    "read_index_request",
    "read_index_response",
]
MESSAGE_TYPES: tuple[MessageType, ...] = (
    "vote_request",
    "vote_response",
    "pre_vote_request",
    "pre_vote_response",
    "append_request",
    "append_response",
    "heartbeat",
    "heartbeat_response",
    "snapshot",
    "read_index_request",
    "read_index_response",
)

MAX_NUMBER = 2**63 - 1
"""The largest term or index accepted (int64, as etcd's JSON gateway carries them)."""
Number: TypeAlias = Annotated[int, msgspec.Meta(ge=0, le=MAX_NUMBER)]
"""A term, an index or a count: never negative."""
MAX_ENTRIES_PER_MESSAGE = 65_536
"""The most entries one append request may carry (the validator holds them per message)."""
EntryCount: TypeAlias = Annotated[int, msgspec.Meta(ge=0, le=MAX_ENTRIES_PER_MESSAGE)]
EntryTerms: TypeAlias = Annotated[
    tuple[Number, ...], msgspec.Meta(max_length=MAX_ENTRIES_PER_MESSAGE)
]

ConfigAction: TypeAlias = Literal["add_voter", "remove", "add_learner"]


class Configuration(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Voting members (``outgoing_voters`` non-empty only in a joint configuration) and
    learners."""

    voters: tuple[str, ...]
    outgoing_voters: tuple[str, ...] = ()
    learners: tuple[str, ...] | UnsetType = UNSET
    """Members that receive entries but never campaign and never count in a quorum; omitted:
    not reported (etcd-io/raft's traces do not list them)."""


class NodeState(
    msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, forbid_unknown_fields=True
):
    """A node's state as it reports it; every omitted field is unknown."""

    term: Number | UnsetType = UNSET
    vote: str | UnsetType | None = UNSET
    role: Role | UnsetType = UNSET
    commit_index: Number | UnsetType = UNSET
    last_log_index: Number | UnsetType = UNSET
    last_log_term: Number | UnsetType = UNSET
    config: Configuration | UnsetType = UNSET


class Message(
    msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, forbid_unknown_fields=True
):
    """A Raft message with the fields that matter for safety; omitted fields are unknown.

    - vote and pre-vote requests: ``last_log_index``, ``last_log_term``;
    - vote responses: ``granted``;
    - append requests: ``prev_log_index``, ``prev_log_term``, ``entry_count`` (or
      ``entry_terms``, one term per entry), ``leader_commit``;
    - append responses: ``success`` and, when successful, ``match_index``;
    - heartbeats: ``leader_commit``; heartbeat responses: nothing more;
    - snapshots: ``snapshot_index`` and optionally ``snapshot_term``;
    - read index requests (a follower asking its leader, thesis 6.4): nothing more; read index
      responses: ``read_index``, the index the reader must wait for.
    """

    type: MessageType
    source: str
    destination: str
    term: Number
    last_log_index: Number | UnsetType = UNSET
    last_log_term: Number | UnsetType = UNSET
    granted: bool | UnsetType = UNSET
    prev_log_index: Number | UnsetType = UNSET
    prev_log_term: Number | UnsetType = UNSET
    entry_count: EntryCount | UnsetType = UNSET
    entry_terms: EntryTerms | UnsetType = UNSET
    leader_commit: Number | UnsetType = UNSET
    success: bool | UnsetType = UNSET
    match_index: Number | UnsetType = UNSET
    snapshot_index: Number | UnsetType = UNSET
    snapshot_term: Number | UnsetType = UNSET
    read_index: Number | UnsetType = UNSET


class ConfigChange(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One change of a configuration-change entry."""

    action: ConfigAction
    node: str


class EventBase(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    omit_defaults=True,
    tag_field="kind",
    forbid_unknown_fields=True,
):
    """Fields every event has: the node that acted and, optionally, its state afterwards."""

    node: str
    state: NodeState | UnsetType = UNSET
    time: float | UnsetType = UNSET


class Init(EventBase, frozen=True, kw_only=True, tag="init"):
    """The node starts (first event) or restarts from its persisted state.

    ``applied_index``: entries up to it were applied before the start (a snapshot's index);
    committed configuration entries after it are applied again. ``bootstrap_changes``: the log
    starts with one committed, unapplied configuration entry of term 1 per change
    (etcd-io/raft's ``Bootstrap``)."""

    applied_index: Number | UnsetType = UNSET
    bootstrap_changes: tuple[ConfigChange, ...] = ()


class Observe(EventBase, frozen=True, kw_only=True, tag="observe"):
    """A report of the node's state with no transition."""


class BecomeFollower(EventBase, frozen=True, kw_only=True, tag="become_follower"):
    """The node is now a follower (after a message of a higher term, or stepping down)."""


class BecomePreCandidate(EventBase, frozen=True, kw_only=True, tag="become_pre_candidate"):
    """The node starts a pre-vote round (term unchanged)."""


class BecomeCandidate(EventBase, frozen=True, kw_only=True, tag="become_candidate"):
    """The node starts an election: term + 1, votes for itself."""


class BecomeLeader(EventBase, frozen=True, kw_only=True, tag="become_leader"):
    """The candidate won its election."""


class Send(EventBase, frozen=True, kw_only=True, tag="send"):
    """The node sends ``message`` (``message.source`` is the node)."""

    message: Message


class Receive(EventBase, frozen=True, kw_only=True, tag="receive"):
    """The node receives and handles ``message`` (``message.destination`` is the node)."""

    message: Message


class Append(EventBase, frozen=True, kw_only=True, tag="append"):
    """The leader appends one entry of its term: a client proposal or ``changes`` (non-empty
    for a configuration change proposal; an empty list with ``config_entry`` leaves a joint
    configuration)."""

    changes: tuple[ConfigChange, ...] = ()
    config_entry: bool = False


class Commit(EventBase, frozen=True, kw_only=True, tag="commit"):
    """The node's commit index advances to ``commit_index``."""

    commit_index: Number


class Persist(EventBase, frozen=True, kw_only=True, tag="persist"):
    """The node has made its term, vote and log durable (the state is what was persisted)."""


class ApplyConfig(EventBase, frozen=True, kw_only=True, tag="apply_config"):
    """The node applies the next committed configuration entry; ``config`` is the result."""

    config: Configuration | UnsetType = UNSET


RaftEvent: TypeAlias = (
    Init
    | Observe
    | BecomeFollower
    | BecomePreCandidate
    | BecomeCandidate
    | BecomeLeader
    | Send
    | Receive
    | Append
    | Commit
    | Persist
    | ApplyConfig
)

EVENT_KINDS: tuple[str, ...] = (
    "init",
    "observe",
    "become_follower",
    "become_pre_candidate",
    "become_candidate",
    "become_leader",
    "send",
    "receive",
    "append",
    "commit",
    "persist",
    "apply_config",
)


class TraceHeader(
    msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, forbid_unknown_fields=True
):
    """Optional first line of a kubeoracle Raft event file."""

    format: Literal["kubeoracle-raft-events"]
    version: int
    nodes: tuple[str, ...] = ()
    description: str = ""


def line_schema() -> dict[str, object]:
    """JSON Schema (2020-12) of one line of a kubeoracle Raft event file: the optional header
    or an event (the tagged union on ``kind``), for ``docs/raft-events.schema.json``."""
    (header, event), components = msgspec.json.schema_components(
        [TraceHeader, RaftEvent], ref_template="#/$defs/{name}"
    )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"{FORMAT_NAME} version {FORMAT_VERSION}: one line",
        "anyOf": [header, event],
        "$defs": components,
    }
