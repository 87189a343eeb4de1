"""NodeResourcesFit (extended resources in the filter and in scoring, the non-zero defaults, the
queueing hint) and NodeResourcesBalancedAllocation (plain requests, more than two resources),
against kube-scheduler's rules (v1.35 ``noderesources``).

Filter (``fitsRequest``): every scalar resource the pod requests is checked, in name order, after
cpu, memory and ephemeral-storage; ignored extended resources are skipped; the failure is
unresolvable only when the request exceeds the node's whole allocatable. Scoring
(``calculateResourceAllocatableRequest``): a scalar resource the pod does not request is left
out; cpu and memory count the non-zero defaults (100m, 200Mi) of pods without requests, for the
node's pods as for the incoming one; BalancedAllocation uses plain requests.

Queueing hint (``isSchedulableAfterNodeChange``): a node event requeues a pod that failed this
filter only if the pod fits the node's whole allocatable, and, for an update, only if the node
now allows more pods or more of a resource the pod requests; deleting an assigned pod always
requeues. Balanced allocation (``balancedResourceScorer``): with more than two resources the
score is ``int((1 - std) * 100)`` where ``std`` is the population standard deviation of the
requested fractions.
"""

from __future__ import annotations

import pytest

from impl.scheduler.features import DEFAULT_FEATURES
from impl.scheduler.framework import ClusterEvent, EventKind
from impl.scheduler.nodeinfo import NodeInfo, node_view
from impl.scheduler.plugins.noderesources import NodeResourcesFit, balanced_score
from impl.scheduler.podinfo import PodInfo, pod_info
from models.k8s.core.pod import Pod
from tests.scheduler.helpers import node, pod, profile_with, report, scores, verdict


def node_info(*, extra: dict[str, str] | None = None, **allocatable: str) -> NodeInfo:
    """A node with no pods; ``allocatable`` gives cpu, memory, pods; ``extra`` others."""
    return NodeInfo(view=node_view(node("n", extra=extra, **allocatable)), name="n")  # type: ignore[arg-type]


def wants_two_cpus() -> PodInfo:
    return pod_info(pod("p", cpu="2"), DEFAULT_FEATURES)


def hint(kind: EventKind, new: NodeInfo | None = None, old: NodeInfo | None = None) -> bool:
    event = ClusterEvent(kind=kind, node=new, old_node=old)
    return NodeResourcesFit().queueing_hint(event, wants_two_cpus())


def test_deleting_an_assigned_pod_requeues() -> None:
    assert hint(EventKind.ASSIGNED_POD_DELETE)


def test_an_added_node_requeues_only_if_the_pod_fits_it() -> None:
    assert hint(EventKind.NODE_ADD, node_info(cpu="4"))
    assert not hint(EventKind.NODE_ADD, node_info(cpu="1"))


def test_an_event_without_a_node_does_not_requeue() -> None:
    assert not hint(EventKind.NODE_UPDATE)


@pytest.mark.parametrize(
    ("old", "new", "requeued"),
    [
        ({"cpu": "1"}, {"cpu": "4"}, True),  # now fits: more of a requested resource
        ({"cpu": "4"}, {"cpu": "8"}, True),
        ({"cpu": "4", "pods": "10"}, {"cpu": "4", "pods": "11"}, True),  # more pods allowed
        ({"cpu": "4"}, {"cpu": "4"}, False),  # nothing grew (e.g. a label changed)
        ({"cpu": "4", "memory": "1Gi"}, {"cpu": "4", "memory": "8Gi"}, False),  # not requested
        ({"cpu": "4"}, {"cpu": "3"}, False),  # shrank, still fits
        ({"cpu": "1"}, {"cpu": "1", "pods": "200"}, False),  # still does not fit
    ],
)
def test_an_updated_node_requeues_only_when_a_requested_resource_grew(
    old: dict[str, str], new: dict[str, str], requeued: bool
) -> None:
    assert (
        hint(EventKind.NODE_UPDATE, node_info(extra=None, **new), node_info(extra=None, **old))
        is requeued
    )


def test_balanced_scores_worked_by_hand() -> None:
    # mean 0.4; squares 0.01 + 0.01 + 0.04 = 0.06; std sqrt(0.02) = 0.1414...: 85.86 -> 85
    assert balanced_score([0.5, 0.5, 0.2]) == 85
    # mean 0.5; squares 0.25 + 0.25 + 0 = 0.5; std sqrt(1/6) = 0.408...: 59.18 -> 59
    assert balanced_score([1.0, 0.0, 0.5]) == 59
    # two resources: std is half the difference
    assert balanced_score([0.5, 0.25]) == 87
    # mean 0.625; squares 2 * 0.140625 + 2 * 0.015625 = 0.3125; std sqrt(0.078125) = 0.2795...
    assert balanced_score([0.25, 0.5, 0.75, 1.0]) == 72
    # equal fractions, and no resource at all: perfectly balanced
    assert balanced_score([0.5, 0.5, 0.5]) == 100
    assert balanced_score([]) == 100


def test_a_resource_requested_at_zero_is_not_one_the_pod_waits_for() -> None:
    zero_memory = pod_info(pod("p", cpu="2", memory="0"), DEFAULT_FEATURES)
    event = ClusterEvent(
        kind=EventKind.NODE_UPDATE,
        node=node_info(cpu="4", memory="8Gi"),
        old_node=node_info(cpu="4", memory="1Gi"),
    )
    assert not NodeResourcesFit().queueing_hint(event, zero_memory)


def gpu_pod(name: str, gpus: str, node_name: str = "") -> Pod:
    resources = {"requests": {"cpu": "1", "example.com/gpu": gpus}}
    containers = [{"name": "c", "image": "x", "resources": resources}]
    return pod(name, containers=containers, node_name=node_name)


def test_every_scalar_resource_after_cpu_is_checked() -> None:
    resources = {"requests": {"cpu": "1", "example.com/gpu": "2", "example.com/zeta": "1"}}
    incoming = pod("p", containers=[{"name": "c", "image": "x", "resources": resources}])
    result = report([node("a")], incoming)
    assert verdict(result, "a") == (
        "UnschedulableAndUnresolvable",
        "NodeResourcesFit",
        ["Insufficient example.com/gpu", "Insufficient example.com/zeta"],
    )
    ignore_gpu = profile_with(
        [{"name": "NodeResourcesFit", "args": {"ignoredResources": ["example.com/gpu"]}}]
    )
    result = report([node("a")], incoming, profile=ignore_gpu)
    assert verdict(result, "a")[2] == ["Insufficient example.com/zeta"]


def test_an_extended_resource_fits_exactly_and_a_used_one_is_resolvable() -> None:
    nodes = [node("a", extra={"example.com/gpu": "2"})]
    assert report(nodes, gpu_pod("p", "2"))["feasible"] == ["a"]
    # One of the two is in use: preemption could free it, so the failure is resolvable.
    result = report(nodes, gpu_pod("p", "2"), [gpu_pod("old", "1", node_name="a")])
    assert verdict(result, "a") == (
        "Unschedulable",
        "NodeResourcesFit",
        ["Insufficient example.com/gpu"],
    )


LEAST_WITH_GPU = [
    {
        "name": "NodeResourcesFit",
        "args": {
            "scoringStrategy": {
                "type": "LeastAllocated",
                "resources": [
                    {"name": "cpu", "weight": 1},
                    {"name": "memory", "weight": 1},
                    {"name": "example.com/gpu", "weight": 1},
                    {"name": "ephemeral-storage", "weight": 1},
                ],
            }
        },
    }
]


def test_least_allocated_counts_the_extended_resources_the_pod_requests() -> None:
    profile = profile_with(LEAST_WITH_GPU)
    # Two equal nodes: with one feasible node kube-scheduler does not score at all.
    nodes = [node(name, cpu="4", memory="8Gi", extra={"example.com/gpu": "4"}) for name in "ab"]
    resources = {"requests": {"cpu": "2", "memory": "4Gi", "example.com/gpu": "1"}}
    incoming = pod("p", containers=[{"name": "c", "image": "x", "resources": resources}])
    # cpu (4 - 2) * 100 / 4 = 50, memory 50, gpu (4 - 1) * 100 / 4 = 75; the node offers no
    # ephemeral-storage: left out. (50 + 50 + 75) / 3 = 58
    assert scores(report(nodes, incoming, profile=profile), "NodeResourcesFit")["a"][0] == 58
    # Without a gpu request the gpu is left out: (50 + 50) / 2
    plain = pod("p", cpu="2", memory="4Gi")
    assert scores(report(nodes, plain, profile=profile), "NodeResourcesFit")["a"][0] == 50


def test_least_allocated_counts_the_non_zero_defaults_of_the_nodes_pods() -> None:
    nodes = [node("a", cpu="4", memory="8Gi"), node("b", cpu="4", memory="8Gi")]
    existing = [pod("old", node_name="a")]  # no requests: counts as 100m and 200Mi
    result = report(nodes, pod("p", cpu="1", memory="1Gi"), existing)
    # cpu 4000m - 1100m: 72; memory 8192Mi - 1224Mi: 85; (72 + 85) / 2 = 78
    assert scores(result, "NodeResourcesFit")["a"][0] == 78


def test_balanced_allocation_uses_plain_requests() -> None:
    nodes = [node("a", cpu="4", memory="8Gi"), node("b", cpu="4", memory="8Gi")]
    # cpu 2 of 4, memory not requested (0, not the 200Mi default): std (0.5 - 0) / 2: 75
    cpu_only = report(nodes, pod("p", cpu="2"))
    assert scores(cpu_only, "NodeResourcesBalancedAllocation")["a"][0] == 75
    memory_only = report(nodes, pod("p", memory="4Gi"))
    assert scores(memory_only, "NodeResourcesBalancedAllocation")["a"][0] == 75


def test_balanced_allocation_leaves_out_a_resource_the_node_does_not_offer() -> None:
    profile = profile_with(
        [
            {
                "name": "NodeResourcesBalancedAllocation",
                "args": {
                    "resources": [
                        {"name": "example.com/gpu", "weight": 1},
                        {"name": "cpu", "weight": 1},
                        {"name": "memory", "weight": 1},
                    ]
                },
            }
        ]
    )
    nodes = [node("a", cpu="4", memory="8Gi"), node("b", cpu="4", memory="8Gi")]
    # gpu: not offered, left out; cpu 0.5 and memory 0.25: std 0.125: 87
    result = report(nodes, pod("p", cpu="2", memory="2Gi"), profile=profile)
    assert scores(result, "NodeResourcesBalancedAllocation")["a"][0] == 87


def test_balanced_allocation_counts_the_nodes_pods_by_their_plain_requests() -> None:
    nodes = [node("a", cpu="4", memory="8Gi"), node("b", cpu="4", memory="8Gi")]
    existing = [pod("old", node_name="a")]  # requests nothing: adds 0, not 100m and 200Mi
    result = report(nodes, pod("p", cpu="2"), existing)
    # both nodes: cpu 0.5, memory 0: std 0.25: 75
    assert scores(result, "NodeResourcesBalancedAllocation") == {
        "a": (75, 75, 75),
        "b": (75, 75, 75),
    }


def test_an_ignored_extended_resource_does_not_hold_the_pod_back() -> None:
    resources = {"requests": {"cpu": "1", "example.com/gpu": "1"}}
    wants_gpu = pod_info(
        pod("p", containers=[{"name": "c", "image": "x", "resources": resources}]),
        DEFAULT_FEATURES,
    )
    event = ClusterEvent(kind=EventKind.NODE_ADD, node=node_info(cpu="4"))
    assert not NodeResourcesFit().queueing_hint(event, wants_gpu)
    ignoring = NodeResourcesFit(ignored_resources=frozenset({"example.com/gpu"}))
    assert ignoring.queueing_hint(event, wants_gpu)
    by_group = NodeResourcesFit(ignored_groups=frozenset({"example.com"}))
    assert by_group.queueing_hint(event, wants_gpu)


def test_least_allocated_counts_the_extended_resources_already_in_use() -> None:
    profile = profile_with(LEAST_WITH_GPU)
    nodes = [node(name, cpu="4", memory="8Gi", extra={"example.com/gpu": "4"}) for name in "ab"]
    existing = [gpu_pod("old", "2", node_name="a")]  # cpu 1, gpu 2 (memory: the 200Mi default)
    result = report(nodes, gpu_pod("p", "1"), existing, profile)
    # a: cpu 4000 - 2000: 50; memory 8192Mi - 400Mi: 95; gpu 4 - 3: 25; (50 + 95 + 25) / 3 = 56
    # b: cpu 4000 - 1000: 75; memory 8192Mi - 200Mi: 97; gpu 4 - 1: 75; (75 + 97 + 75) / 3 = 82
    fit = scores(result, "NodeResourcesFit")
    assert (fit["a"][0], fit["b"][0]) == (56, 82)


def test_one_more_unit_of_a_requested_extended_resource_requeues() -> None:
    wants_one = pod_info(gpu_pod("p", "1"), DEFAULT_FEATURES)
    event = ClusterEvent(
        kind=EventKind.NODE_UPDATE,
        node=node_info(cpu="4", extra={"example.com/gpu": "2"}),
        old_node=node_info(cpu="4", extra={"example.com/gpu": "1"}),
    )
    assert NodeResourcesFit().queueing_hint(event, wants_one)


def test_balanced_allocation_caps_an_overcommitted_fraction_at_one() -> None:
    nodes = [node("a", cpu="4", memory="8Gi"), node("b", cpu="4", memory="8Gi")]
    # Bound before the node shrank: 6 cpus on a 4-cpu node. The incoming pod wants no cpu.
    existing = [pod("old", cpu="6", node_name="a")]
    result = report(nodes, pod("p", memory="4Gi"), existing)
    # a: cpu min(1.5, 1) = 1, memory 0.5: std 0.25: 75. b: cpu 0, memory 0.5: 75
    assert scores(result, "NodeResourcesBalancedAllocation")["a"][0] == 75
