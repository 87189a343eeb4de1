"""The kubelet's container and node events (``impl.kubelet.recorder``) over real kubelet runs
on the simulated runtime: the reasons and messages of kubelet v1.35, in the order it records
them."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from impl.kubelet.recorder import node_events, pull_policy, recorded
from models.k8s.core.node import NodeCondition
from models.k8s.core.pod import Container, Pod
from models.kubelet.events import (
    PodObserved,
    RegisterNode,
    RunPreStop,
    StartContainer,
    StopContainer,
    UpdateNodeStatus,
)
from models.kubelet.recorded import RecordedEvent
from runner.kubelet import pump
from tests.kubelet.harness import Harness, make_pod

APP = "sim.kubeoracle.io/app."


class Recording(Harness):
    """The harness, with every event the kubelet records (images pulled remembered)."""

    def __init__(self, present: frozenset[str] = frozenset()) -> None:
        self.events: list[RecordedEvent] = []
        self.images = set(present)
        super().__init__()

    def _take(self, pumped: pump.Pumped) -> None:
        super()._take(pumped)
        for item in pumped.log:
            self.events.extend(recorded("node-0", pumped.state, item, frozenset(self.images)))
            if isinstance(item, StartContainer) and item.container.image:
                self.images.add(item.container.image)

    def seen(self) -> list[tuple[str, str, str]]:
        return [(e.field_path, e.reason, e.message) for e in self.events]


def _deleting(pod: Pod, grace: int) -> Pod:
    meta = msgspec.structs.replace(
        pod.meta, deletion_timestamp="2027-01-15T08:00:10Z", deletion_grace_period_seconds=grace
    )
    return msgspec.structs.replace(pod, metadata=meta)


def _container(image: str, policy: str | None = None) -> Container:
    return msgspec.convert(
        {"name": "c", "image": image, **({"imagePullPolicy": policy} if policy else {})},
        Container,
    )


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("registry.local:5000/team/nginx", "Always"),
        ("nginx:1.27", "IfNotPresent"),
        ("registry.local:5000/nginx:1.27", "IfNotPresent"),
        ("nginx@sha256:" + "a" * 64, "IfNotPresent"),
    ],
)
def test_pull_policy_defaults_as_the_api_does(image: str, policy: str) -> None:
    # SetDefaults_Container: Always for the latest tag (given or implied), else IfNotPresent
    assert pull_policy(_container(image)) == policy


def test_an_explicit_pull_policy_wins() -> None:
    assert pull_policy(_container("nginx", "Never")) == "Never"


def test_a_started_container_is_pulled_created_and_started_in_that_order() -> None:
    harness = Recording()
    harness.add(make_pod("web", {"containers": [{"name": "nginx", "image": "nginx"}]}))
    harness.run(2)
    path = "spec.containers{nginx}"
    assert harness.seen() == [
        (path, "Pulling", 'Pulling image "nginx"'),
        (
            path,
            "Pulled",
            'Successfully pulled image "nginx" in 0s (0s including waiting). Image size: 0 bytes.',
        ),
        (path, "Created", "Container created"),
        (path, "Started", "Container started"),
    ]
    event = harness.events[0]
    assert (event.node, event.namespace, event.name, event.uid, event.type) == (
        "node-0",
        "default",
        "web",
        "uid-web",
        "Normal",
    )


def test_a_present_image_is_not_pulled_unless_the_policy_says_always() -> None:
    spec: dict[str, Any] = {
        "containers": [
            {"name": "a", "image": "nginx:1.27", "imagePullPolicy": "IfNotPresent"},
            {"name": "b", "image": "nginx:1.27", "imagePullPolicy": "Always"},
        ]
    }
    harness = Recording(present=frozenset({"nginx:1.27"}))
    harness.add(make_pod("web", spec))
    harness.run(2)
    pulls = [(path, reason, message) for path, reason, message in harness.seen()
             if reason in ("Pulling", "Pulled")]  # fmt: skip
    present = (
        'Container image "nginx:1.27" already present on machine and can be accessed by the pod'
    )
    assert ("spec.containers{a}", "Pulled", present) in pulls
    assert ("spec.containers{b}", "Pulling", 'Pulling image "nginx:1.27"') in pulls
    assert [p for p in pulls if p[0] == "spec.containers{a}"] == [
        ("spec.containers{a}", "Pulled", present)
    ]


def test_an_image_pulled_once_is_present_for_the_next_pod() -> None:
    spec = {"containers": [{"name": "c", "image": "busybox:1.36"}]}
    harness = Recording()
    harness.add(make_pod("one", spec))
    harness.run(2)
    harness.add(make_pod("two", spec))
    harness.run(2)
    reasons = [(e.name, e.reason) for e in harness.events if e.reason.startswith("Pull")]
    assert reasons == [("one", "Pulling"), ("one", "Pulled"), ("two", "Pulled")]


def test_init_containers_are_named_by_their_field_path() -> None:
    spec = {
        "initContainers": [{"name": "setup", "image": "busybox:1.36"}],
        "containers": [{"name": "app", "image": "busybox:1.36"}],
    }
    harness = Recording()
    harness.add(make_pod("p", spec, {"sim.kubeoracle.io/setup.run-seconds": "1"}))
    harness.run(5)
    started = [e.field_path for e in harness.events if e.reason == "Started"]
    assert started == ["spec.initContainers{setup}", "spec.containers{app}"]


def test_deletion_records_one_killing_even_when_sigkill_follows() -> None:
    harness = Recording()
    pod = make_pod("p", {"containers": [{"name": "app", "image": "x:1"}]},
                   {APP + "stop-seconds": "100"})  # fmt: skip
    harness.add(pod)
    harness.run(3)
    harness.feed(PodObserved(pod=_deleting(pod, 5)))
    harness.run(10)
    killing = [m for _, reason, m in harness.seen() if reason == "Killing"]
    assert killing == ["Stopping container app"]


def test_a_prestop_hook_gets_killing_when_it_begins_and_not_again_at_sigterm() -> None:
    spec = {
        "containers": [
            {
                "name": "app",
                "image": "x:1",
                "lifecycle": {"preStop": {"exec": {"command": ["true"]}}},
            }
        ]
    }
    harness = Recording()
    pod = make_pod("p", spec, {APP + "prestop-seconds": "3"})
    harness.add(pod)
    harness.run(3)
    harness.feed(PodObserved(pod=_deleting(pod, 30)))
    harness.run(1)
    # the hook runs (3 s); no SIGTERM yet, and Killing is already recorded
    assert harness.of_type(RunPreStop)
    assert harness.of_type(StopContainer) == []
    assert [e.reason for e in harness.events].count("Killing") == 1
    harness.run(10)
    assert [s.signal for s in harness.of_type(StopContainer)] == ["SIGTERM"]
    assert [e.reason for e in harness.events].count("Killing") == 1


def _conditions(**statuses: str) -> tuple[NodeCondition, ...]:
    return tuple(NodeCondition(type=kind, status=status) for kind, status in statuses.items())


def test_a_started_kubelet_records_starting_its_conditions_then_ready() -> None:
    after = _conditions(MemoryPressure="False", DiskPressure="False", PIDPressure="False",
                        Ready="True")  # fmt: skip
    events = node_events("node-0", None, after)
    assert [(e.reason, e.message) for e in events] == [
        ("Starting", "Starting kubelet."),
        ("NodeHasSufficientMemory", "Node node-0 status is now: NodeHasSufficientMemory"),
        ("NodeHasNoDiskPressure", "Node node-0 status is now: NodeHasNoDiskPressure"),
        ("NodeHasSufficientPID", "Node node-0 status is now: NodeHasSufficientPID"),
        ("NodeAllocatableEnforced", "Updated Node Allocatable limit across pods"),
        ("NodeReady", "Node node-0 status is now: NodeReady"),
    ]
    # the node, in default, with its name as UID (the kubelet's node reference)
    assert {(e.kind, e.namespace, e.name, e.uid, e.field_path) for e in events} == {
        ("Node", "default", "node-0", "node-0", "")
    }


def test_only_a_changed_condition_is_recorded_again() -> None:
    before = _conditions(MemoryPressure="False", Ready="True")
    assert node_events("n", before, before) == ()
    pressed = _conditions(MemoryPressure="True", Ready="False")
    assert [e.reason for e in node_events("n", before, pressed)] == [
        "NodeHasInsufficientMemory",
        "NodeNotReady",
    ]


def test_a_kubelet_run_records_node_events_once_per_start() -> None:
    # the kubelet's own statuses, as the fleet sees them: the registration, then updates
    harness = Harness()
    harness.run(30)
    posted = [c.node.status for c in harness.of_type(RegisterNode)]
    posted += [c.status for c in harness.of_type(UpdateNodeStatus)]
    reasons: list[str] = []
    before: tuple[NodeCondition, ...] | None = None
    for status in posted:
        after = status.conditions or ()
        reasons += [e.reason for e in node_events("node-0", before, after)]
        before = after
    assert reasons.count("Starting") == 1
    assert reasons.count("NodeReady") == 1
    assert len(posted) > 1  # later statuses were posted and recorded nothing new
