"""z3 proofs of Raft safety properties, with mutants, about the behaviour of ``impl.raft``."""
