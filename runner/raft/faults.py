"""The fault model: which faults a run may inject, drawn from its seed (swarm testing).

Swarm testing (Groce et al., "Swarm Testing", ISSTA 2012; TigerBeetle's VOPR) gives each run a
different mix rather than every fault at a fixed rate: a run without crashes reaches deep
replication states that constant crashing would never let it reach, and a run with many
partitions stresses elections. :func:`draw_swarm` draws, from the run's PRNG, the set of fault
kinds and the relative weight of every action kind. Every option it draws goes into the trace
header, so a run is reproduced by its seed alone or by its header.

This module also builds the fault actions themselves (partitions, membership changes) from
the PRNG; the simulator decides when.
"""

from __future__ import annotations

import random
from typing import Final

from models.raft import ConfChangeTransition, ConfState, NodeId
from models.trace import ChangeMembership, ConfChangeItem, Link, Partition, SwarmOptions

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

MUTANT_FAULTS: Final[dict[str, tuple[str, ...]]] = {
    "vote_twice": (),
    "commit_previous_term_by_counting": ("crash", "partition"),
    "skip_consistency_check": ("crash", "drop", "duplicate", "partition"),
    "vote_not_persisted": ("crash",),
    "joint_counts_new_only": ("membership", "partition"),
    "skip_up_to_date_check": ("partition",),
    "truncate_without_conflict": ("duplicate", "partition"),
}
"""Faults a mutant's runs always include: those without which its bug cannot show."""


MUTANT_WEIGHTS: Final[dict[str, dict[str, int]]] = {
    "commit_previous_term_by_counting": {"crash_weight": 6, "restart_weight": 6},
    "joint_counts_new_only": {"conf_change_weight": 15, "partition_weight": 4},
    "vote_twice": {"random_weight": 1},
    "vote_not_persisted": {"random_weight": 1, "crash_weight": 6, "restart_weight": 12},
}
"""Weights a mutant's runs raise, to reach its bug's situation more often."""

ENTRIES_PER_APPEND_CHOICES: Final = (1, 4, 64)


def entries_per_append(prng: random.Random, mutant: str) -> int:
    """How many entries one MsgApp may carry. One entry per message lets a new leader's
    acknowledgements cover an earlier term's entry without its own (paper Figure 8)."""
    drawn = prng.choice(ENTRIES_PER_APPEND_CHOICES)
    return 1 if mutant == "commit_previous_term_by_counting" else drawn


ELECTION_TIMEOUT_CHOICES: Final = (4, 6, 10)
"""Election timeouts (ticks; heartbeats every tick): short ones give more elections per run,
10 is etcd's default ratio."""


def election_timeout(prng: random.Random, mutant: str) -> int:
    """The election timeout; the shortest for the vote mutants (more concurrent candidates)."""
    drawn = prng.choice(ELECTION_TIMEOUT_CHOICES)
    return 4 if mutant in ("vote_twice", "vote_not_persisted") else drawn


INFLIGHT_APPENDS_CHOICES: Final = (1, 4, 16)
"""etcd's flow control (MaxInflightMsgs), kept small so that pipelined appends fit in the
simulated network's capacity."""


def inflight_appends(prng: random.Random, mutant: str) -> int:
    """How many MsgApp a leader keeps unacknowledged per follower. With one, a new leader's
    earlier-term entry is acknowledged before its own empty entry is even sent."""
    drawn = prng.choice(INFLIGHT_APPENDS_CHOICES)
    return 1 if mutant == "commit_previous_term_by_counting" else drawn


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


def draw_swarm(
    prng: random.Random, nodes: int, faults: tuple[str, ...] | None, mutant: str
) -> SwarmOptions:
    """The run's fault mix and action weights. ``faults=None``: each kind is on with
    probability 1/2 (plus those the mutant needs); otherwise exactly ``faults``."""
    if faults is None:
        drawn = {kind for kind in FAULT_KINDS if prng.random() < 0.5}
        chosen = tuple(sorted(drawn | set(MUTANT_FAULTS.get(mutant, ()))))
    else:
        chosen = tuple(sorted(faults))
    assert set(chosen) <= set(FAULT_KINDS)

    def weight(kind: str, low: int, high: int) -> int:
        draw = prng.randint(low, high)
        return draw if kind == "" or kind in chosen else 0

    raised = MUTANT_WEIGHTS.get(mutant, {})
    return SwarmOptions(
        faults=chosen,
        deliver_weight=weight("", 30, 80),
        tick_weight=weight("", 15, 45),
        propose_weight=weight("", 1, 8),
        compact_weight=weight("", 0, 3),
        random_weight=raised.get("random_weight", weight("", 5, 60)),
        drop_weight=max(weight("drop", 1, 10), raised.get("drop_weight", 0)),
        duplicate_weight=weight("duplicate", 1, 6),
        partition_weight=max(weight("partition", 1, 3), raised.get("partition_weight", 0)),
        heal_weight=max(weight("partition", 1, 3), raised.get("heal_weight", 0)),
        crash_weight=max(weight("crash", 1, 3), raised.get("crash_weight", 0)),
        restart_weight=max(weight("crash", 1, 8), raised.get("restart_weight", 0)),
        conf_change_weight=max(weight("membership", 1, 3), raised.get("conf_change_weight", 0)),
        asymmetric_partitions=prng.random() < 0.5,
        crash_leader_on_commit=(
            "crash" in chosen
            and (prng.random() < 0.3 or mutant == "commit_previous_term_by_counting")
        ),
        joint_swaps=prng.random() < 0.3 or mutant == "joint_counts_new_only",
        max_crashed=prng.randint(1, max(1, (nodes + 1) // 2)),
        max_in_flight=4 * (nodes + 2) ** 2,
    )


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
    prng: random.Random, leader: NodeId, conf: ConfState, node_ids: tuple[NodeId, ...]
) -> Partition | None:
    """A partition along a joint configuration (a nemesis that targets membership changes):
    the leader's side holds a majority of the incoming voters, including the new ones; the
    other side holds a majority of the outgoing voters. Only a correct joint quorum (both
    majorities) keeps the two sides from both committing."""
    incoming, outgoing = set(conf.voters), set(conf.voters_outgoing)
    if not conf.is_joint() or leader not in incoming:
        return None
    side = {leader} | (incoming - outgoing)
    shared = sorted((incoming & outgoing) - side)
    prng.shuffle(shared)
    while len(side & incoming) < len(incoming) // 2 + 1 and shared:
        side.add(shared.pop())
    other = [node for node in node_ids if node not in side]
    if len(set(other) & outgoing) < len(outgoing) // 2 + 1:
        return None
    links = {(a, b) for a in side for b in other} | {(b, a) for a in side for b in other}
    return Partition(links=tuple(sorted(links)))


def _single_change(
    prng: random.Random, conf: ConfState, node_ids: tuple[NodeId, ...], voters_min: int
) -> ConfChangeItem | None:
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
    return prng.choice(candidates) if candidates else None


def random_conf_change(
    prng: random.Random,
    leader: NodeId,
    conf: ConfState,
    node_ids: tuple[NodeId, ...],
    voters_min: int,
    *,
    swap: bool = False,
) -> ChangeMembership | None:
    """A membership change for ``leader`` to propose against its configuration ``conf``: a
    simple change, or two changes through a joint configuration (left automatically, or
    explicitly by a later ``leave_joint``).

    Like an etcd operator, it never takes the voters below ``voters_min``, never removes or
    demotes the leader itself (leadership is moved away first: a leader that steps down on its
    own removal can leave a lagging voter of the joint configuration unable to win an
    election), and only offers ``node_ids`` that were never removed (etcd refuses to re-add a
    removed member id; a re-added node would refuse snapshots whose configuration lacks it).
    """
    node_ids = tuple(node for node in node_ids if node != leader)
    if swap and prng.random() < 0.7:
        change = _swap(prng, leader, conf, node_ids)
        if change is not None:
            return change
    first = _single_change(prng, conf, node_ids, voters_min)
    if first is None:
        return None
    if prng.random() < 0.5:
        return ChangeMembership(node=leader, changes=(first,), transition="auto")
    rest = tuple(node for node in node_ids if node != first.node)
    second = _single_change(prng, _after(conf, first), rest, voters_min)
    changes = (first,) if second is None else (first, second)
    transition = prng.choice(TRANSITIONS)
    return ChangeMembership(node=leader, changes=changes, transition=transition)


def _swap(
    prng: random.Random, leader: NodeId, conf: ConfState, node_ids: tuple[NodeId, ...]
) -> ChangeMembership | None:
    """Replace one voter by a node that is not a voter, through a joint configuration that a
    later ``leave_joint`` ends (``explicit``)."""
    leaving = [node for node in conf.voters if node in node_ids]
    joining = [node for node in node_ids if node not in conf.voters]
    if not leaving or not joining:
        return None
    changes = (
        ConfChangeItem(type="remove_node", node=prng.choice(leaving)),
        ConfChangeItem(type="add_node", node=prng.choice(joining)),
    )
    return ChangeMembership(node=leader, changes=changes, transition="explicit")


def _after(conf: ConfState, change: ConfChangeItem) -> ConfState:
    """The voters and learners after one change (only what ``_single_change`` looks at)."""
    voters = set(conf.voters) - {change.node}
    learners = set(conf.learners) - {change.node}
    if change.type == "add_node":
        voters.add(change.node)
    elif change.type == "add_learner_node":
        learners.add(change.node)
    return ConfState(voters=tuple(sorted(voters)), learners=tuple(sorted(learners)))
