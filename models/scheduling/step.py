"""One binding as ``spec.scheduler`` judges it, in API objects: the cluster before, the pod as
bound (``spec.nodeName`` set), and the scheduler's per-node verdicts."""

from __future__ import annotations

from typing import final

import immutables
import msgspec

from models.k8s.core.node import Node
from models.k8s.core.pod import Pod


@final
class NodeVerdict(msgspec.Struct, frozen=True, kw_only=True):
    """One node's outcome in a scheduling attempt: filter code and total (None: not scored)."""

    node: str
    code: str
    total: int | None = None


@final
class SchedulingStep(msgspec.Struct, frozen=True, kw_only=True):
    """The cluster before a binding, the bound pod and the verdicts that led to it.
    ``comparison_operators`` is the TaintTolerationComparisonOperators gate the scheduler ran
    with (it changes what a toleration tolerates)."""

    nodes: tuple[Node, ...]
    pods_before: tuple[Pod, ...]
    pod: Pod
    verdicts: tuple[NodeVerdict, ...]
    namespaces: immutables.Map[str, immutables.Map[str, str]] = immutables.Map()
    comparison_operators: bool = False


@final
class LiveBinding(msgspec.Struct, frozen=True, kw_only=True):
    """A binding in a running cluster: which scheduler made it, the step as that scheduler saw
    the cluster (its cache, which may be stale), and the step as the API server held the
    cluster when the binding was accepted (``truth``; None while the binding is in flight)."""

    scheduler: str
    seen: SchedulingStep
    truth: SchedulingStep | None = None


@final
class Admission(msgspec.Struct, frozen=True, kw_only=True):
    """A kubelet's admission decision for a pod bound to its node: the node and the pods it
    already runs at that moment, and whether it admitted the pod."""

    node: Node
    running: tuple[Pod, ...]
    pod: Pod
    admitted: bool
