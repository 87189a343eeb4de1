"""z3 proofs of Raft and scheduling properties, each with mutants that z3 must refute.

Only :mod:`proofs.z3adapter` imports z3.
"""
