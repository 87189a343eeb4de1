"""What etcd's lock and election recipes guarantee, stated with their real precondition.

Sources: the etcd 3.4 ``clientv3/concurrency`` package (a lock is held "so long as the lease is
alive"; the v3lock service: "the lock is held until Unlock is called on the key or the lease
associated with the owner expires"), and Jepsen's analysis of etcd 3.4.3 (2020): a client paused
longer than its lease's TTL still believes it holds the lock after etcd revoked the lease and
gave the lock to another client, so etcd locks do not give mutual exclusion by themselves.

- :data:`MUTUAL_EXCLUSION`: at every instant at most one client believes it holds the lock
  *among those whose lease etcd still has*. This is what the recipe guarantees.
- :data:`UNCONDITIONAL_MUTUAL_EXCLUSION`: at most one believed holder, whatever the leases. It is
  what users hope for and is false under pauses longer than the TTL; kubeoracle checks it to show
  the counterexample (its ``sometimes`` companion :data:`TWO_BELIEVED_HOLDERS` says the situation
  arose).
- :data:`SINGLE_LEADER` and :data:`UNCONDITIONAL_SINGLE_LEADER`: the same for an election.
- :data:`FENCED_WRITES_IN_TOKEN_ORDER`: a resource that accepts a write only if its fencing
  token (the holder's key's create revision) is at least every token it accepted before never
  lets a stale holder write after a newer one; the accepted tokens never decrease. This holds
  under the same pauses, which is how locks are made safe (:data:`STALE_WRITE_REFUSED` says a
  stale write was in fact refused).
"""

from __future__ import annotations

import itertools

from models.etcd_recipes import Holder, LockObservation, ResourceObservation
from spec.property import Property, Violation


def believed_holders(observation: LockObservation) -> frozenset[int]:
    """The clients that believe they hold the lock (or lead)."""
    return frozenset(holder.client for holder in observation.holders)


def live_holders(observation: LockObservation) -> tuple[Holder, ...]:
    """The believed holders whose lease etcd still has."""
    return tuple(
        holder for holder in observation.holders if holder.lease in observation.live_leases
    )


def _at_most_one_live(observation: LockObservation) -> bool:
    return len({holder.client for holder in live_holders(observation)}) <= 1


def _at_most_one(observation: LockObservation) -> bool:
    return len(believed_holders(observation)) <= 1


def _tokens_never_decrease(observation: ResourceObservation) -> bool:
    tokens = [write.token for write in observation.accepted]
    return all(earlier <= later for earlier, later in itertools.pairwise(tokens))


MUTUAL_EXCLUSION: Property[LockObservation] = Property(
    name="lock_mutual_exclusion_while_lease_live",
    kind="always",
    predicate=_at_most_one_live,
    description="at most one client whose lease is alive believes it holds the lock",
)
UNCONDITIONAL_MUTUAL_EXCLUSION: Property[LockObservation] = Property(
    name="lock_mutual_exclusion_unconditional",
    kind="always",
    predicate=_at_most_one,
    description="at most one client believes it holds the lock (not guaranteed by etcd: a "
    "holder paused longer than its lease's TTL keeps believing it holds the lock)",
)
TWO_BELIEVED_HOLDERS: Property[LockObservation] = Property(
    name="lock_two_believed_holders",
    kind="sometimes",
    predicate=lambda observation: not _at_most_one(observation),
    description="two clients believed they held the lock at once",
)
SINGLE_LEADER: Property[LockObservation] = Property(
    name="election_single_leader_while_lease_live",
    kind="always",
    predicate=_at_most_one_live,
    description="at most one client whose lease is alive believes it leads",
)
UNCONDITIONAL_SINGLE_LEADER: Property[LockObservation] = Property(
    name="election_single_leader_unconditional",
    kind="always",
    predicate=_at_most_one,
    description="at most one client believes it leads (not guaranteed by etcd, as for locks)",
)
FENCED_WRITES_IN_TOKEN_ORDER: Property[ResourceObservation] = Property(
    name="fenced_resource_writes_in_token_order",
    kind="always",
    predicate=_tokens_never_decrease,
    description="the fencing tokens of the writes a resource accepted never decrease",
)
STALE_WRITE_REFUSED: Property[ResourceObservation] = Property(
    name="fenced_resource_refused_a_stale_write",
    kind="sometimes",
    predicate=lambda observation: bool(observation.refused),
    description="the resource refused a write whose token was older than one it accepted",
)


def explain_holders(observation: LockObservation, what: str = "lock") -> Violation | None:
    """Why two clients believe they hold ``what`` at once, in words (None if they do not)."""
    if _at_most_one(observation):
        return None
    parts = []
    for holder in sorted(observation.holders, key=lambda item: item.token):
        state = "alive" if holder.lease in observation.live_leases else "expired (revoked)"
        parts.append(
            f"client {holder.client} (token {holder.token}, lease {holder.lease:x} {state})"
        )
    name = (
        MUTUAL_EXCLUSION.name
        if not _at_most_one_live(observation)
        else UNCONDITIONAL_MUTUAL_EXCLUSION.name
    )
    reason = f"{len(believed_holders(observation))} clients believe they hold the {what}: " + (
        ", ".join(parts)
    )
    if _at_most_one_live(observation):
        reason += (
            "; at most one of their leases is alive: the other holders' leases expired while "
            "they still believed they held it (a pause longer than the TTL), so etcd deleted "
            "their keys and let the next client in; etcd's locks are only safe with fencing "
            "tokens"
        )
    clients = tuple(sorted(believed_holders(observation)))
    return Violation(property_name=name, nodes=clients, reason=reason)
