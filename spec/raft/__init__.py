"""What correct means for Raft, judged on ``models.raft.ClusterObservation`` values.

Use: ``history = RaftHistory()``; after every step
``history, violations = check_step(history, observation)``; at the end of a run
``unmet_companions(history)`` lists the ``sometimes`` companions never seen. ``SAFETY`` and
``COMPANIONS`` are the catalogue as ``spec.property.Property`` values.
"""

from spec.raft.history import RaftHistory
from spec.raft.invariants import check_step
from spec.raft.properties import COMPANION_OF, COMPANIONS, SAFETY, RaftStep, unmet_companions

__all__ = [
    "COMPANIONS",
    "COMPANION_OF",
    "SAFETY",
    "RaftHistory",
    "RaftStep",
    "check_step",
    "unmet_companions",
]
