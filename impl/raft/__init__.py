"""etcd-style Raft as a pure state machine: ``init`` and ``on_event`` (see ``docs/raft.md``).

``init(config, persisted, initial_conf)`` starts a node (``persisted=None``: a fresh node
whose configuration is ``initial_conf``; otherwise a restart from stable storage, where
``initial_conf`` is ignored). ``on_event(config, state, event)`` handles one input event.
Both return ``Step[RaftNodeState, Command]`` whose commands are ``models.raft.Command`` values.
"""

from impl.raft.node import init, on_event

__all__ = ["init", "on_event"]
