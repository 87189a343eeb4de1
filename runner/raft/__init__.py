"""Raft in the runner: the cluster world, its invariant checker, faults, simulator, replay,
counterexample export, and reading and writing per-node Raft event traces."""
