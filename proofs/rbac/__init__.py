"""z3 proofs about RBAC: escalation prevention (``escalation.py``)."""
