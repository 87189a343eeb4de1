"""Properties of a scheduler running against an API server with other schedulers and kubelets,
judged on :class:`models.scheduling.step.LiveBinding` and
:class:`models.scheduling.step.Admission`, independent of ``impl``.

kube-scheduler decides on its cache, which trails the API server: a binding is correct when the
node passed every filter **at the snapshot it was scheduled against** (the scheduling framework
docs: "Filter" runs on the scheduler's snapshot; the API server does not re-check fit), not
necessarily at the API server's current state. Two schedulers, or a node shrinking, can
therefore overcommit a node at the API; the kubelet's admission (``canAdmitPod``: the pod must
fit beside the pods it runs, else it fails with reason OutOf<resource>) is what keeps a node
from running more than it holds.

- ``always`` scheduler.live.bind_fits_its_snapshot: the chosen node passes the node-local
  filters and holds the pod in the scheduler's own snapshot;
- ``always`` scheduler.live.binds_only_its_own_pods: a scheduler binds only pods whose
  ``spec.schedulerName`` names it;
- ``always`` kubelet.admits_only_what_fits: an admitted pod fits beside the pods its node runs;
- ``sometimes`` scheduler.live.stale_bind_overcommits: a binding accepted by the API server
  overcommits the node there (the scheduler's snapshot was stale);
- ``sometimes`` kubelet.rejects_a_pod: a kubelet refuses a bound pod;
- ``sometimes`` scheduler.live.bind_on_a_filtered_snapshot: a binding was made while some node
  of the snapshot was full (the fit filter was exercised).
"""

from __future__ import annotations

import msgspec

from models.k8s.core.pod import Pod
from models.scheduling.step import Admission, LiveBinding, NodeVerdict, SchedulingStep
from spec.property import Property
from spec.scheduler.properties import bound_pod_passes_filters, no_overcommit


def _chosen_success(step: SchedulingStep) -> SchedulingStep:
    """The step with the chosen node's verdict Success: a live binding carries no verdicts,
    the filters are judged here from the objects."""
    node = step.pod.pod_spec.node_name or ""
    return SchedulingStep(
        nodes=step.nodes,
        pods_before=step.pods_before,
        pod=step.pod,
        verdicts=(NodeVerdict(node=node, code="Success"),),
        namespaces=step.namespaces,
        comparison_operators=step.comparison_operators,
    )


def bind_fits_its_snapshot(binding: LiveBinding) -> bool:
    return bound_pod_passes_filters(_chosen_success(binding.seen))


def binds_only_its_own_pods(binding: LiveBinding) -> bool:
    return (binding.seen.pod.pod_spec.scheduler_name or "default-scheduler") == binding.scheduler


def stale_bind_overcommits(binding: LiveBinding) -> bool:
    return binding.truth is not None and not no_overcommit(binding.truth)


def admits_only_what_fits(admission: Admission) -> bool:
    if not admission.admitted:
        return True
    step = SchedulingStep(
        nodes=(admission.node,),
        pods_before=admission.running,
        pod=admission.pod,
        verdicts=(),
    )
    return no_overcommit(step)


def _some_node_full(binding: LiveBinding) -> bool:
    seen = binding.seen
    for node in seen.nodes:
        name = node.metadata.name if node.metadata is not None else ""
        probe = SchedulingStep(
            nodes=seen.nodes,
            pods_before=seen.pods_before,
            pod=_on(seen, name or ""),
            verdicts=(),
        )
        if not no_overcommit(probe):
            return True
    return False


def _on(step: SchedulingStep, node: str) -> Pod:
    pod = step.pod
    return msgspec.structs.replace(pod, spec=msgspec.structs.replace(pod.pod_spec, node_name=node))


BINDING_PROPERTIES: tuple[Property[LiveBinding], ...] = (
    Property("scheduler.live.bind_fits_its_snapshot", "always", bind_fits_its_snapshot),
    Property("scheduler.live.binds_only_its_own_pods", "always", binds_only_its_own_pods),
    Property(
        "scheduler.live.stale_bind_overcommits",
        "sometimes",
        stale_bind_overcommits,
        "the API server accepted a binding that overcommits the node (stale snapshot)",
    ),
    Property(
        "scheduler.live.bind_on_a_filtered_snapshot",
        "sometimes",
        _some_node_full,
        "a pod was bound while some node of the snapshot could not hold it",
    ),
)
ADMISSION_PROPERTIES: tuple[Property[Admission], ...] = (
    Property("kubelet.admits_only_what_fits", "always", admits_only_what_fits),
    Property(
        "kubelet.rejects_a_pod",
        "sometimes",
        lambda admission: not admission.admitted,
        "a kubelet refused a pod bound to its node",
    ),
)
