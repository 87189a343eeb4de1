"""etcd v3 semantics as a pure state machine applied entry by entry from a Raft log.

``apply.apply(state, request, context)`` is the whole KV and lease API; ``watch`` turns the
store's per-revision events into watch responses. See each module's theory of operation.
"""
