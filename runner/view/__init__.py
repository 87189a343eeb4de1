"""``kubeoracle view``: a self-contained HTML timeline of a trace or a checked history."""
