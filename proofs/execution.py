"""A counterexample execution of the bounded cluster model, as plain values.

:func:`proofs.raft.bounded.bounded_check` reads these out of z3's model: for every step, its
kind, the nodes it involves, what the messages carried and every node's state after it. The
runner translates an :class:`Execution` into concrete cluster actions for ``impl.raft``
(``runner/raft/counterexample_export.py``); nothing here depends on z3.
"""

from __future__ import annotations

from typing import final

import msgspec


@final
class NodeValues(msgspec.Struct, frozen=True, kw_only=True):
    """One node's modelled fields in one state (``vote``/``lead`` 0: none)."""

    node: int
    term: int
    vote: int
    lead: int
    role: str
    commit: int
    log: tuple[int, ...]
    """The term of each entry, index 1 first."""


@final
class AbstractStep(msgspec.Struct, frozen=True, kw_only=True):
    """One step of the model: ``campaign``, ``vote``, ``append``, ``redeliver``, ``propose``,
    ``restart``, ``step-down`` or ``elect``; ``nodes`` is (actor,) or (candidate/leader,
    addressee)."""

    kind: str
    nodes: tuple[int, ...]
    text: str
    term: int = 0
    """The message's term (vote and append steps)."""
    sent: bool = False
    """Whether the addressee answered (a vote request in a leader lease is ignored)."""
    granted: bool = False
    prev: int = 0
    """An append step's prevLogIndex."""
    last_sent: int = 0
    """The index of the last entry an append step carries (``prev`` when it carries none)."""
    accepted: bool = False
    replied: bool = True
    """Whether an append step's reply reached the leader (False: it was lost)."""
    source: int = 0
    """A ``redeliver`` step: the number of the append step whose MsgApp arrives again."""
    after: tuple[NodeValues, ...]
    """Every node's state after the step."""


@final
class Execution(msgspec.Struct, frozen=True, kw_only=True):
    """A violating execution from the initial state: its steps and the properties it breaks."""

    voters: int
    steps: tuple[AbstractStep, ...]
    violated: tuple[str, ...]
