"""The generic simulation kernel: fingerprints, the trace file format, and (for any world) runs,
replay and the first-divergence diff. Imports no component package (``runner.raft`` ...)."""
