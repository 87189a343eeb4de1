"""Tests of the reference kube-apiserver: the pure machine, its HTTP server, kubectl."""
