"""A bounded Raft cluster built from the handler relations, for bounded model checking.

Each state holds every node's :class:`~proofs.raft.relations.NodeView` with a log of at most
``capacity`` entries, plus two ghost arrays per node: ``applied[i]``, the term of the entry the
node applied at index i (0 while not applied), and ``applied_in[i]``, the node's term when it
applied it. A step is one of:

- ``campaign c``: c's election timeout fires;
- ``vote c->k``: k handles c's MsgVote and c handles k's reply (request and reply in one step);
- ``append c->k``: leader c sends k the entries of its log after a chosen ``prev`` (up to a chosen
  last index) with its commit index; k handles it and c handles the reply, unless it is lost;
- ``redeliver c->k``: the MsgApp of an earlier append step arrives again (its reply is lost);
- ``propose c``, ``restart k``, ``step-down c`` (CheckQuorum).

Messages are otherwise delivered at once, so a search covers the interleavings of these steps,
not every network schedule. Terms are unbounded integers; the depth bounds them. The search
itself is :mod:`proofs.raft.bounded`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import final

import msgspec

from proofs.raft.handlers import (
    AppendReply,
    AppendRequest,
    AppendResponse,
    VoteReply,
    VoteRequest,
    VoteResponse,
    conjoin,
    on_append_request,
    on_append_response,
    on_campaign,
    on_check_quorum_lost,
    on_propose,
    on_restart,
    on_vote_request,
    on_vote_response,
)
from proofs.raft.relations import (
    CANDIDATE,
    FOLLOWER,
    LEADER,
    NONE,
    BoundedLog,
    NodeView,
    Rules,
    unchanged_fields,
)
from proofs.z3adapter import (
    And,
    ArithRef,
    Bool,
    BoolRef,
    BoolVal,
    If,
    Int,
    ModelRef,
    model_bool,
    model_int,
)


@final
class ClusterState(msgspec.Struct, frozen=True, kw_only=True):
    """Every node's view, and the ghost record of what each node applied and when."""

    nodes: tuple[NodeView, ...]
    applied: tuple[tuple[ArithRef, ...], ...]
    applied_in: tuple[tuple[ArithRef, ...], ...]


@final
class Shape(msgspec.Struct, frozen=True, kw_only=True):
    """The bound: ``voters`` nodes, logs of at most ``capacity`` entries."""

    voters: int
    capacity: int


def fresh_node(shape: Shape, node: int, name: str) -> NodeView:
    """A node view whose every field is a fresh z3 integer named after ``name``."""
    return NodeView(
        node=node,
        term=Int(f"{name}.term"),
        vote=Int(f"{name}.vote"),
        lead=Int(f"{name}.lead"),
        role=Int(f"{name}.role"),
        commit=Int(f"{name}.commit"),
        log=BoundedLog(
            terms=tuple(Int(f"{name}.log{i}") for i in range(1, shape.capacity + 1)),
            last=Int(f"{name}.last"),
        ),
        responses=tuple(Int(f"{name}.resp{j}") for j in range(1, shape.voters + 1)),
        match=tuple(Int(f"{name}.match{j}") for j in range(1, shape.voters + 1)),
    )


def fresh_state(shape: Shape, prefix: str) -> ClusterState:
    """A state whose every field is a fresh z3 integer named after ``prefix``."""
    nodes = [fresh_node(shape, node, f"{prefix}.n{node}") for node in range(1, shape.voters + 1)]
    return ClusterState(
        nodes=tuple(nodes),
        applied=tuple(
            tuple(Int(f"{prefix}.n{n}.applied{i}") for i in range(1, shape.capacity + 1))
            for n in range(1, shape.voters + 1)
        ),
        applied_in=tuple(
            tuple(Int(f"{prefix}.n{n}.applied_in{i}") for i in range(1, shape.capacity + 1))
            for n in range(1, shape.voters + 1)
        ),
    )


def _log_terms(node: NodeView) -> tuple[ArithRef, ...]:
    assert isinstance(node.log, BoundedLog)
    return node.log.terms


def initial(state: ClusterState) -> BoolRef:
    """Every node a follower of term 0 with an empty log and nothing applied."""
    facts: list[BoolRef] = []
    for node, applied, applied_in in zip(state.nodes, state.applied, state.applied_in, strict=True):
        facts += [node.term == 0, node.vote == NONE, node.lead == NONE, node.role == FOLLOWER]
        facts += [node.commit == 0, node.log.last_index == 0]
        facts += [t == 0 for t in (*_log_terms(node), *node.responses, *node.match)]
        facts += [t == 0 for t in (*applied, *applied_in)]
    return And(facts)


def _node_equal(after: NodeView, before: NodeView) -> BoolRef:
    same_log = [a == b for a, b in zip(_log_terms(after), _log_terms(before), strict=True)]
    return And([*unchanged_fields(after, before), *same_log])


def _ghost_update(before: ClusterState, after: ClusterState, index: int) -> BoolRef:
    """Entries newly covered by the commit index are applied, with the node's current term."""
    node_before, node_after = before.nodes[index], after.nodes[index]
    facts = []
    for position, (applied_before, applied_after, in_before, in_after) in enumerate(
        zip(
            before.applied[index],
            after.applied[index],
            before.applied_in[index],
            after.applied_in[index],
            strict=True,
        ),
        start=1,
    ):
        newly = And(position > node_before.commit, position <= node_after.commit)
        facts.append(applied_after == If(newly, node_after.log.term_at(position), applied_before))
        facts.append(in_after == If(newly, node_after.term, in_before))
    return And(facts)


def _frame(before: ClusterState, after: ClusterState, touched: Sequence[int]) -> BoolRef:
    facts: list[BoolRef] = []
    for index in range(len(before.nodes)):
        node_after = after.nodes[index]
        facts.append(node_after.log.last_index <= len(_log_terms(node_after)))
        facts.append(node_after.log.last_index >= 0)
        if index in touched:
            facts.append(_ghost_update(before, after, index))
        else:
            facts.append(_node_equal(node_after, before.nodes[index]))
            facts += [
                a == b
                for a, b in zip(
                    (*after.applied[index], *after.applied_in[index]),
                    (*before.applied[index], *before.applied_in[index]),
                    strict=True,
                )
            ]
    return And(facts)


Describe = Callable[[ModelRef], str]


@final
class MessageValues(msgspec.Struct, frozen=True, kw_only=True):
    """What a step's messages carried in a model (see :class:`proofs.execution.AbstractStep`)."""

    term: int = 0
    sent: bool = False
    granted: bool = False
    prev: int = 0
    last_sent: int = 0
    accepted: bool = False
    replied: bool = True
    source: int = 0


Details = Callable[[ModelRef], MessageValues]


def _no_message(_: ModelRef) -> MessageValues:
    return MessageValues()


@final
class StepInstance(msgspec.Struct, frozen=True, kw_only=True):
    """One concrete kind of step between two states, with a function naming what it did."""

    formula: BoolRef
    describe: Describe
    kind: str
    nodes: tuple[int, ...]
    details: Details = _no_message
    message: AppendRequest | None = None
    """For an append step: the MsgApp it delivers (a later step may deliver it again)."""


def _campaign(rules: Rules, before: ClusterState, after: ClusterState, c: int) -> StepInstance:
    relation = conjoin(on_campaign(rules, before.nodes[c - 1], after.nodes[c - 1]))
    return StepInstance(
        formula=And(relation, _frame(before, after, (c - 1,))),
        describe=lambda _: f"n{c}: election timeout, campaigns",
        kind="campaign",
        nodes=(c,),
    )


def _vote(
    rules: Rules, before: ClusterState, after: ClusterState, c: int, k: int, tag: str
) -> StepInstance:
    candidate, voter = before.nodes[c - 1], before.nodes[k - 1]
    request = VoteRequest(
        term=candidate.term,
        candidate=c,
        last_index=candidate.log.last_index,
        last_term=candidate.last_term,
    )
    reply = VoteReply(sent=Bool(f"{tag}.sent"), granted=Bool(f"{tag}.granted"))
    # Ignoring a request in a leader lease changes nothing, which is the same as not
    # delivering it: fixing the choice to False loses no behaviour.
    in_lease = BoolVal(False)
    voter_step = on_vote_request(
        rules, voter, request, after.nodes[k - 1], reply, in_lease=in_lease
    )
    response = VoteResponse(term=candidate.term, voter=k, granted=reply.granted)
    candidate_step = If(
        reply.sent,
        conjoin(on_vote_response(rules, candidate, response, after.nodes[c - 1])),
        _node_equal(after.nodes[c - 1], candidate),
    )
    formula = And(
        candidate.role == CANDIDATE,
        conjoin(voter_step),
        candidate_step,
        _frame(before, after, (c - 1, k - 1)),
    )

    def details(model: ModelRef) -> MessageValues:
        return MessageValues(
            term=model_int(model, candidate.term),
            sent=model_bool(model, reply.sent),
            granted=model_bool(model, reply.granted),
        )

    def describe(model: ModelRef) -> str:
        term = model_int(model, candidate.term)
        if not model_bool(model, reply.sent):
            return f"n{k} ignores n{c}'s MsgVote(term {term}) (leader lease)"
        verb = "grants" if model_bool(model, reply.granted) else "rejects"
        return f"n{k} {verb} n{c}'s MsgVote(term {term}); n{c} receives the MsgVoteResp"

    return StepInstance(
        formula=formula, describe=describe, kind="vote", nodes=(c, k), details=details
    )


def _append(
    rules: Rules, before: ClusterState, after: ClusterState, c: int, k: int, tag: str
) -> StepInstance:
    leader, follower = before.nodes[c - 1], before.nodes[k - 1]
    prev, last_sent = Int(f"{tag}.prev"), Int(f"{tag}.last_sent")
    request = AppendRequest(
        term=leader.term,
        leader=c,
        prev_index=prev,
        prev_term=leader.log.term_at(prev),
        entries=leader.log,
        last_sent=last_sent,
        commit=leader.commit,
    )
    reply = AppendReply(
        sent=Bool(f"{tag}.sent"),
        accepted=Bool(f"{tag}.accepted"),
        term=Int(f"{tag}.reply_term"),
        index=Int(f"{tag}.reply_index"),
    )
    follower_step = on_append_request(rules, follower, request, after.nodes[k - 1], reply)
    response = AppendResponse(
        term=reply.term, follower=k, accepted=reply.accepted, index=reply.index
    )
    replied = Bool(f"{tag}.replied")
    leader_step = If(
        And(reply.sent, replied),
        conjoin(
            on_append_response(
                rules,
                leader,
                response,
                after.nodes[c - 1],
                quorum_index=Int(f"{tag}.quorum_index"),
            )
        ),
        _node_equal(after.nodes[c - 1], leader),
    )
    formula = And(
        leader.role == LEADER,
        prev >= 0,
        prev <= last_sent,
        last_sent <= leader.log.last_index,
        conjoin(follower_step),
        leader_step,
        _frame(before, after, (c - 1, k - 1)),
    )

    def details(model: ModelRef) -> MessageValues:
        return MessageValues(
            term=model_int(model, leader.term),
            sent=model_bool(model, reply.sent),
            prev=model_int(model, prev),
            last_sent=model_int(model, last_sent),
            accepted=model_bool(model, reply.accepted),
            replied=model_bool(model, replied),
        )

    def describe(model: ModelRef) -> str:
        first, last = model_int(model, prev) + 1, model_int(model, last_sent)
        sent = f"entries {first}..{last}" if first <= last else "no entries"
        term = model_int(model, leader.term)
        answer = "accepts" if model_bool(model, reply.accepted) else "rejects"
        handled = "handles the reply" if model_bool(model, replied) else "never gets the reply"
        return (
            f"n{c} sends n{k} MsgApp(term {term}, prev {first - 1}, {sent}, "
            f"commit {model_int(model, leader.commit)}); n{k} {answer}; n{c} {handled}"
        )

    return StepInstance(
        formula=formula,
        describe=describe,
        kind="append",
        nodes=(c, k),
        details=details,
        message=request,
    )


def redeliver(
    rules: Rules,
    before: ClusterState,
    after: ClusterState,
    level: int,
    chosen: tuple[ArithRef, int, StepInstance],
    tag: str,
) -> StepInstance:
    """The MsgApp of an earlier append step (at ``level``) arrives again, late; its reply is
    lost (a duplicated, delayed message)."""
    choice, number, original = chosen
    message = original.message
    assert message is not None
    c, k = original.nodes
    reply = AppendReply(
        sent=Bool(f"{tag}.sent"),
        accepted=Bool(f"{tag}.accepted"),
        term=Int(f"{tag}.reply_term"),
        index=Int(f"{tag}.reply_index"),
    )
    follower_step = on_append_request(
        rules, before.nodes[k - 1], message, after.nodes[k - 1], reply
    )
    formula = And(choice == number, conjoin(follower_step), _frame(before, after, (k - 1,)))

    def details(model: ModelRef) -> MessageValues:
        return MessageValues(
            term=model_int(model, message.term),
            prev=model_int(model, message.prev_index),
            last_sent=model_int(model, message.last_sent),
            accepted=model_bool(model, reply.accepted),
            source=level,
        )

    def describe(model: ModelRef) -> str:
        answer = "accepts" if model_bool(model, reply.accepted) else "rejects"
        return (
            f"n{k} receives again n{c}'s MsgApp of step {level} (term "
            f"{model_int(model, message.term)}, prev {model_int(model, message.prev_index)}, up to "
            f"{model_int(model, message.last_sent)}); n{k} {answer}; the reply is lost"
        )

    return StepInstance(
        formula=formula, describe=describe, kind="redeliver", nodes=(c, k), details=details
    )


def _elect(
    rules: Rules,
    shape: Shape,
    before: ClusterState,
    after: ClusterState,
    c: int,
    voters: tuple[int, ...],
    tag: str,
) -> StepInstance:
    """Atomic election: c campaigns, then ``voters`` grant in turn and c becomes leader."""
    candidate = fresh_node(shape, c, f"{tag}.cand0")
    parts = [conjoin(on_campaign(rules, before.nodes[c - 1], candidate))]
    for number, k in enumerate(voters, start=1):
        final = number == len(voters)
        successor = after.nodes[c - 1] if final else fresh_node(shape, c, f"{tag}.cand{number}")
        request = VoteRequest(
            term=candidate.term,
            candidate=c,
            last_index=candidate.log.last_index,
            last_term=candidate.last_term,
        )
        reply = VoteReply(sent=BoolVal(True), granted=BoolVal(True))
        parts.append(
            conjoin(
                on_vote_request(
                    rules,
                    before.nodes[k - 1],
                    request,
                    after.nodes[k - 1],
                    reply,
                    in_lease=BoolVal(False),
                )
            )
        )
        response = VoteResponse(term=candidate.term, voter=k, granted=BoolVal(True))
        parts.append(conjoin(on_vote_response(rules, candidate, response, successor)))
        candidate = successor
    parts.append(after.nodes[c - 1].role == LEADER)
    touched = (c - 1, *(k - 1 for k in voters))
    names = ", ".join(f"n{k}" for k in voters)

    def describe(model: ModelRef) -> str:
        term = model_int(model, after.nodes[c - 1].term)
        return f"n{c} campaigns and wins term {term} with the votes of n{c}, {names}"

    return StepInstance(
        formula=And(*parts, _frame(before, after, touched)),
        describe=describe,
        kind="elect",
        nodes=(c, *voters),
    )


def _single(
    kind: str,
    before: ClusterState,
    after: ClusterState,
    node: int,
    relation: BoolRef,
    text: str,
) -> StepInstance:
    return StepInstance(
        formula=And(relation, _frame(before, after, (node - 1,))),
        describe=lambda _: text,
        kind=kind,
        nodes=(node,),
    )


def step_instances(
    rules: Rules,
    shape: Shape,
    before: ClusterState,
    after: ClusterState,
    tag: str,
    *,
    atomic_elections: bool = False,
) -> tuple[StepInstance, ...]:
    """Every step the cluster can take from ``before`` to ``after``. With ``atomic_elections``
    a campaign and the votes that win it are one step (for 3 voters: one other vote)."""
    nodes = range(1, shape.voters + 1)
    instances: list[StepInstance] = []
    for c in nodes:
        if not atomic_elections:
            instances.append(_campaign(rules, before, after, c))
        for k in nodes:
            if k != c:
                if atomic_elections:
                    instances.append(
                        _elect(rules, shape, before, after, c, (k,), f"{tag}.elect{c}{k}")
                    )
                else:
                    instances.append(_vote(rules, before, after, c, k, f"{tag}.vote{c}{k}"))
                instances.append(_append(rules, before, after, c, k, f"{tag}.app{c}{k}"))
        pre, post = before.nodes[c - 1], after.nodes[c - 1]
        quorum = Int(f"{tag}.prop{c}.quorum_index")
        instances.append(
            _single(
                "propose",
                before,
                after,
                c,
                conjoin(on_propose(rules, pre, post, quorum_index=quorum)),
                f"n{c}: a client proposes an entry",
            )
        )
        instances.append(
            _single("restart", before, after, c, conjoin(on_restart(pre, post)), f"n{c} restarts")
        )
        instances.append(
            _single(
                "step-down",
                before,
                after,
                c,
                conjoin(on_check_quorum_lost(pre, post)),
                f"n{c} steps down (CheckQuorum)",
            )
        )
    return tuple(instances)
