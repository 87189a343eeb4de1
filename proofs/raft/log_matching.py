"""Log Matching as an inductive invariant of etcd raft's log handlers.

Model: 3 nodes (one representative per step kind, by symmetry) with logs of at most
``CAPACITY`` entries and unbounded terms; every step is a handler relation of
:mod:`proofs.raft.handlers`. The network is abstracted as in the Ivy/mypyvy Raft by the ghost
``term_log[T]``: the log of the leader of term T (it only grows while that leader leads, since a
leader only appends). A MsgApp of term T may carry, at any time, any segment ``prev+1..last`` of
``term_log[T]`` with ``prevTerm = term_log[T][prev]``, so messages may be delayed, duplicated or
lost. A node becomes leader of T only if no node led T before: that is Election Safety, proved
separately (``raft.election.safety``).

Invariants: logs are 0 beyond their last index; every entry's term is a started term no later
than the node's, and the entry with its whole prefix agrees with that term's ``term_log``; the
same for the term logs themselves; a leader's log is its term's ``term_log``; and Log Matching.

The invariants about term logs are quantified over terms. The consecution queries state them
in the post state at one fresh term (which covers every term) and assume them in the pre state
at finitely many terms (the fresh one, every node's term, every term in the logs): assuming
fewer instances only weakens the hypothesis, so the check stays sound, and the queries become
quantifier-free, which z3 decides in a second where the quantified form made it answer unknown.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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
    FOLLOWER,
    LEADER,
    BoundedLog,
    NodeView,
    Rules,
    match_term_skipped,
    unchanged_fields,
)
from proofs.z3adapter import (
    And,
    ArithRef,
    Array,
    ArrayRef,
    Bool,
    BoolRef,
    BoolSort,
    ForAll,
    Implies,
    Int,
    IntSort,
    ModelRef,
    Not,
    Or,
    Proved,
    Store,
    Verdict,
    model_int,
    select_bool,
    select_int,
    substitute,
)

VOTERS = 3


CAPACITY = 4


@final
class LogState(msgspec.Struct, frozen=True, kw_only=True):
    """The nodes and the ghost term logs: ``rows[p - 1][T]`` is the term at index p of the log
    of term T's leader, ``term_last[T]`` its last index, ``started[T]`` whether T had one."""

    nodes: tuple[NodeView, ...]
    rows: tuple[ArrayRef, ...]
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
            log=BoundedLog(
                terms=tuple(Int(f"{prefix}.n{n}.log{p}") for p in range(1, CAPACITY + 1)),
                last=Int(f"{prefix}.n{n}.last"),
            ),
            responses=tuple(Int(f"{prefix}.n{n}.resp{j}") for j in ids),
            match=tuple(Int(f"{prefix}.n{n}.match{j}") for j in ids),
        )
        for n in ids
    )
    return LogState(
        nodes=nodes,
        rows=tuple(
            Array(f"{prefix}.term_log{p}", IntSort(), IntSort()) for p in range(1, CAPACITY + 1)
        ),
        term_last=Array(f"{prefix}.term_last", IntSort(), IntSort()),
        started=Array(f"{prefix}.started", IntSort(), BoolSort()),
    )


def _tl(state: LogState, term: ArithRef, index: int) -> ArithRef:
    return select_int(state.rows[index - 1], term)


def _tl_last(state: LogState, term: ArithRef) -> ArithRef:
    return select_int(state.term_last, term)


def _started(state: LogState, term: ArithRef) -> BoolRef:
    return select_bool(state.started, term)


def _log(node: NodeView, index: int) -> ArithRef:
    return node.log.term_at(index)


def _term_log(state: LogState, term: ArithRef) -> BoundedLog:
    return BoundedLog(
        terms=tuple(_tl(state, term, p) for p in POSITIONS), last=_tl_last(state, term)
    )


POSITIONS = range(1, CAPACITY + 1)


def _initial(state: LogState) -> BoolRef:
    t = Int("t")
    facts: list[BoolRef] = [
        ForAll([t], And(Not(_started(state, t)), _tl_last(state, t) == 0)),
        ForAll([t], And([_tl(state, t, p) == 0 for p in POSITIONS])),
    ]
    for node in state.nodes:
        facts += [node.term == 0, node.role == FOLLOWER, node.log.last_index == 0]
        facts += [_log(node, p) == 0 for p in POSITIONS]
    return And(facts)


def _prefix_agrees(log: BoundedLog, state: LogState) -> BoolRef:
    """Every entry of ``log`` is of a started term and, with its whole prefix, agrees with the
    term log of its term."""
    facts = []
    for i in POSITIONS:
        term = log.term_at(i)
        inside = i <= log.last_index
        facts.append(
            Implies(
                inside,
                And(
                    term >= 1,
                    _started(state, term),
                    i <= _tl_last(state, term),
                    *(log.term_at(j) == _tl(state, term, j) for j in range(1, i + 1)),
                ),
            )
        )
        facts.append(Implies(Not(inside), term == 0))
    facts += [log.last_index >= 0, log.last_index <= CAPACITY]
    return And(facts)


Instances = Callable[[BoolRef, ArithRef], BoolRef]


def _for_all_terms(t: ArithRef, body: BoolRef, instances: Sequence[ArithRef] | None) -> BoolRef:
    """``forall t. body``, or its instances at the given terms (see :func:`log_matching`)."""
    if instances is None:
        return ForAll([t], body)
    instantiated = [substitute(body, (t, term)) for term in instances]
    assert all(isinstance(formula, BoolRef) for formula in instantiated)
    return And([formula for formula in instantiated if isinstance(formula, BoolRef)])


def _node_invariants(state: LogState, node: NodeView) -> list[Named]:
    """One node's log agrees with the term logs; as leader it holds its term's log."""
    found: list[Named] = []
    assert isinstance(node.log, BoundedLog)
    found.append(
        (f"n{node.node}'s entries agree with their term logs", _prefix_agrees(node.log, state))
    )
    found.append(
        (
            f"n{node.node}'s entries are of its term or earlier",
            And(
                node.term >= 0,
                Or(node.role == FOLLOWER, node.term >= 1),
                *(_log(node, p) <= node.term for p in POSITIONS),
            ),
        )
    )
    own = _term_log(state, node.term)
    found.append(
        (
            f"n{node.node} as leader holds its term's log",
            Implies(
                node.role == LEADER,
                And(
                    _started(state, node.term),
                    node.log.last_index == own.last_index,
                    *(_log(node, p) == own.term_at(p) for p in POSITIONS),
                ),
            ),
        )
    )
    return found


def invariants(state: LogState, instances: Sequence[ArithRef] | None = None) -> tuple[Named, ...]:
    """The inductive set; the last one is Log Matching. With ``instances``, the invariants
    quantified over terms are stated only at those terms."""
    t = Int("t")
    row = _term_log(state, t)
    found: list[Named] = [
        (
            "term logs are well formed and agree with the term logs of their entries",
            _for_all_terms(t, Implies(_started(state, t), _prefix_agrees(row, state)), instances),
        ),
        (
            "term logs hold terms no later than their own",
            _for_all_terms(
                t,
                And([Implies(p <= row.last_index, row.term_at(p) <= t) for p in POSITIONS]),
                instances,
            ),
        ),
        (
            "unstarted terms have empty term logs",
            _for_all_terms(
                t,
                Or(
                    _started(state, t),
                    And(row.last_index == 0, *(row.term_at(p) == 0 for p in POSITIONS)),
                ),
                instances,
            ),
        ),
    ]
    for node in state.nodes:
        found += _node_invariants(state, node)
    pairs = [(a, b) for a in state.nodes for b in state.nodes if a.node < b.node]
    found.append(
        (
            "leaders of one term are one node (Election Safety)",
            And([Not(And(a.role == LEADER, b.role == LEADER, a.term == b.term)) for a, b in pairs]),
        )
    )
    matching = []
    for a, b in pairs:
        for i in POSITIONS:
            same = And(i <= a.log.last_index, i <= b.log.last_index, _log(a, i) == _log(b, i))
            matching.append(Implies(same, And([_log(a, j) == _log(b, j) for j in range(1, i)])))
    found.append(("log matching", And(matching)))
    return tuple(found)


def _frame(pre: LogState, post: LogState, touched: int) -> BoolRef:
    facts: list[BoolRef] = []
    for a, b in zip(pre.nodes, post.nodes, strict=True):
        if a.node == touched:
            continue
        facts += [*unchanged_fields(b, a), *(_log(b, p) == _log(a, p) for p in POSITIONS)]
    return And(facts)


def _ghosts_same(pre: LogState, post: LogState) -> BoolRef:
    return And(
        *(x == y for x, y in zip(post.rows, pre.rows, strict=True)),
        post.term_last == pre.term_last,
        post.started == pre.started,
    )


def _leader_log_recorded(pre: LogState, post: LogState, node: int) -> BoolRef:
    """The ghost follows a leader's log: ``term_log[T]`` is the leader's log after the step."""
    after = post.nodes[node - 1]
    return And(
        *(
            post_row == Store(pre_row, after.term, _log(after, p))
            for p, (pre_row, post_row) in enumerate(zip(pre.rows, post.rows, strict=True), 1)
        ),
        post.term_last == Store(pre.term_last, after.term, after.log.last_index),
        post.started == Store(pre.started, after.term, True),
    )


def _append_request(rules: Rules, pre: LogState, post: LogState, c: int, k: int) -> BoolRef:
    """k receives a MsgApp of some term T carrying a segment of ``term_log[T]``."""
    peer_before, peer_after = pre.nodes[k - 1], post.nodes[k - 1]
    term, prev, last_sent = Int("msg.term"), Int("msg.prev"), Int("msg.last_sent")
    sent_log = _term_log(pre, term)
    request = AppendRequest(
        term=term,
        leader=c,
        prev_index=prev,
        prev_term=sent_log.term_at(prev),
        entries=sent_log,
        last_sent=last_sent,
        commit=Int("msg.commit"),
    )
    reply = AppendReply(
        sent=Bool("reply.sent"),
        accepted=Bool("reply.accepted"),
        term=Int("reply.term"),
        index=Int("reply.index"),
    )
    return And(
        _started(pre, term),
        prev >= 0,
        prev <= last_sent,
        last_sent <= _tl_last(pre, term),
        conjoin(on_append_request(rules, peer_before, request, peer_after, reply)),
        _ghosts_same(pre, post),
        _frame(pre, post, k),
    )


def _transitions(rules: Rules, pre: LogState, post: LogState) -> tuple[Transition, ...]:
    """By node symmetry, n1 acts and n2 is its peer (a counterexample for other nodes renames
    into one for these)."""
    c, k = 1, 2
    before, after = pre.nodes[c - 1], post.nodes[c - 1]
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
    append_request = _append_request(rules, pre, post, c, k)
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
    fits = And([node.log.last_index <= CAPACITY for node in post.nodes])
    return (
        Transition(
            name="n1 campaigns", formula=And(conjoin(on_campaign(rules, before, after)), simple)
        ),
        Transition(name="n1 receives MsgVoteResp from n2", formula=And(vote_response, fits)),
        Transition(name="n2 receives MsgApp of some leader", formula=append_request),
        Transition(name="n1 receives MsgAppResp from n2", formula=append_response),
        Transition(name="n1 proposes", formula=And(propose, fits)),
        Transition(name="n1 restarts", formula=And(conjoin(on_restart(before, after)), simple)),
    )


def _describe(pre: LogState, post: LogState) -> Callable[[ModelRef], tuple[tuple[str, str], ...]]:
    def describe(model: ModelRef) -> tuple[tuple[str, str], ...]:
        pairs = []
        for label, state in (("before", pre), ("after", post)):
            for node in state.nodes:
                last = min(model_int(model, node.log.last_index), CAPACITY)
                terms = [model_int(model, _log(node, i)) for i in range(1, last + 1)]
                pairs.append(
                    (f"{label} n{node.node}", f"term {model_int(model, node.term)} log {terms}")
                )
        return tuple(pairs)

    return describe


def _instances(pre: LogState, post: LogState, witness: ArithRef) -> list[ArithRef]:
    """The terms at which the pre-state invariants are instantiated: the witness term, every
    node's term before and after, every term in the logs, in the witness term's log, and the
    message term. Using fewer instances of an assumption is sound (it only weakens it); the
    post-state invariants are checked at the fresh ``witness``, which covers every term."""
    terms: list[ArithRef] = [witness, Int("msg.term")]
    for state in (pre, post):
        for node in state.nodes:
            terms.append(node.term)
            terms += [_log(node, p) for p in POSITIONS]
    terms += [_tl(pre, witness, p) for p in POSITIONS]
    return terms


def log_matching(rules: Rules = ETCD_RULES) -> Verdict:
    """Log Matching with its supporting invariants is inductive."""
    pre, post = _fresh("pre"), _fresh("post")
    witness = Int("witness_term")
    return check_inductive(
        InductiveQuery(
            initial=_initial(pre),
            invariants_pre=invariants(pre, _instances(pre, post, witness)),
            invariants_post=invariants(post, [witness]),
            transitions=_transitions(rules, pre, post),
            describe=_describe(pre, post),
        )
    )


NO_CONSISTENCY_CHECK_SCHEDULE = (
    "campaign",
    "vote",
    "campaign",
    "vote",
    "restart",
    "campaign",
    "vote",
    "append",
)
"""Two leaders of different terms each hold a one-entry log; one of them, re-elected, sends
its next entry after ``prev`` = 1 to the other, whose entry 1 differs. The first MsgApp a new
leader sends (``prev`` = its last index before the empty entry), so ``impl.raft`` sends it."""


def _no_consistency_check() -> Verdict:
    from proofs.raft.cluster import Shape, bounded_check
    from proofs.raft.cluster import log_matching as matching

    rules = Rules(match_term=match_term_skipped)
    return bounded_check(
        rules,
        Shape(voters=3, capacity=2),
        len(NO_CONSISTENCY_CHECK_SCHEDULE),
        (("log matching", matching),),
        schedule=NO_CONSISTENCY_CHECK_SCHEDULE,
        final_level_only=True,
    )


def _no_consistency_check_mutant() -> Verdict:
    """Without the check, induction fails; the counterexample shown is an execution."""
    cti = log_matching(Rules(match_term=match_term_skipped))
    if isinstance(cti, Proved):
        return cti
    return _no_consistency_check()


PROOFS: tuple[ProofCase, ...] = (
    ProofCase(
        name="raft.log.matching",
        property_text="Log Matching: logs with an entry of the same index and term agree up to it",
        method="inductive invariant",
        bound=(
            f"3 nodes (by symmetry), logs <= {CAPACITY} entries, unbounded terms, "
            "messages delayed/lost/duplicated"
        ),
        check=log_matching,
        mutants=(
            Mutant(
                name="no-consistency-check",
                description="a follower appends without checking prevLogIndex/prevLogTerm",
                check=_no_consistency_check_mutant,
                impl_mutant="skip_consistency_check",
                spec_properties=("log_matching",),
            ),
        ),
    ),
)
