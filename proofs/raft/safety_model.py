"""The unbounded Raft transition system: node steps of :mod:`proofs.raft.node_relations`,
plus the ghost history and the network.

Each transition is one node's step (its relation constrains that node's fields; every other
node keeps its fields) with the ghost updates it causes and, for a received message, the
condition that the message may exist. The network is the ghost history, as in the Ivy/mypyvy
Raft: a MsgVote of C for T exists when ``request(C, T, ...)``; a granting MsgVoteResp when
``votes(N, T, C)``; a MsgApp of term T may carry any piece of ``term_entry(T, ...)`` (the log
of T's leader, which only grows, so an old message carries a piece of today's term log) with
a commit index T's leader had; an accepting MsgAppResp of N for T up to I when ``acked(N, T,
I)``; a MsgHeartbeat of T to N carries at most what N acked and T's leader committed. So every
message may be delivered any number of times, in any order, or never: the network may delay,
reorder, duplicate and lose messages.

A message of a higher term is, in ``impl.raft`` as in etcd, ``observe_term`` followed by the
handling in that term; the model has the two as separate transitions (the tie checks the
composition).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import final

import msgspec

from proofs.raft import node_relations as rel
from proofs.raft.epr import (
    INDEX,
    NODE,
    QUORUM,
    TERM,
    Formula,
    SymbolicDomain,
    Value,
    quorum_members,
)
from proofs.raft.node_relations import Append, Commit, Conjuncts, Rules, VoteRequest
from proofs.raft.safety_state import RELATIONS, PostState, SafetyState, SymbolicFields
from proofs.z3adapter import And, BoolRef, BoolVal, Const, ExprRef, ForAll, If, Or

Update = Callable[..., ExprRef]


@final
class Transition(msgspec.Struct, frozen=True, kw_only=True):
    """One kind of step: its formula over ``pre``, ``post`` and its parameters."""

    name: str
    formula: BoolRef
    post: PostState


@final
class _Step:
    """Builds one transition: the acting node's relation and the ghost updates it causes."""

    def __init__(self, domain: SymbolicDomain, pre: SafetyState, actor: ExprRef) -> None:
        self.domain = domain
        self.pre = pre
        self.post = PostState(pre, actor, "post")
        self.actor = actor
        self.parts: list[Formula] = []

    def relation(self, conjuncts: Conjuncts) -> None:
        self.parts += [formula for _, formula in conjuncts]

    def require(self, *facts: Formula) -> None:
        self.parts += facts

    def ghost(self, name: str, new: Update) -> None:
        """The ghost relation or function ``name`` becomes ``new``."""
        self.post.override(name, new)

    def add(self, name: str, *point: ExprRef) -> None:
        """The ghost relation ``name`` gains ``point``."""
        pre = self.pre
        self.ghost(
            name,
            lambda *xs: Or(
                pre.holds(name, *xs), And([x == p for x, p in zip(xs, point, strict=True)])
            ),
        )

    def set_commit(self, index: ExprRef, term: ExprRef, point: ExprRef) -> None:
        """The actor's commit index becomes ``index``, justified by (term, point)."""
        self.post.override("commit", lambda i, t, q: And(i == index, t == term, q == point))

    def transition(self, name: str) -> Transition:
        if "commit" not in self.post.overrides:
            pre, actor = self.pre, self.actor
            self.post.override("commit", lambda i, t, q: pre.holds("commit", actor, i, t, q))
        return Transition(name=name, formula=And(*self.parts), post=self.post)


def _expr(value: Value) -> ExprRef:
    assert isinstance(value, ExprRef), value
    return value


def _consts(prefix: str, **sorts: object) -> dict[str, ExprRef]:
    from proofs.z3adapter import SortRef

    out: dict[str, ExprRef] = {}
    for name, sort in sorts.items():
        assert isinstance(sort, SortRef)
        out[name] = Const(f"{prefix}.{name}", sort)
    return out


def _elections(d: SymbolicDomain, rules: Rules, pre: SafetyState) -> list[Transition]:
    p = _consts(
        "p",
        n=NODE,
        c=NODE,
        j=NODE,
        t=TERM,
        t2=TERM,
        last=INDEX,
        last_term=TERM,
        li=INDEX,
        lt=TERM,
        i=INDEX,
        q=QUORUM,
    )
    n, c, t = p["n"], p["c"], p["t"]
    out: list[Transition] = []

    step = _Step(d, pre, n)
    step.relation(
        rel.campaign(d, pre.fields(n), step.post.fields(n), node=n, term=t, new_term=p["t2"])
    )
    step.require(rel.is_last(d, pre.fields(n), p["last"], p["last_term"]))
    step.add("votes", n, p["t2"], n)
    step.add("request", n, p["t2"], p["last"], p["last_term"])
    out.append(step.transition("campaign"))

    step = _Step(d, pre, n)
    step.relation(rel.observe_term(d, pre.fields(n), step.post.fields(n), term=t, new_term=p["t2"]))
    out.append(step.transition("observe a higher term"))

    step = _Step(d, pre, n)
    step.relation(rel.step_down(d, pre.fields(n), step.post.fields(n), term=t))
    out.append(step.transition("step down / restart"))

    request = VoteRequest(
        term=t,
        candidate=c,
        last_index=p["li"],
        last_term=p["lt"],
        own_last_index=p["last"],
        own_last_term=p["last_term"],
    )
    step = _Step(d, pre, n)
    step.require(pre.holds("request", c, t, p["li"], p["lt"]))
    step.relation(rel.grant_vote(d, rules, pre.fields(n), step.post.fields(n), request))
    step.add("votes", n, t, c)
    out.append(step.transition("grant a vote"))

    step = _Step(d, pre, c)
    step.require(pre.holds("votes", p["j"], t, c))
    step.relation(rel.record_grant(d, pre.fields(c), step.post.fields(c), term=t, voter=p["j"]))
    out.append(step.transition("record a grant"))

    out.append(_become_leader(d, pre, c, t, p["i"], p["q"]))
    return out


def _become_leader(
    d: SymbolicDomain, pre: SafetyState, c: ExprRef, t: ExprRef, i: ExprRef, q: ExprRef
) -> Transition:
    step = _Step(d, pre, c)
    after = step.post.fields(c)
    step.relation(
        rel.become_leader(
            d,
            pre.fields(c),
            after,
            node=c,
            term=t,
            new_index=i,
            quorum=lambda body: body(quorum_members(q)),
        )
    )
    step.add("elected", c, t)
    step.add("started", t)
    step.ghost("voting_quorum", lambda x: If(x == t, q, pre.value("voting_quorum", x)))
    step.ghost("leader_of", lambda x: If(x == t, c, pre.value("leader_of", x)))
    step.ghost(
        "term_entry",
        lambda x, j, y: If(x == t, after.entry(j, y), pre.holds("term_entry", x, j, y)),
    )
    step.ghost("term_used", lambda x, j: If(x == t, after.used(j), pre.holds("term_used", x, j)))
    step.ghost(
        "acked",
        lambda m, x, j: If(
            And(m == c, x == t), Or(j == d.index_zero, after.used(j)), pre.holds("acked", m, x, j)
        ),
    )
    step.ghost(
        "leader_commit",
        lambda x, j, y, k: If(
            x == t, pre.holds("commit", c, j, y, k), pre.holds("leader_commit", x, j, y, k)
        ),
    )
    return step.transition("become leader")


def _leading(d: SymbolicDomain, rules: Rules, pre: SafetyState) -> list[Transition]:
    p = _consts("p", n=NODE, j=NODE, t=TERM, i=INDEX, q=QUORUM, ck=INDEX, ctk=TERM, cqk=INDEX)
    n, t, i = p["n"], p["t"], p["i"]
    out: list[Transition] = []

    step = _Step(d, pre, n)
    step.relation(rel.propose(d, pre.fields(n), step.post.fields(n), node=n, term=t, new_index=i))
    step.add("term_entry", t, i, t)
    step.add("term_used", t, i)
    step.add("acked", n, t, i)
    out.append(step.transition("propose"))

    step = _Step(d, pre, n)
    step.require(pre.holds("acked", p["j"], t, i))
    step.relation(
        rel.record_ack(d, pre.fields(n), step.post.fields(n), term=t, follower=p["j"], index=i)
    )
    out.append(step.transition("record an ack"))

    step = _Step(d, pre, n)
    step.require(pre.holds("commit", n, p["ck"], p["ctk"], p["cqk"]))
    commit = Commit(before=p["ck"], after=i)
    step.relation(
        rel.leader_commit(
            d,
            rules,
            pre.fields(n),
            step.post.fields(n),
            term=t,
            index=i,
            commit=commit,
            quorum=lambda body: body(quorum_members(p["q"])),
        )
    )
    step.set_commit(i, t, i)
    step.add("committed", t, i)
    step.ghost(
        "commit_quorum",
        lambda x, y: If(And(x == t, y == i), p["q"], pre.value("commit_quorum", x, y)),
    )
    step.add("leader_commit", t, i, t, i)
    out.append(step.transition("leader commits"))
    return out


def _message(d: SymbolicDomain, pre: SafetyState, p: dict[str, ExprRef]) -> tuple[Append, BoolRef]:
    """A MsgApp of term t that may exist, and the condition that it does."""
    t, prev, prev_term, last = p["t"], p["prev"], p["prev_term"], p["last"]
    message = Append(
        term=t,
        prev=prev,
        prev_term=prev_term,
        last_sent=last,
        commit=p["jI"],
        entry=lambda i, y: pre.term_entry(t, _expr(i), _expr(y)),
    )
    exists = And(
        pre.holds("started", t),
        Or(
            And(prev == d.index_zero, prev_term == d.term_zero),
            pre.holds("term_entry", t, prev, prev_term),
        ),
        d.index_le(prev, last),
        Or(last == d.index_zero, pre.holds("term_used", t, last)),
        pre.holds("leader_commit", t, p["jI"], p["jT"], p["jq"]),
    )
    return message, exists


def _commit_update(step: _Step, p: dict[str, ExprRef]) -> None:
    """The follower's commit index is raised to ``ca`` (new justification) or kept."""
    ck, ca = p["ck"], p["ca"]
    step.post.override(
        "commit",
        lambda i, t, q: If(
            ca == ck,
            And(i == ck, t == p["ctk"], q == p["cqk"]),
            And(i == ca, t == p["jT"], q == p["jq"]),
        ),
    )


def _appends(d: SymbolicDomain, rules: Rules, pre: SafetyState) -> list[Transition]:
    p = _consts(
        "p",
        k=NODE,
        t=TERM,
        prev=INDEX,
        prev_term=TERM,
        last=INDEX,
        jI=INDEX,
        jT=TERM,
        jq=INDEX,
        ck=INDEX,
        ctk=TERM,
        cqk=INDEX,
        ca=INDEX,
        x=INDEX,
        xt=TERM,
        carried=INDEX,
    )
    k, t = p["k"], p["t"]
    before = pre.fields(k)
    commit = Commit(before=p["ck"], after=p["ca"])
    message, exists = _message(d, pre, p)
    out: list[Transition] = []
    relation_of = Callable[[SymbolicFields], Conjuncts]
    kinds: list[tuple[str, relation_of, Callable[[ExprRef], BoolRef]]] = [
        (
            "append, entries present",
            lambda after: rel.append_keep(d, rules, before, after, message, commit),
            lambda i: d.index_le(i, p["last"]),
        ),
        (
            "append, truncate at a conflict",
            lambda after: rel.append_truncate(
                d, rules, before, after, message, commit, conflict=p["x"], conflict_term=p["xt"]
            ),
            lambda i: d.index_le(i, p["last"]),
        ),
        (
            "append below the commit index",
            lambda after: rel.append_below_commit(d, before, after, message, commit),
            lambda i: d.index_le(i, p["ck"]),
        ),
    ]
    for name, relation, acked in kinds:
        step = _Step(d, pre, k)
        step.require(exists, pre.holds("commit", k, p["ck"], p["ctk"], p["cqk"]))
        step.relation(relation(step.post.fields(k)))
        step.ghost(
            "acked",
            lambda m, x, i, acked=acked: Or(
                pre.holds("acked", m, x, i), And(m == k, x == t, acked(i))
            ),
        )
        _commit_update(step, p)
        out.append(step.transition(name))

    step = _Step(d, pre, k)
    step.require(
        pre.holds("leader_commit", t, p["jI"], p["jT"], p["jq"]),
        d.index_le(p["carried"], p["jI"]),
        pre.holds("acked", k, t, p["carried"]),
        pre.holds("commit", k, p["ck"], p["ctk"], p["cqk"]),
    )
    step.relation(
        rel.heartbeat_commit(
            d, before, step.post.fields(k), term=t, carried=p["carried"], commit=commit
        )
    )
    _commit_update(step, p)
    out.append(step.transition("heartbeat"))
    return out


def transitions(domain: SymbolicDomain, rules: Rules, pre: SafetyState) -> tuple[Transition, ...]:
    """Every kind of step."""
    return (
        *_elections(domain, rules, pre),
        *_leading(domain, rules, pre),
        *_appends(domain, rules, pre),
    )


def initial(domain: SymbolicDomain, state: SafetyState) -> BoolRef:
    """All nodes followers of term 0 without vote, log, grants or commits; no history."""
    zero_t, zero_i = domain.term_zero, domain.index_zero
    facts: list[BoolRef] = []
    for name, sorts in RELATIONS.items():
        xs = [domain.fresh(sort, "X") for sort in sorts]
        held = state.holds(name, *xs)
        if name == "current_term":
            value: BoolRef = xs[1] == zero_t
        elif name == "match" or name == "acked":
            value = xs[2] == zero_i
        elif name in ("commit", "leader_commit"):
            value = And(xs[1] == zero_i, xs[2] == zero_t, xs[3] == zero_i)
        elif name == "committed":
            value = xs[1] == zero_i
        else:
            value = BoolVal(False)
        facts.append(ForAll(xs, held == value))
    return And(facts)
