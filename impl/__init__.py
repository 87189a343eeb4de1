"""The behaviour: one pure state machine per control-plane component.

Each component exposes ``init(config, persisted) -> Step`` and
``on_event(config, state, event) -> Step``. Nothing here does I/O, reads a clock, draws a random
number, starts a thread or keeps module-level mutable state.
"""
