"""z3 proofs of controller arithmetic: Deployment rolling-update bounds, HPA recommendations."""
