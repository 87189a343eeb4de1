"""What a Raft run did, and whether its liveness phase made progress.

:class:`Statistics` counts elections, commits, snapshots and membership changes from the
nodes' commands, for the run's report. :class:`LivenessProgress` is the Raft world's liveness
property: once faults stop, a value proposed in the liveness phase (its data starts with
``liveness:``) is applied by some node within the bound.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Final, final

from models.environment import NodeId
from models.raft import (
    ApplyEntries,
    ApplySnapshot,
    Command,
    CommitAdvanced,
    ConfChangeApplied,
    PersistEntries,
    PersistHardState,
    PersistSnapshot,
    ProposalAccepted,
    ProposalRejected,
    ReadIndexDropped,
    ReadIndexReady,
    RequestRandom,
    RoleChanged,
    SendMessage,
)
from models.raft_world import ClusterAction
from runner.raft.cluster import ClusterState

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

    def count(self, action: ClusterAction, outputs: tuple[tuple[NodeId, Command], ...]) -> None:
        """Count one action and the commands it caused."""
        self.actions[type(action).__name__] += 1
        for _node, command in outputs:
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
                case (
                    RoleChanged()
                    | SendMessage()
                    | PersistHardState()
                    | PersistEntries()
                    | RequestRandom()
                    | ReadIndexReady()
                    | ReadIndexDropped()
                    | CommitAdvanced()
                ):
                    pass  # not counted

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
class LivenessProgress:
    """Progress in the liveness phase: a node applies a value the liveness phase proposed."""

    name = "leader_elected_and_value_committed"

    def observe(self, state: ClusterState, outputs: tuple[tuple[NodeId, Command], ...]) -> bool:
        """True when a liveness value was applied by this step."""
        del state
        marker = LIVENESS_PREFIX.encode()
        return any(
            isinstance(command, ApplyEntries)
            and any(entry.data.startswith(marker) for entry in command.entries)
            for _node, command in outputs
        )

    def failure(self, bound: int) -> str:
        """What was not seen, in words."""
        return f"no value proposed in the liveness phase was committed within {bound} steps"
