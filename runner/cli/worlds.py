"""The worlds this build simulates, by name: what ``replay`` and ``schema trace`` know.

A world registers here (one line) once its kind exists (``runner.<c>.world``); the kernel
itself never imports a world.
"""

from __future__ import annotations

from typing import Any, Final

from runner.apiserver.world import APISERVER
from runner.raft.world import RAFT
from runner.sim.world import WorldKind

WORLDS: Final[dict[str, WorldKind[Any, Any, Any, Any]]] = {
    RAFT.name: RAFT,
    APISERVER.name: APISERVER,
}
