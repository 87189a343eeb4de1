"""Every step of ``impl.raft`` satisfies the handler relation the z3 proofs use.

Hypothesis drives a three-node cluster of ``impl.raft`` (ticks, deliveries in any order,
drops, proposals, restarts); each ``on_event`` is checked by z3 against the relation of
``proofs.raft.handlers`` evaluated on the concrete values. The impl's own mutants must break a
relation, naming the handler and the field.
"""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings

from models.raft import MessageReceived, RaftMutant
from proofs.raft.impl_tie import StepCheck, check_restart, check_step
from tests.proofs.impl_cluster import Run, actions


def _run(mutant: RaftMutant | None = None) -> Run[StepCheck]:
    return Run(check_step=check_step, check_restart=check_restart, mutant=mutant)


def _failures(run: Run[StepCheck]) -> list[str]:
    return [f"{c.handler}: {', '.join(c.failed)}" for c in run.checks if not c.holds]


@settings(max_examples=60, deadline=None)
@given(actions(duplicates=False))
def test_every_impl_step_satisfies_the_proof_relation(
    random_actions: list[tuple[str, int]],
) -> None:
    run = _run()
    # Warm up: elect a leader and replicate an entry, so the random part starts from a cluster
    # with a leader and logs, not only from the empty start.
    run.settle(5)
    for number in range(3):
        run.act("propose", number)
    for kind, number in random_actions:
        run.act(kind, number)
    assert _failures(run) == []


def _scripted(mutant: RaftMutant | None = None) -> Run[StepCheck]:
    """Elections, proposals and replication with every message delivered in order."""
    run = _run(mutant)
    for _ in range(4):
        run.settle(6)
        run.act("propose", 0)
        run.act("propose", 1)
        while run.in_flight:
            run.act("deliver", 0)
    run.restart(1)
    run.settle(12)
    return run


def test_a_scripted_run_exercises_every_modelled_handler() -> None:
    run = _scripted()
    assert _failures(run) == []
    seen = Counter(check.handler for check in run.checks)
    for handler in (
        "campaign",
        "on MsgVote",
        "on MsgVoteResp",
        "on MsgApp",
        "on MsgAppResp",
        "on Propose",
        "on MsgHeartbeat",
        "on MsgHeartbeatResp",
        "restart",
    ):
        assert seen[handler] > 0, f"{handler} never checked: {seen}"


def test_the_impl_double_vote_mutant_breaks_the_vote_relation() -> None:
    from models.raft import MsgVote

    run = _run(RaftMutant.VOTE_TWICE)
    # Node 1 hears candidates 2 and then 3 for term 1: etcd grants only the first.
    for candidate in (2, 3):
        request = MsgVote(from_id=candidate, to_id=1, term=1, last_log_index=0, last_log_term=0)
        run.step(1, MessageReceived(message=request))
    # Exactly the second grant breaks the relation; the unsat core names the vote field or
    # the granting reply (either contradicts etcd's canVote).
    [failure] = _failures(run)
    handler, fields = failure.split(": ")
    assert handler == "on MsgVote"
    assert set(fields.split(", ")) & {"vote", "reply"}


def test_the_impl_skip_consistency_check_mutant_breaks_the_append_relation() -> None:
    from models.raft import Entry, MsgApp

    run = _run(RaftMutant.SKIP_CONSISTENCY_CHECK)
    # Node 1 stores (index 1, term 1) from the leader of term 1 ...
    first = MsgApp(
        from_id=2,
        to_id=1,
        term=1,
        prev_log_index=0,
        prev_log_term=0,
        entries=(Entry(term=1, index=1),),
        commit_index=0,
    )
    run.step(1, MessageReceived(message=first))
    assert _failures(run) == []
    # ... then the leader of term 2 sends entries after (index 1, term 2), which node 1 lacks.
    second = MsgApp(
        from_id=3,
        to_id=1,
        term=2,
        prev_log_index=1,
        prev_log_term=2,
        entries=(Entry(term=2, index=2),),
        commit_index=0,
    )
    run.step(1, MessageReceived(message=second))
    [failure] = _failures(run)
    handler, fields = failure.split(": ")
    assert handler == "on MsgApp"
    assert set(fields.split(", ")) & {"log", "reply"}
