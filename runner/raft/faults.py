"""The Raft world's faults: its fault kinds, the mutants, and the fault actions themselves.

Which faults a run injects and how often is drawn from its seed by the kernel
(``runner.sim.swarm``) from the Raft world's catalogue (``runner.raft.world``); nothing here or
there depends on which mutant runs: a user's bug does not come with a name. This module builds
the fault actions (partitions, partitions along a joint configuration, membership changes)
from the PRNG once the scheduler picked their kind.
"""

from __future__ import annotations

import random
from typing import Final

from models.raft import ConfChangeTransition, ConfState, NodeId
from models.raft_world import ChangeMembership, ConfChangeItem, Link, Partition

FAULT_KINDS: Final = ("crash", "drop", "duplicate", "membership", "partition")
"""``crash``: nodes crash and restart; ``drop``: messages are lost; ``duplicate``: messages are
delivered twice; ``membership``: members are added, removed, demoted and promoted, through
joint configurations too; ``partition``: links are cut, symmetrically or in one direction.
Reordering and delay are always on: any in-flight message may arrive next."""

MUTANT_DESCRIPTIONS: Final[dict[str, str]] = {
    "vote_twice": "a node grants a second vote in a term it already voted in",
    "commit_previous_term_by_counting": (
        "a leader commits entries of earlier terms by counting replicas (paper Figure 8)"
    ),
    "skip_consistency_check": (
        "followers accept AppendEntries without checking (prev_log_index, prev_log_term)"
    ),
    "vote_not_persisted": "the vote is not written to stable storage, so a restart forgets it",
    "joint_counts_new_only": (
        "a joint configuration counts only the incoming majority (commit and elections)"
    ),
    "skip_up_to_date_check": "a voter grants its vote without the log up-to-date check",
    "truncate_without_conflict": (
        "a follower cuts its log after an accepted MsgApp's entries even without a conflict"
    ),
}
"""One line per ``models.raft.RaftMutant``, for ``--list-mutants``."""

FLOW_CONTROL_CHOICES: Final = ((1, 1), (1, 4), (4, 4), (64, 1), (64, 16))
"""(entries per MsgApp, MsgApp in flight per follower): stop-and-wait replication of one entry
at a time lets a new leader's acknowledgements cover an earlier term's entry without its own
(paper Figure 8); pipelined batches reach other interleavings. etcd raft's MaxSizePerMsg and
MaxInflightMsgs, kept small so that pipelined appends fit in the simulated network."""
ELECTION_TIMEOUT_CHOICES: Final = (4, 6, 10)
"""Election timeouts (ticks; heartbeats every tick): short ones give more elections per run,
10 is etcd's default ratio."""

TRANSITIONS: Final[tuple[ConfChangeTransition, ...]] = ("auto", "implicit", "explicit")


def parse_faults(text: str) -> tuple[str, ...] | str:
    """``--faults`` value: comma-separated kinds, ``all`` or ``none``; an error message if
    a kind is unknown."""
    if text == "all":
        return FAULT_KINDS
    if text in ("none", ""):
        return ()
    kinds = tuple(sorted({kind.strip() for kind in text.split(",") if kind.strip()}))
    unknown = [kind for kind in kinds if kind not in FAULT_KINDS]
    if unknown:
        return f"unknown fault kind {', '.join(unknown)} (known: {', '.join(FAULT_KINDS)})"
    return kinds


def random_partition(
    prng: random.Random, node_ids: tuple[NodeId, ...], asymmetric: bool
) -> Partition:
    """Cut the cluster in two (one side may be a single node); with ``asymmetric``, possibly
    only one direction of the cut links."""
    assert len(node_ids) >= 2
    if prng.random() < 0.4:
        side = {prng.choice(node_ids)}
    else:
        side = {node for node in node_ids if prng.random() < 0.5}
        if not side or len(side) == len(node_ids):
            side = {node_ids[0]}
    rest = [node for node in node_ids if node not in side]
    links: set[Link] = set()
    direction = prng.choice(("both", "out", "in")) if asymmetric else "both"
    for inside in sorted(side):
        for outside in rest:
            if direction in ("both", "out"):
                links.add((inside, outside))
            if direction in ("both", "in"):
                links.add((outside, inside))
    return Partition(links=tuple(sorted(links)))


def configuration_split(
    leader: NodeId, conf: ConfState, node_ids: tuple[NodeId, ...]
) -> Partition | None:
    """A partition along a joint configuration (a nemesis that targets membership changes):
    the leader's side holds a majority of the incoming voters, including the new ones; the
    other side holds a majority of the outgoing voters. Only a correct joint quorum (both
    majorities) keeps the two sides from both committing. ``None`` when no such cut exists."""
    incoming, outgoing = set(conf.voters), set(conf.voters_outgoing)
    if not conf.is_joint() or leader not in incoming:
        return None
    side = {leader} | (incoming - outgoing)
    shared = sorted((incoming & outgoing) - side, reverse=True)
    while len(side & incoming) < len(incoming) // 2 + 1 and shared:
        side.add(shared.pop())
    other = [node for node in node_ids if node not in side]
    if len(set(other) & outgoing) < len(outgoing) // 2 + 1:
        return None
    links = {(a, b) for a in side for b in other} | {(b, a) for a in side for b in other}
    return Partition(links=tuple(sorted(links)))


def _single_changes(
    conf: ConfState, node_ids: tuple[NodeId, ...], voters_min: int
) -> list[ConfChangeItem]:
    voters = set(conf.voters)
    learners = set(conf.learners)
    members = voters | learners | set(conf.voters_outgoing) | set(conf.learners_next)
    candidates: list[ConfChangeItem] = []
    for node in node_ids:
        if node not in voters:
            candidates.append(ConfChangeItem(type="add_node", node=node))
        if node not in learners and (node not in voters or len(voters) > voters_min):
            candidates.append(ConfChangeItem(type="add_learner_node", node=node))
        if node in members and (node not in voters or len(voters) > voters_min):
            candidates.append(ConfChangeItem(type="remove_node", node=node))
    return candidates


def can_change(
    leader: NodeId, conf: ConfState, node_ids: tuple[NodeId, ...], voters_min: int
) -> bool:
    """Whether :func:`random_conf_change` has a change to offer."""
    others = tuple(node for node in node_ids if node != leader)
    return bool(_single_changes(conf, others, voters_min))


def random_conf_change(
    prng: random.Random,
    leader: NodeId,
    conf: ConfState,
    node_ids: tuple[NodeId, ...],
    voters_min: int,
) -> ChangeMembership:
    """A membership change for ``leader`` to propose against its configuration ``conf``: a
    simple change, or two changes through a joint configuration (left automatically, or
    explicitly by a later ``leave_joint``). Call only when :func:`can_change` holds.

    Like an etcd operator, it never takes the voters below ``voters_min``, never removes or
    demotes the leader itself (leadership is moved away first: a leader that steps down on its
    own removal can leave a lagging voter of the joint configuration unable to win an
    election), and only offers ``node_ids`` that were never removed (etcd refuses to re-add a
    removed member id; a re-added node would refuse snapshots whose configuration lacks it).
    """
    node_ids = tuple(node for node in node_ids if node != leader)
    candidates = _single_changes(conf, node_ids, voters_min)
    assert candidates, "no membership change to offer"
    first = prng.choice(candidates)
    if prng.random() < 0.5:
        return ChangeMembership(node=leader, changes=(first,), transition="auto")
    rest = tuple(node for node in node_ids if node != first.node)
    seconds = _single_changes(_after(conf, first), rest, voters_min)
    changes = (first,) if not seconds else (first, prng.choice(seconds))
    transition = prng.choice(TRANSITIONS)
    return ChangeMembership(node=leader, changes=changes, transition=transition)


def can_swap(leader: NodeId, conf: ConfState, node_ids: tuple[NodeId, ...]) -> bool:
    """Whether :func:`voter_swap` has a voter to replace and a node to replace it with."""
    others = tuple(node for node in node_ids if node != leader)
    leaving = [node for node in conf.voters if node in others]
    joining = [node for node in others if node not in conf.voters]
    return bool(leaving) and bool(joining)


def voter_swap(
    prng: random.Random, leader: NodeId, conf: ConfState, node_ids: tuple[NodeId, ...]
) -> ChangeMembership:
    """Replace one voter by a node that is not a voter, through a joint configuration that a
    later ``leave_joint`` ends (``explicit``): a long joint window in which the outgoing and
    incoming majorities differ. Call only when :func:`can_swap` holds."""
    others = tuple(node for node in node_ids if node != leader)
    leaving = [node for node in conf.voters if node in others]
    joining = [node for node in others if node not in conf.voters]
    assert leaving, "no voter to swap out"
    assert joining, "no node to swap in"
    changes = (
        ConfChangeItem(type="remove_node", node=prng.choice(leaving)),
        ConfChangeItem(type="add_node", node=prng.choice(joining)),
    )
    return ChangeMembership(node=leader, changes=changes, transition="explicit")


def _after(conf: ConfState, change: ConfChangeItem) -> ConfState:
    """The voters and learners after one change (only what ``_single_changes`` looks at)."""
    voters = set(conf.voters) - {change.node}
    learners = set(conf.learners) - {change.node}
    if change.type == "add_node":
        voters.add(change.node)
    elif change.type == "add_learner_node":
        learners.add(change.node)
    return ConfState(voters=tuple(sorted(voters)), learners=tuple(sorted(learners)))
