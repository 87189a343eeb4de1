"""Kubernetes scheduling semantics over the object model (:mod:`models.k8s`), shared by the
scheduler (``impl.scheduler``) and its specification (``spec.scheduler``).

- ``amounts``: resource names and amounts, and a pod's effective requests
  (component-helpers ``PodRequests``: sidecars, init containers, overhead, pod-level
  resources, in-place resize status);
- ``matching``: taints and tolerations (with the gated ``Gt``/``Lt`` operators), node selector
  terms and required node affinity, label selectors, namespace labels;
- ``cluster``: a cluster state as ``kubectl get ... -o yaml`` shows it, sorted by kind;
- ``step``: one binding as the specification judges it.

There is no second Pod or Node type here: every function takes the API objects themselves.
"""
