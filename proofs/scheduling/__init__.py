"""z3 proofs of kube-scheduler properties, run on the implementation's own formulas."""
