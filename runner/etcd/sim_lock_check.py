"""What ``simulate etcd --workload lock`` checks: the lock's real guarantee and fencing, with
the two-holders case reported as an explained finding.

Theory of operation. After every step :class:`LockChecker` observes who believes it holds the
lock (each client whose recipe is in its ``held`` phase, with its lease and fencing token) and
which leases etcd still has: those of the most advanced member state seen so far (the highest
applied index; every member that applied an index has the same state there, so the newest one
is etcd's current state). It judges, as failures (exit 1):

- ``spec.etcd.recipes.MUTUAL_EXCLUSION``: at most one believed holder whose lease is live;
- ``spec.etcd.recipes.FENCED_WRITES_IN_TOKEN_ORDER`` on the fenced resource.

and reports as findings, not failures, what etcd does not promise (Jepsen's etcd 3.4 result):
two clients believing they hold the lock at once (``UNCONDITIONAL_MUTUAL_EXCLUSION`` broken,
explained by ``spec.etcd.recipes.explain_holders``: which clients, which tokens, whose lease
expired), the fenced resource refusing a stale holder's write, and the unfenced resource
accepting a write whose token is older than one it accepted before. :class:`LockFindings`
carries them into the run's statistics, so the report shows them; the coverage names the step
each first happened.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, final

from models.etcd_recipes import Holder, LockObservation, ResourceObservation
from models.etcd_world import ClientPause, EtcdAction
from runner.etcd.sim_lock import holds
from runner.etcd.world import EtcdWorldState, Output
from runner.etcd.world_checks import Tally
from spec.etcd.recipes import (
    FENCED_WRITES_IN_TOKEN_ORDER,
    MUTUAL_EXCLUSION,
    TWO_BELIEVED_HOLDERS,
    explain_holders,
)
from spec.property import Violation

COVERAGE: Final = (
    "lock_acquired",
    "lock_client_paused",
    "two_believed_holders",
    "stale_write_refused",
    "unfenced_stale_write_accepted",
)


def observe(state: EtcdWorldState, live_leases: frozenset[int]) -> LockObservation:
    """Who believes it holds the lock now, and the leases etcd has."""
    holders = tuple(
        Holder(client=number, lease=slot.knows.lock.lease, token=recipe.revision)
        for number in sorted(state.clients.keys())
        for slot in (state.clients[number],)
        for recipe in (slot.knows.lock.recipe,)
        if recipe is not None and holds(slot.knows)
    )
    return LockObservation(holders=holders, live_leases=live_leases)


def _stale(write_tokens: list[int]) -> int | None:
    """The index of the first accepted write whose token is below an earlier one."""
    highest = 0
    for index, token in enumerate(write_tokens):
        if token < highest:
            return index
        highest = max(highest, token)
    return None


class LockFindings:
    """The explained findings of a run (filled by :class:`LockChecker`)."""

    def __init__(self) -> None:
        self.found: dict[str, str] = {}

    def note(self, name: str, text: str) -> None:
        self.found.setdefault(name, text)


@final
class LockChecker:
    """Judges the lock observations after every step (see the module docstring)."""

    def __init__(self, findings: LockFindings) -> None:
        self.findings = findings
        self.reached: dict[str, int | None] = dict.fromkeys(COVERAGE)
        self.newest: tuple[int, frozenset[int]] = (-1, frozenset())
        self.pauses: dict[int, str] = {}
        """Each client's latest pause, in words."""

    def start(self, state: EtcdWorldState) -> tuple[Violation, ...]:
        self._advance(state)
        return ()

    def _advance(self, state: EtcdWorldState) -> frozenset[int]:
        for slot in state.members.nodes.values():
            member = slot.state
            if member is not None and member.applied_index > self.newest[0]:
                self.newest = (member.applied_index, frozenset(member.etcd.leases.keys()))
        return self.newest[1]

    def _reach(self, name: str, index: int) -> None:
        if self.reached[name] is None:
            self.reached[name] = index

    def step(
        self,
        index: int,
        action: object,
        before: EtcdWorldState,
        after: EtcdWorldState,
        outputs: tuple[Output, ...],
    ) -> tuple[Violation, ...]:
        del before, outputs
        if isinstance(action, ClientPause):
            self.pauses[action.client] = f"client {action.client} was paused at step {index}" \
                f" for {action.duration_ms} ms"  # fmt: skip
        observation = observe(after, self._advance(after))
        if observation.holders:
            self._reach("lock_acquired", index)
        if any(slot.paused_until_ms for slot in after.clients.values()):
            self._reach("lock_client_paused", index)
        found: list[Violation] = []
        explained = explain_holders(observation)
        if not MUTUAL_EXCLUSION.holds(observation):
            assert explained is not None
            found.append(explained)
        elif TWO_BELIEVED_HOLDERS.holds(observation) and explained is not None:
            self._reach("two_believed_holders", index)
            stale = [
                self.pauses.get(
                    holder.client,
                    f"client {holder.client} was not paused: its keepalives did not reach etcd"
                    " within the TTL (slow, or its calls failed)",
                )
                for holder in observation.holders
                if holder.lease not in observation.live_leases
            ]
            why = "".join(f"; {text}" for text in stale)
            self.findings.note("two_believed_holders", f"step {index}: {explained.reason}{why}")
        found.extend(self._resources(index, after.resources.fenced, after.resources.unfenced))
        return tuple(found)

    def _resources(
        self, index: int, fenced: ResourceObservation, unfenced: ResourceObservation
    ) -> list[Violation]:
        if fenced.refused:
            self._reach("stale_write_refused", index)
            refused = fenced.refused[0]
            self.findings.note(
                "stale_write_refused",
                f"step {index}: the fenced resource refused client {refused.client}'s write"
                f" with token {refused.token} (it had accepted token"
                f" {max(write.token for write in fenced.accepted)})",
            )
        stale = _stale([write.token for write in unfenced.accepted])
        if stale is not None:
            self._reach("unfenced_stale_write_accepted", index)
            write = unfenced.accepted[stale]
            self.findings.note(
                "unfenced_stale_write_accepted",
                f"step {index}: the unfenced resource accepted client {write.client}'s write"
                f" with token {write.token} after one with token"
                f" {max(w.token for w in unfenced.accepted[:stale])}",
            )
        if FENCED_WRITES_IN_TOKEN_ORDER.holds(fenced):
            return []
        tokens = [write.token for write in fenced.accepted]
        reason = f"the fenced resource accepted tokens out of order: {tokens}"
        return [Violation(property_name=FENCED_WRITES_IN_TOKEN_ORDER.name, nodes=(), reason=reason)]

    def finish(self, state: EtcdWorldState, index: int) -> tuple[Violation, ...]:
        del state, index
        return ()

    def coverage(self) -> Mapping[str, int | None]:
        return dict(self.reached)


@final
class LockTally:
    """The world's action counts, plus the lock findings."""

    def __init__(self, findings: LockFindings) -> None:
        self.tally = Tally()
        self.findings = findings

    def count(self, action: EtcdAction, outputs: tuple[Output, ...]) -> None:
        self.tally.count(action, outputs)

    def summary(self) -> dict[str, object]:
        return {**self.tally.summary(), "lock_findings": dict(self.findings.found)}
