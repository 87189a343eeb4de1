"""The kubelet's shell: runtimes, the multi-node server, the simulation world."""
