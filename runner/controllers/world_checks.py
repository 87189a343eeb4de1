"""The controllers world's checkers: ``spec.controllers.safety`` every step (with its
``sometimes`` companions), and ESR as the liveness phase's progress property."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import immutables

from impl.controllers.deployment import NAME as DEPLOYMENT
from impl.controllers.replicaset import NAME as REPLICASET
from models.controllers.world import (
    Advanced,
    ControllersAction,
    ControllersOutput,
    User,
    Work,
    Wrote,
)
from runner.controllers import world_api
from runner.controllers.world import DEFINITIONS, ControllersState
from spec.controllers import esr, safety
from spec.controllers.view import View, owner_refs, uid_of
from spec.property import Violation

QUIET_SECONDS: Final = 30
"""ESR's silence: this much simulated time with no controller write, once reconciled."""

Outputs = tuple[ControllersOutput, ...]


def view_of(state: ControllersState) -> View:
    return View(world_api.stored_objects(state.api))


def _current_sync(action: ControllersAction, before: ControllersState, name: str) -> bool:
    """A sync of controller ``name`` whose informers had handed over every event."""
    if not isinstance(action, Work) or not _sync_of(action, name):
        return False
    slot = before.slots[action.controller]
    return all(not informer.pending for informer in slot.informers.values())


def _sync_of(action: ControllersAction, name: str) -> bool:
    return isinstance(action, Work) and DEFINITIONS[action.controller].name == name


def _seen_replicas(action: Work, before: ControllersState) -> dict[str, int]:
    """The ReplicaSet controller's cached ``spec.replicas`` by UID."""
    state = before.slots[action.controller].state
    seen: dict[str, int] = {}
    if state is None:
        return seen
    for namespace in state.cache.stores.get("replicasets", immutables.Map()).values():
        for rs in namespace.values():
            if rs.metadata is not None and rs.metadata.uid and rs.spec is not None:
                seen[rs.metadata.uid] = 1 if rs.spec.replicas is None else rs.spec.replicas
    return seen


class SafetyChecker:
    def __init__(self) -> None:
        self.last: View | None = None
        self.last_revision = -1
        self.orphaned: dict[str, str] = {}
        """Orphaned ReplicaSet UID -> the deleted owner's UID."""
        self.seen: dict[str, int | None] = dict.fromkeys(safety.SOMETIMES)

    def _view(self, state: ControllersState) -> View:
        if self.last is None or state.api.etcd.revision != self.last_revision:
            self.last, self.last_revision = view_of(state), state.api.etcd.revision
        return self.last

    def start(self, state: ControllersState) -> tuple[Violation, ...]:
        self._view(state)
        return ()

    def step(
        self,
        index: int,
        action: ControllersAction,
        before: ControllersState,
        after: ControllersState,
        outputs: Outputs,
    ) -> tuple[Violation, ...]:
        del outputs
        old = self._view(before)
        new = self._view(after)
        if new is old:
            return ()
        if isinstance(action, User) and action.verb == "delete" and action.policy == "Orphan":
            for deployment in old.of("Deployment"):
                if deployment["metadata"]["name"] == action.name:
                    for rs in old.controlled(deployment, "ReplicaSet"):
                        self.orphaned[uid_of(rs)] = uid_of(deployment)
        # An orphan adopted by another owner belongs to that owner's lifecycle from then on.
        self.orphaned = {
            uid: owner
            for uid, owner in self.orphaned.items()
            if uid not in new.by_uid
            or all(ref.get("uid") == owner for ref in owner_refs(new.by_uid[uid]))
        }
        found = [
            *(
                safety.no_excess_pods(old, new, _seen_replicas(action, before))
                if isinstance(action, Work) and _sync_of(action, REPLICASET)
                else ()
            ),
            *(
                safety.status_counts_available(old, new)
                if _current_sync(action, before, REPLICASET)
                else ()
            ),
            *(safety.rollout_bounds(old, new) if _current_sync(action, before, DEPLOYMENT) else ()),
            *safety.orphans_kept(new, self.orphaned),
            *safety.foreground_waits(old, new),
        ]
        self.orphaned = {uid: o for uid, o in self.orphaned.items() if uid in new.by_uid}
        for name in safety.witnessed(new, self.orphaned):
            if self.seen[name] is None:
                self.seen[name] = index
        return tuple(found)

    def finish(self, state: ControllersState, index: int) -> tuple[Violation, ...]:
        del state, index
        return ()

    def coverage(self) -> Mapping[str, int | None]:
        return self.seen


class Reconciled:
    """ESR: reconciled (``spec.controllers.esr``) and ``QUIET_SECONDS`` without a write."""

    name = "eventually_stable_reconciliation"

    def __init__(self) -> None:
        self.quiet_seconds = 0
        self.gaps: list[str] = []

    def observe(self, state: ControllersState, outputs: Outputs) -> bool:
        if any(isinstance(o, Wrote) and o.controller != "kubelet" for o in outputs):
            self.quiet_seconds = 0
            return False
        advanced = sum(o.seconds for o in outputs if isinstance(o, Advanced))
        if not advanced:
            return False
        self.gaps = esr.gaps(view_of(state))
        self.quiet_seconds = self.quiet_seconds + advanced if not self.gaps else 0
        return self.quiet_seconds >= QUIET_SECONDS

    def failure(self, bound: int) -> str:
        why = "; ".join(self.gaps[:3]) or "the controllers kept writing"
        return f"not reconciled and quiet within {bound} steps: {why}"


class Tally:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def count(self, action: ControllersAction, outputs: Outputs) -> None:
        name = type(action).__name__.lower()
        self.counts[name] = self.counts.get(name, 0) + 1
        writes = sum(1 for o in outputs if isinstance(o, Wrote) and o.controller != "user")
        self.counts["writes"] = self.counts.get("writes", 0) + writes

    def summary(self) -> dict[str, Any]:
        return dict(sorted(self.counts.items()))
