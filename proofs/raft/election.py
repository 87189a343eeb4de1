"""Election Safety as an inductive invariant of etcd raft's election handlers.

Model: ``n`` voters (each size 1..5 checked), terms unbounded integers. Each node's state is a
:class:`~proofs.raft.relations.NodeView` whose log content is left free (only the last index and
term matter for voting), and every step is a handler relation of :mod:`proofs.raft.handlers`.
The network is abstracted by ghost state, as in the Ivy/mypyvy Raft: ``votes[k][t, c]`` records
that k voted for c in term t, ``elected[c, t]`` that c became leader of t. A message may be
delivered whenever the history allows it to exist:

- MsgVote from c in term t exists if c voted for itself in t (it campaigned);
- a granting MsgVoteResp from k for c in term t exists if k voted for c in t (a rejection may
  carry any term);
- MsgApp from c in term t exists if c was elected in t (with any prefix, entries and commit);
- a MsgAppResp may carry any term and index.

Messages can be delayed, duplicated or lost: each step picks any message that may exist.

Invariants (all must be inductive together): one vote per node per term; no vote in a future
term; a node's ``vote`` field is its vote of its current term; a candidate's recorded grants are
real votes; an elected node holds a quorum of votes for its term; a leader was elected in its
term; and Election Safety: at most one node is elected per term.
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
from proofs.raft.induction import InductiveQuery, Named, Transition, check_inductive
from proofs.raft.relations import (
    CANDIDATE,
    ETCD_RULES,
    FOLLOWER,
    GRANTED,
    LEADER,
    NONE,
    ROLE_NAMES,
    NodeView,
    Rules,
    can_vote_twice,
    havoc_log,
    majority_reached,
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
    If,
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
)

MAX_VOTERS = 5


@final
class ElectionState(msgspec.Struct, frozen=True, kw_only=True):
    """The nodes and the ghost history of votes and elections."""

    nodes: tuple[NodeView, ...]
    votes: tuple[ArrayRef, ...]
    elected: ArrayRef


def _fresh(voters: int, prefix: str) -> ElectionState:
    nodes = tuple(
        NodeView(
            node=node,
            term=Int(f"{prefix}.n{node}.term"),
            vote=Int(f"{prefix}.n{node}.vote"),
            lead=Int(f"{prefix}.n{node}.lead"),
            role=Int(f"{prefix}.n{node}.role"),
            commit=Int(f"{prefix}.n{node}.commit"),
            log=havoc_log(f"{prefix}.n{node}"),
            responses=tuple(Int(f"{prefix}.n{node}.resp{j}") for j in range(1, voters + 1)),
            match=tuple(Int(f"{prefix}.n{node}.match{j}") for j in range(1, voters + 1)),
        )
        for node in range(1, voters + 1)
    )
    votes = tuple(
        Array(f"{prefix}.n{node}.votes", IntSort(), IntSort(), BoolSort())
        for node in range(1, voters + 1)
    )
    return ElectionState(
        nodes=nodes,
        votes=votes,
        elected=Array(f"{prefix}.elected", IntSort(), IntSort(), BoolSort()),
    )


def _voted(state: ElectionState, voter: int, term: ArithRef, candidate: int) -> BoolRef:
    return select_bool(state.votes[voter - 1], term, candidate)


def _elected(state: ElectionState, candidate: int, term: ArithRef) -> BoolRef:
    return select_bool(state.elected, candidate, term)


def _initial(state: ElectionState) -> BoolRef:
    t, c = Int("t"), Int("c")
    facts: list[BoolRef] = []
    for node, votes in zip(state.nodes, state.votes, strict=True):
        facts += [node.term == 0, node.vote == NONE, node.lead == NONE, node.role == FOLLOWER]
        facts += [r == 0 for r in node.responses]
        facts.append(ForAll([t, c], Not(select_bool(votes, t, c))))
    facts.append(ForAll([c, t], Not(select_bool(state.elected, c, t))))
    return And(facts)


def _node_invariants(state: ElectionState, node: NodeView) -> list[Named]:
    """The supporting invariants about one node's votes, grants and elections."""
    voters = len(state.nodes)
    ids = range(1, voters + 1)
    t = Int("t")
    found: list[Named] = []
    k = node.node
    pairs = [(a, b) for a in ids for b in ids if a < b]
    found.append(
        (
            f"n{k} votes once per term",
            ForAll(
                [t],
                And([Not(And(_voted(state, k, t, a), _voted(state, k, t, b))) for a, b in pairs]),
            ),
        )
    )
    found.append(
        (
            f"n{k} has no vote in a future term",
            ForAll([t], And([Implies(_voted(state, k, t, c), t <= node.term) for c in ids])),
        )
    )
    found.append(
        (
            f"n{k}'s vote field is its vote of its term",
            And([(node.vote == c) == _voted(state, k, node.term, c) for c in ids]),
        )
    )
    found.append(
        (
            f"n{k}'s recorded grants are votes",
            Implies(
                Or(node.role == CANDIDATE, node.role == LEADER),
                And(
                    [
                        Implies(node.responses[j - 1] == GRANTED, _voted(state, j, node.term, k))
                        for j in ids
                    ]
                ),
            ),
        )
    )
    found.append(
        (
            f"n{k} holds a quorum of votes for each term it was elected in",
            ForAll(
                [t],
                Implies(
                    _elected(state, k, t),
                    majority_reached([_voted(state, j, t, k) for j in ids], voters),
                ),
            ),
        )
    )
    found.append(
        (
            f"n{k} leads only a term it was elected in",
            Implies(node.role == LEADER, _elected(state, k, node.term)),
        )
    )
    return found


def invariants(state: ElectionState) -> tuple[Named, ...]:
    """The inductive set; the last one is Election Safety."""
    voters = len(state.nodes)
    ids = range(1, voters + 1)
    t = Int("t")
    found: list[Named] = []
    for node in state.nodes:
        found += _node_invariants(state, node)
    found.append(
        (
            "election safety",
            ForAll(
                [t],
                And(
                    [
                        Not(And(_elected(state, a, t), _elected(state, b, t)))
                        for a in ids
                        for b in ids
                        if a < b
                    ]
                ),
            ),
        )
    )
    return tuple(found)


def _frame(pre: ElectionState, post: ElectionState, touched: tuple[int, ...]) -> BoolRef:
    facts: list[BoolRef] = []
    for index, (a, b) in enumerate(zip(pre.nodes, post.nodes, strict=True)):
        if index + 1 in touched:
            continue
        facts += unchanged_fields(b, a)
    return And(facts)


def _same_votes(pre: ElectionState, post: ElectionState, *, except_voter: int = 0) -> BoolRef:
    return And(
        [
            b == a
            for k, (a, b) in enumerate(zip(pre.votes, post.votes, strict=True), 1)
            if k != except_voter
        ]
    )


def _became_leader(pre: ElectionState, post: ElectionState, c: int) -> BoolRef:
    before, after = pre.nodes[c - 1], post.nodes[c - 1]
    won = And(before.role != LEADER, after.role == LEADER)
    return post.elected == If(won, Store(pre.elected, c, after.term, True), pre.elected)


SYMMETRY_FROM = 4
"""From this many voters on, one representative per transition kind is checked (c = n1,
k = n2): the model and the invariants are symmetric under renaming nodes, so a counterexample
for any other pair renames into one for the representative."""


def _transitions(rules: Rules, pre: ElectionState, post: ElectionState) -> tuple[Transition, ...]:
    voters = len(pre.nodes)
    ids = range(1, voters + 1)
    senders = (1,) if voters >= SYMMETRY_FROM else ids
    result: list[Transition] = []
    for c in senders:
        before, after = pre.nodes[c - 1], post.nodes[c - 1]
        campaign = And(
            conjoin(on_campaign(rules, before, after)),
            post.votes[c - 1] == Store(pre.votes[c - 1], after.term, c, True),
            _same_votes(pre, post, except_voter=c),
            _became_leader(pre, post, c),
            _frame(pre, post, (c,)),
        )
        result.append(Transition(name=f"n{c} campaigns", formula=campaign))
        quorum = Int(f"prop{c}.quorum_index")
        unchanged_ghosts = And(_same_votes(pre, post), post.elected == pre.elected)
        for name, relation in (
            (f"n{c} proposes", conjoin(on_propose(rules, before, after, quorum_index=quorum))),
            (f"n{c} restarts", conjoin(on_restart(before, after))),
            (f"n{c} steps down", conjoin(on_check_quorum_lost(before, after))),
        ):
            result.append(
                Transition(
                    name=name, formula=And(relation, unchanged_ghosts, _frame(pre, post, (c,)))
                )
            )
        for k in (2,) if voters >= SYMMETRY_FROM else ids:
            if k != c:
                result += _message_transitions(rules, pre, post, c, k)
    return tuple(result)


def _message_transitions(
    rules: Rules, pre: ElectionState, post: ElectionState, c: int, k: int
) -> list[Transition]:
    """Messages between candidate/leader c and node k, each delivered to its addressee."""
    tag = f"m{c}{k}"
    term = Int(f"{tag}.term")
    voter_before, voter_after = pre.nodes[k - 1], post.nodes[k - 1]
    sender_before, sender_after = pre.nodes[c - 1], post.nodes[c - 1]
    request = VoteRequest(
        term=term, candidate=c, last_index=Int(f"{tag}.index"), last_term=Int(f"{tag}.log_term")
    )
    reply = VoteReply(sent=Bool(f"{tag}.sent"), granted=Bool(f"{tag}.granted"))
    vote_request = And(
        _voted(pre, c, term, c),
        conjoin(
            on_vote_request(
                rules, voter_before, request, voter_after, reply, in_lease=Bool(f"{tag}.lease")
            )
        ),
        post.votes[k - 1]
        == If(
            And(reply.sent, reply.granted), Store(pre.votes[k - 1], term, c, True), pre.votes[k - 1]
        ),
        _same_votes(pre, post, except_voter=k),
        post.elected == pre.elected,
        _frame(pre, post, (k,)),
    )
    granted = Bool(f"{tag}.response_granted")
    vote_response = And(
        Implies(granted, _voted(pre, k, term, c)),
        conjoin(
            on_vote_response(
                rules,
                sender_before,
                VoteResponse(term=term, voter=k, granted=granted),
                sender_after,
            )
        ),
        _same_votes(pre, post),
        _became_leader(pre, post, c),
        _frame(pre, post, (c,)),
    )
    return [
        Transition(name=f"n{k} receives MsgVote from n{c}", formula=vote_request),
        Transition(name=f"n{c} receives MsgVoteResp from n{k}", formula=vote_response),
        *_append_transitions(rules, pre, post, c, k),
    ]


def _append_transitions(
    rules: Rules, pre: ElectionState, post: ElectionState, c: int, k: int
) -> list[Transition]:
    """MsgApp from leader c to k, and k's MsgAppResp back to c."""
    tag = f"m{c}{k}"
    term = Int(f"{tag}.term")
    voter_before, voter_after = pre.nodes[k - 1], post.nodes[k - 1]
    sender_before, sender_after = pre.nodes[c - 1], post.nodes[c - 1]
    append = AppendRequest(
        term=term,
        leader=c,
        prev_index=Int(f"{tag}.prev"),
        prev_term=Int(f"{tag}.prev_term"),
        entries=havoc_log(f"{tag}.entries"),
        last_sent=Int(f"{tag}.last_sent"),
        commit=Int(f"{tag}.commit"),
    )
    append_reply = AppendReply(
        sent=Bool(f"{tag}.app_sent"),
        accepted=Bool(f"{tag}.accepted"),
        term=Int(f"{tag}.reply_term"),
        index=Int(f"{tag}.reply_index"),
    )
    append_request = And(
        _elected(pre, c, term),
        conjoin(on_append_request(rules, voter_before, append, voter_after, append_reply)),
        _same_votes(pre, post),
        post.elected == pre.elected,
        _frame(pre, post, (k,)),
    )
    response = AppendResponse(
        term=term, follower=k, accepted=Bool(f"{tag}.resp_accepted"), index=Int(f"{tag}.resp_index")
    )
    append_response = And(
        conjoin(
            on_append_response(
                rules, sender_before, response, sender_after, quorum_index=Int(f"{tag}.quorum")
            )
        ),
        _same_votes(pre, post),
        post.elected == pre.elected,
        _frame(pre, post, (c,)),
    )
    return [
        Transition(name=f"n{k} receives MsgApp from n{c}", formula=append_request),
        Transition(name=f"n{c} receives MsgAppResp from n{k}", formula=append_response),
    ]


def _describe(
    pre: ElectionState, post: ElectionState
) -> Callable[[ModelRef], tuple[tuple[str, str], ...]]:
    def describe(model: ModelRef) -> tuple[tuple[str, str], ...]:
        pairs = []
        for label, state in (("before", pre), ("after", post)):
            for node in state.nodes:
                role = ROLE_NAMES.get(model_int(model, node.role), "?")
                vote = model_int(model, node.vote)
                term = model_int(model, node.term)
                voted = f"n{vote}" if vote else "-"
                pairs.append((f"{label} n{node.node}", f"{role} term {term} vote {voted}"))
        return tuple(pairs)

    return describe


def election_safety(rules: Rules = ETCD_RULES, max_voters: int = MAX_VOTERS) -> Verdict:
    """Election Safety is inductive (with its supporting invariants) for 1..max_voters voters."""
    for voters in range(1, max_voters + 1):
        pre, post = _fresh(voters, "pre"), _fresh(voters, "post")
        query = InductiveQuery(
            initial=_initial(pre),
            invariants_pre=invariants(pre),
            invariants_post=invariants(post),
            transitions=_transitions(rules, pre, post),
            describe=_describe(pre, post),
        )
        verdict = check_inductive(query)
        if not isinstance(verdict, Proved):
            return verdict
    return Proved()


def _double_vote_execution() -> Verdict:
    """The double-voting rule lets two leaders win one term: an execution from the start."""
    from proofs.raft.cluster import Shape, bounded_check
    from proofs.raft.cluster import election_safety as two_leaders

    rules = Rules(can_vote=can_vote_twice)
    return bounded_check(rules, Shape(voters=3, capacity=1), 4, (("election safety", two_leaders),))


def _double_vote() -> Verdict:
    cti = election_safety(Rules(can_vote=can_vote_twice), max_voters=3)
    if isinstance(cti, Proved):
        return cti
    return _double_vote_execution()


PROOFS: tuple[ProofCase, ...] = (
    ProofCase(
        name="raft.election.safety",
        property_text="Election Safety: at most one leader is elected in a term",
        method="inductive invariant",
        bound=f"1..{MAX_VOTERS} voters, unbounded terms, messages delayed/lost/duplicated",
        check=election_safety,
        mutants=(
            Mutant(
                name="double-voting",
                description="a node grants its vote whatever it voted for earlier in the term",
                check=_double_vote,
                impl_mutant="vote_twice",
                spec_properties=("one_vote_per_term", "election_safety"),
            ),
        ),
    ),
)
