"""One module per CLI verb; each exposes ``register(verbs)`` (see :mod:`runner.cli`)."""
