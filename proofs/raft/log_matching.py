"""Log Matching as an inductive invariant of etcd raft's log handlers (unbounded logs).

Model: 3 nodes whose logs are unbounded z3 arrays from index to term (terms unbounded), each
step a handler relation of :mod:`proofs.raft.handlers`. The network is abstracted as in the
Ivy/mypyvy Raft by the ghost ``term_log[T]``: the log of the leader of term T (it only grows
while that leader leads, since a leader only appends). A MsgApp of term T may carry, at any
time, any segment ``prev+1..last`` of ``term_log[T]`` with ``prevTerm = term_log[T][prev]``, so
messages may be delayed, duplicated or lost. A node becomes leader of T only if no node led T
before: that is Election Safety, proved separately (``raft.election.safety``).

Invariants: logs are 0 outside ``1..last``; every entry's term is a started term and the entry
with its whole prefix agrees with that term's ``term_log``; the same for the term logs
themselves; a leader's log is its term's ``term_log``. Log Matching follows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import final

import msgspec

from proofs.catalog import Mutant, ProofCase
from proofs.raft.handlers import (
    AppendReply,
    AppendRequest,
    AppendResponse,
    VoteResponse,
    conjoin,
    on_append_request,
    on_append_response,
    on_campaign,
    on_propose,
    on_restart,
    on_vote_response,
)
from proofs.raft.induction import InductiveQuery, Named, Transition, check_inductive
from proofs.raft.relations import (
    ETCD_RULES,
    LEADER,
    ArrayLog,
    NodeView,
    Rules,
    match_term_skipped,
)
from proofs.z3adapter import (
    And,
    ArithRef,
    Array,
    ArrayRef,
    ArraySort,
    Bool,
    BoolRef,
    BoolSort,
    ForAll,
    Implies,
    Int,
    IntSort,
    IntVal,
    ModelRef,
    Not,
    Or,
    Select,
    Store,
    Verdict,
    model_int,
    select_bool,
    select_int,
)

VOTERS = 3


@final
class LogState(msgspec.Struct, frozen=True, kw_only=True):
    """The nodes and the ghost term logs."""

    nodes: tuple[NodeView, ...]
    term_log: ArrayRef
    term_last: ArrayRef
    started: ArrayRef


def _fresh(prefix: str) -> LogState:
    ids = range(1, VOTERS + 1)
    nodes = tuple(
        NodeView(
            node=n,
            term=Int(f"{prefix}.n{n}.term"),
            vote=Int(f"{prefix}.n{n}.vote"),
            lead=Int(f"{prefix}.n{n}.lead"),
            role=Int(f"{prefix}.n{n}.role"),
            commit=Int(f"{prefix}.n{n}.commit"),
            log=ArrayLog(
                array=Array(f"{prefix}.n{n}.log", IntSort(), IntSort()),
                last=Int(f"{prefix}.n{n}.last"),
            ),
            responses=tuple(Int(f"{prefix}.n{n}.resp{j}") for j in ids),
            match=tuple(Int(f"{prefix}.n{n}.match{j}") for j in ids),
        )
        for n in ids
    )
    return LogState(
        nodes=nodes,
        term_log=Array(f"{prefix}.term_log", IntSort(), ArraySort(IntSort(), IntSort())),
        term_last=Array(f"{prefix}.term_last", IntSort(), IntSort()),
        started=Array(f"{prefix}.started", IntSort(), BoolSort()),
    )


def _row(state: LogState, term: ArithRef) -> ArrayRef:
    row = Select(state.term_log, term)
    assert isinstance(row, ArrayRef)
    return row


def _tl(state: LogState, term: ArithRef, index: ArithRef) -> ArithRef:
    return select_int(_row(state, term), index)


def _tl_last(state: LogState, term: ArithRef) -> ArithRef:
    return select_int(state.term_last, term)


def _started(state: LogState, term: ArithRef) -> BoolRef:
    return select_bool(state.started, term)


def _log(node: NodeView, index: ArithRef) -> ArithRef:
    return node.log.term_at(index)


def _initial(state: LogState) -> BoolRef:
    i, t = Int("i"), Int("t")
    facts: list[BoolRef] = [
        ForAll([t], And(Not(_started(state, t)), _tl_last(state, t) == 0)),
        ForAll([t, i], _tl(state, t, i) == 0),
    ]
    for node in state.nodes:
        facts += [node.term == 0, node.role != LEADER, node.log.last_index == 0]
        facts.append(ForAll([i], _log(node, i) == 0))
    return And(facts)


def invariants(state: LogState) -> tuple[Named, ...]:
    """The inductive set; the last one is Log Matching."""
    i, j, t = Int("i"), Int("j"), Int("t")
    found: list[Named] = [
        (
            "term logs are 0 outside 1..last",
            ForAll(
                [t, i],
                Implies(Or(i < 1, i > _tl_last(state, t)), _tl(state, t, i) == 0),
            ),
        ),
        (
            "term log entries are of started earlier-or-equal terms",
            ForAll(
                [t, i],
                Implies(
                    And(_started(state, t), i >= 1, i <= _tl_last(state, t)),
                    And(
                        _tl(state, t, i) >= 1,
                        _tl(state, t, i) <= t,
                        _started(state, _tl(state, t, i)),
                        i <= _tl_last(state, _tl(state, t, i)),
                    ),
                ),
            ),
        ),
        (
            "term log prefixes agree with the term log of each entry's term",
            ForAll(
                [t, i, j],
                Implies(
                    And(_started(state, t), j >= 1, j <= i, i <= _tl_last(state, t)),
                    _tl(state, t, j) == _tl(state, _tl(state, t, i), j),
                ),
            ),
        ),
        (
            "unstarted terms have empty term logs",
            ForAll([t], Or(_started(state, t), _tl_last(state, t) == 0)),
        ),
    ]
    for node in state.nodes:
        n = node.node
        last = node.log.last_index
        found += [
            (
                f"n{n}'s log is 0 outside 1..last",
                And(last >= 0, ForAll([i], Implies(Or(i < 1, i > last), _log(node, i) == 0))),
            ),
            (
                f"n{n}'s entries are of started terms",
                ForAll(
                    [i],
                    Implies(
                        And(i >= 1, i <= last),
                        And(
                            _log(node, i) >= 1,
                            _started(state, _log(node, i)),
                            i <= _tl_last(state, _log(node, i)),
                        ),
                    ),
                ),
            ),
            (
                f"n{n}'s prefixes agree with the term log of each entry's term",
                ForAll(
                    [i, j],
                    Implies(
                        And(j >= 1, j <= i, i <= last),
                        _log(node, j) == _tl(state, _log(node, i), j),
                    ),
                ),
            ),
            (
                f"n{n} as leader holds its term's log",
                Implies(
                    node.role == LEADER,
                    And(
                        _started(state, node.term),
                        last == _tl_last(state, node.term),
                        ForAll([i], _log(node, i) == _tl(state, node.term, i)),
                    ),
                ),
            ),
        ]
    pairs = [(a, b) for a in state.nodes for b in state.nodes if a.node < b.node]
    found.append(
        (
            "leaders of one term are one node (Election Safety)",
            And([Not(And(a.role == LEADER, b.role == LEADER, a.term == b.term)) for a, b in pairs]),
        )
    )
    found.append(
        (
            "log matching",
            And(
                [
                    ForAll(
                        [i, j],
                        Implies(
                            And(
                                j >= 1,
                                j <= i,
                                i <= a.log.last_index,
                                i <= b.log.last_index,
                                _log(a, i) == _log(b, i),
                            ),
                            _log(a, j) == _log(b, j),
                        ),
                    )
                    for a, b in pairs
                ]
            ),
        )
    )
    return tuple(found)


def _frame(pre: LogState, post: LogState, touched: int) -> BoolRef:
    facts: list[BoolRef] = []
    for a, b in zip(pre.nodes, post.nodes, strict=True):
        if a.node == touched:
            continue
        assert isinstance(a.log, ArrayLog)
        assert isinstance(b.log, ArrayLog)
        facts += [
            b.term == a.term,
            b.vote == a.vote,
            b.lead == a.lead,
            b.role == a.role,
            b.commit == a.commit,
            b.log.last_index == a.log.last_index,
            b.log.array == a.log.array,
            *(x == y for x, y in zip(b.responses, a.responses, strict=True)),
            *(x == y for x, y in zip(b.match, a.match, strict=True)),
        ]
    return And(facts)


def _ghosts_same(pre: LogState, post: LogState) -> BoolRef:
    return And(
        post.term_log == pre.term_log,
        post.term_last == pre.term_last,
        post.started == pre.started,
    )


def _leader_log_recorded(pre: LogState, post: LogState, node: int) -> BoolRef:
    """The ghost follows a leader's log: ``term_log[T]`` is the leader's log after the step."""
    after = post.nodes[node - 1]
    assert isinstance(after.log, ArrayLog)
    return And(
        post.term_log == Store(pre.term_log, after.term, after.log.array),
        post.term_last == Store(pre.term_last, after.term, after.log.last_index),
        post.started == Store(pre.started, after.term, True),
    )


def _transitions(rules: Rules, pre: LogState, post: LogState) -> tuple[Transition, ...]:
    """By node symmetry, n1 acts and n2 is its peer (a counterexample for other nodes renames
    into one for these)."""
    c, k = 1, 2
    before, after = pre.nodes[c - 1], post.nodes[c - 1]
    peer_before, peer_after = pre.nodes[k - 1], post.nodes[k - 1]
    won = VoteResponse(term=before.term, voter=k, granted=Bool("granted"))
    becomes_leader = And(
        before.role != LEADER,
        after.role == LEADER,
        Not(_started(pre, before.term)),  # Election Safety (raft.election.safety)
    )
    vote_response = And(
        conjoin(on_vote_response(rules, before, won, after)),
        Or(
            And(becomes_leader, _leader_log_recorded(pre, post, c)),
            And(after.role == before.role, _ghosts_same(pre, post)),
        ),
        _frame(pre, post, c),
    )
    term, prev, last_sent = Int("msg.term"), Int("msg.prev"), Int("msg.last_sent")
    request = AppendRequest(
        term=term,
        leader=c,
        prev_index=prev,
        prev_term=_tl(pre, term, prev),
        entries=ArrayLog(array=_row(pre, term), last=_tl_last(pre, term)),
        last_sent=last_sent,
        commit=Int("msg.commit"),
    )
    reply = AppendReply(
        sent=Bool("reply.sent"),
        accepted=Bool("reply.accepted"),
        term=Int("reply.term"),
        index=Int("reply.index"),
    )
    append_request = And(
        _started(pre, term),
        prev >= 0,
        prev <= last_sent,
        last_sent <= _tl_last(pre, term),
        conjoin(on_append_request(rules, peer_before, request, peer_after, reply)),
        _ghosts_same(pre, post),
        _frame(pre, post, k),
    )
    response = AppendResponse(
        term=Int("resp.term"), follower=k, accepted=Bool("resp.accepted"), index=Int("resp.index")
    )
    append_response = And(
        conjoin(
            on_append_response(rules, before, response, after, quorum_index=Int("resp.quorum"))
        ),
        _ghosts_same(pre, post),
        _frame(pre, post, c),
    )
    propose = And(
        conjoin(on_propose(rules, before, after, quorum_index=Int("prop.quorum"))),
        _leader_log_recorded(pre, post, c),
        _frame(pre, post, c),
    )
    simple = And(_ghosts_same(pre, post), _frame(pre, post, c))
    return (
        Transition(
            name="n1 campaigns", formula=And(conjoin(on_campaign(rules, before, after)), simple)
        ),
        Transition(name="n1 receives MsgVoteResp from n2", formula=vote_response),
        Transition(name="n2 receives MsgApp of some leader", formula=append_request),
        Transition(name="n1 receives MsgAppResp from n2", formula=append_response),
        Transition(name="n1 proposes", formula=propose),
        Transition(name="n1 restarts", formula=And(conjoin(on_restart(before, after)), simple)),
    )


def _describe(pre: LogState, post: LogState) -> Callable[[ModelRef], tuple[tuple[str, str], ...]]:
    def describe(model: ModelRef) -> tuple[tuple[str, str], ...]:
        pairs = []
        for label, state in (("before", pre), ("after", post)):
            for node in state.nodes:
                last = min(model_int(model, node.log.last_index), 6)
                terms = [model_int(model, _log(node, IntVal(i))) for i in range(1, last + 1)]
                pairs.append(
                    (f"{label} n{node.node}", f"term {model_int(model, node.term)} log {terms}")
                )
        return tuple(pairs)

    return describe


def log_matching(rules: Rules = ETCD_RULES) -> Verdict:
    """Log Matching with its supporting invariants is inductive."""
    pre, post = _fresh("pre"), _fresh("post")
    return check_inductive(
        InductiveQuery(
            initial=_initial(pre),
            invariants_pre=invariants(pre),
            invariants_post=invariants(post),
            transitions=_transitions(rules, pre, post),
            describe=_describe(pre, post),
        )
    )


def _no_consistency_check() -> Verdict:
    from proofs.raft.cluster import Shape, bounded_check
    from proofs.raft.cluster import log_matching as matching

    rules = Rules(match_term=match_term_skipped)
    schedule = ("campaign", "vote", "campaign", "vote", "propose", "append")
    return bounded_check(
        rules,
        Shape(voters=3, capacity=2),
        len(schedule),
        (("log matching", matching),),
        schedule=schedule,
    )


UNBOUNDED_CASE = (
    ProofCase(
        name="raft.log.matching",
        property_text="Log Matching: logs with an entry of the same index and term agree up to it",
        method="inductive invariant",
        bound="3 nodes (by symmetry), unbounded logs and terms, messages delayed/lost/duplicated",
        check=log_matching,
        mutants=(
            Mutant(
                name="no-consistency-check",
                description="a follower appends without checking prevLogIndex/prevLogTerm",
                check=_no_consistency_check,
            ),
        ),
    ),
)

PROOFS: tuple[ProofCase, ...] = ()
