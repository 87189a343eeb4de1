"""Kubernetes API objects as Kubernetes serialises them (camelCase JSON, ``apiVersion``/``kind``).

Modules: ``base`` (the struct base, frozen maps, opaque JSON subtrees), ``meta`` (ObjectMeta,
LabelSelector, ...), ``core`` (Pod, Node, Service, Endpoints, Namespace, Event, Binding), ``apps``
(ReplicaSet, Deployment), ``discovery`` (EndpointSlice), ``coordination`` (Lease), ``lists``
(List, PodList, ...) and ``codec`` (decoding JSON/YAML text, encoding JSON/YAML). This package
imports nothing eagerly, so importing one module does not pull in the others.
"""
