"""The whole cluster in the runner: its simulation world (``sim*``, ``world*``) and its server."""
