"""The vocabulary: immutable typed data that flows between kubeoracle's parts.

Kubernetes API objects exactly as Kubernetes serialises them, quantities, label selectors, Raft
messages and node state, etcd key-values, trace and history records. Parsing and validation of
these types lives here; behaviour does not.
"""
