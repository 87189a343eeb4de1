"""The execution of one Raft run, shared by the simulator and by replay.

:class:`RaftRun` owns the cluster state and, for every action it is given, applies it
(:func:`runner.raft.cluster.apply_action`), fingerprints the new state, checks every invariant
of ``spec.raft`` on it, and counts what happened (elections, commits, snapshots, membership
changes, faults). The simulator chooses the actions; replay reads them from a trace. Because
both drive this one class, a replay re-executes exactly what the run did.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Final, final

from models.raft import (
    ApplyEntries,
    ApplySnapshot,
    Command,
    ConfChangeApplied,
    PersistSnapshot,
    ProposalAccepted,
    ProposalRejected,
    RoleChanged,
)
from models.trace import ClusterAction, FieldChange, RaftSetup, SwarmOptions
from runner.raft.checks import RaftChecker, Violation
from runner.raft.cluster import (
    Applied,
    ClusterState,
    NotEnabled,
    apply_action,
    cluster_config,
    initial_state,
)
from runner.sim.fingerprint import Fingerprinter, to_builtins

LIVENESS_PREFIX: Final = "liveness:"
"""Proposals the liveness phase makes carry values starting with this."""


@final
@dataclass(slots=True)
class Statistics:
    """What a run did, counted from the actions and the nodes' commands."""

    actions: Counter[str] = field(default_factory=Counter)
    elections: int = 0
    leader_terms: set[int] = field(default_factory=set)
    proposals_accepted: int = 0
    proposals_rejected: int = 0
    committed_values: set[bytes] = field(default_factory=set)
    snapshots_created: int = 0
    snapshots_installed: int = 0
    conf_changes_applied: set[int] = field(default_factory=set)
    joint_configurations: set[int] = field(default_factory=set)

    def count(self, action: ClusterAction, commands: tuple[tuple[int, Command], ...]) -> None:
        """Count one action and the commands it caused."""
        self.actions[type(action).__name__] += 1
        for _node, command in commands:
            match command:
                case RoleChanged(role="leader", term=term):
                    self.elections += 1
                    self.leader_terms.add(term)
                case ProposalAccepted():
                    self.proposals_accepted += 1
                case ProposalRejected():
                    self.proposals_rejected += 1
                case ApplyEntries(entries=entries):
                    self.committed_values.update(e.data for e in entries if e.data)
                case PersistSnapshot():
                    self.snapshots_created += 1
                case ApplySnapshot():
                    self.snapshots_installed += 1
                case ConfChangeApplied(index=index, conf_state=conf_state):
                    self.conf_changes_applied.add(index)
                    if conf_state.is_joint():
                        self.joint_configurations.add(index)
                case _:
                    pass

    def summary(self) -> dict[str, object]:
        """The figures a report shows."""
        return {
            "actions": dict(sorted(self.actions.items())),
            "elections": self.elections,
            "terms_with_a_leader": len(self.leader_terms),
            "proposals_accepted": self.proposals_accepted,
            "proposals_rejected": self.proposals_rejected,
            "values_committed": len(self.committed_values),
            "snapshots_persisted": self.snapshots_created,
            "snapshots_installed": self.snapshots_installed,
            "conf_changes_applied": len(self.conf_changes_applied),
            "joint_configurations_entered": len(self.joint_configurations),
        }


@final
@dataclass(frozen=True, slots=True)
class StepOutcome:
    """What one action did: the new fingerprint, the delta and any broken invariants."""

    fingerprint: str
    delta: tuple[FieldChange, ...]
    violations: tuple[Violation, ...]
    commands: tuple[tuple[int, Command], ...]


@final
class RaftRun:
    """A cluster being run: apply actions one by one, fingerprint and check each state."""

    def __init__(self, setup: RaftSetup, swarm: SwarmOptions) -> None:
        self.setup = setup
        self.config = cluster_config(setup, swarm.max_in_flight)
        initial = initial_state(self.config)
        self.state: ClusterState = initial.state
        self.steps = 0
        self.statistics = Statistics()
        self.checker = RaftChecker()
        self.fingerprinter = Fingerprinter()
        self.fingerprint, _ = self.fingerprinter.update(self.state)
        self.initial_violations = self.checker.check(self.state, 0)
        self.liveness_started_at: int | None = None
        self.liveness_reached_at: int | None = None

    def step(self, action: ClusterAction) -> StepOutcome | NotEnabled:
        """Apply ``action``; on success the run moves one step on."""
        applied = apply_action(self.config, self.state, action)
        if isinstance(applied, NotEnabled):
            return applied
        assert isinstance(applied, Applied)
        self.steps += 1
        self.state = applied.state
        self.statistics.count(action, applied.commands)
        if self.liveness_started_at is not None and self.liveness_reached_at is None:
            self._watch_liveness(applied.commands)
        self.fingerprint, delta = self.fingerprinter.update(self.state)
        violations = self.checker.check(self.state, self.steps)
        return StepOutcome(self.fingerprint, delta, violations, applied.commands)

    def start_liveness(self) -> None:
        """From now on, progress is required: a value proposed now must be committed."""
        assert self.liveness_started_at is None
        self.liveness_started_at = self.steps

    def _watch_liveness(self, commands: tuple[tuple[int, Command], ...]) -> None:
        marker = LIVENESS_PREFIX.encode()
        for _node, command in commands:
            if isinstance(command, ApplyEntries) and any(
                entry.data.startswith(marker) for entry in command.entries
            ):
                self.liveness_reached_at = self.steps
                return

    def snapshot_state(self) -> object:
        """The full cluster state as JSON-ready builtins."""
        return to_builtins(self.state)
