"""Decoding and encoding Kubernetes objects: fixtures as kubectl prints them round-trip to equal
JSON, every type round-trips generated data, and bad input names the document, line and field."""

from fractions import Fraction
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from returns.pipeline import is_successful

from models.k8s.apps import Deployment, ReplicaSet
from models.k8s.codec import (
    KINDS,
    decode_data,
    decode_json,
    decode_text,
    decode_yaml,
    encode_json,
    encode_yaml,
    load_yaml_documents,
    to_builtins,
)
from models.k8s.coordination import Lease
from models.k8s.core.namespace import Binding, Event, Namespace
from models.k8s.core.node import Node
from models.k8s.core.pod import Pod
from models.k8s.core.service import Endpoints, Service
from models.k8s.discovery import EndpointSlice
from models.k8s.lists import List
from models.quantity import QuantityFormat
from tests.models.strategies import struct_data

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE_FILES = sorted(path.name for path in FIXTURES.glob("*.yaml"))


def load(name: str) -> tuple[object, ...]:
    return decode_yaml((FIXTURES / name).read_text()).unwrap()


@pytest.mark.parametrize("name", FIXTURE_FILES)
def test_fixture_round_trips_to_equal_json(name: str) -> None:
    text = (FIXTURES / name).read_text()
    expected = [document for document in load_yaml_documents(text).unwrap() if document is not None]
    objects = decode_yaml(text).unwrap()
    assert [to_builtins(value) for value in objects] == expected
    assert [msgspec.json.decode(encode_json(value)) for value in objects] == expected
    again = decode_yaml(encode_yaml(objects)).unwrap()
    assert again == objects


def test_node_fixture_values() -> None:
    (node,) = load("node.yaml")
    assert isinstance(node, Node)
    assert node.meta.name == "kind-control-plane"
    allocatable = node.allocatable()
    assert allocatable["cpu"].milli_value() == 8000
    assert allocatable["memory"].value() == 32567948 * 1024
    assert allocatable["memory"].format is QuantityFormat.BINARY_SI
    assert allocatable["pods"].value() == 110
    taint = node.node_spec.taints[0] if node.node_spec.taints else None
    assert taint is not None
    assert taint.effect == "NoSchedule"
    assert node.node_status.daemon_endpoints is not None
    endpoint = node.node_status.daemon_endpoints.kubelet_endpoint
    assert endpoint is not None
    assert endpoint.port == 10250
    assert node.field_set()["spec.unschedulable"] == "false"


def test_pod_fixture_values() -> None:
    (pod,) = load("pod_pending.yaml")
    assert isinstance(pod, Pod)
    spec = pod.pod_spec
    assert spec.containers is not None
    requests = spec.containers[0].requests()
    assert requests["cpu"].milli_value() == 64_000
    assert requests["memory"].exact == Fraction(2**40)
    assert requests["nvidia.com/gpu"].value() == 1
    assert spec.init_containers is not None
    assert spec.init_containers[0].restart_policy == "Always"
    assert spec.overhead is not None
    assert spec.overhead["cpu"].milli_value() == 250
    constraint = spec.topology_spread_constraints[0] if spec.topology_spread_constraints else None
    assert constraint is not None
    assert constraint.min_domains == 2
    assert spec.affinity is not None
    assert spec.affinity.pod_affinity is not None
    terms = spec.affinity.pod_affinity.required_during_scheduling_ignored_during_execution or ()
    assert terms[0].namespace_selector is not None
    assert terms[0].namespace_selector.match_labels is None
    assert pod.pod_status.conditions is not None
    assert pod.pod_status.conditions[0].last_probe_time is None
    assert pod.field_set()["status.phase"] == "Pending"


def test_running_pod_field_set() -> None:
    (pod,) = load("pod_running.yaml")
    assert isinstance(pod, Pod)
    fields = pod.field_set()
    assert fields["spec.nodeName"] == "kind-control-plane"
    assert fields["status.podIP"] == "10.244.0.3"
    assert fields["metadata.namespace"] == "kube-system"
    assert pod.meta.controller_reference() is not None


def test_unknown_field_is_refused_with_its_path_and_line() -> None:
    text = (FIXTURES / "pod_running.yaml").read_text()
    bad = text.replace("    imagePullPolicy: IfNotPresent", "    imagePullPolicyy: IfNotPresent")
    error = decode_yaml(bad).failure()
    assert error.field == "spec.containers[0].imagePullPolicyy"
    assert (
        error.reason == 'strict decoding error: unknown field "spec.containers[0].imagePullPolicyy"'
    )
    assert bad.splitlines()[error.line - 1].strip().startswith("imagePullPolicyy")
    assert error.document == 1


def test_bad_quantity_names_the_map_key() -> None:
    text = "apiVersion: v1\nkind: Pod\nspec:\n  overhead:\n    cpu: 1x\n"
    error = decode_yaml(text).failure()
    assert error.field == "spec.overhead.cpu"
    assert error.line == 5
    assert error.reason.startswith("cannot parse '1x': quantities must match")


def test_document_index_and_kind_errors() -> None:
    text = "apiVersion: v1\nkind: Pod\n---\n---\napiVersion: v1\nkind: Gadget\n"
    error = decode_yaml(text).failure()
    assert error.document == 3
    assert error.reason == 'no matches for kind "Gadget" in version "v1"'
    assert decode_yaml("kind: Pod\n").failure().reason == "Object 'apiVersion' is missing"
    assert decode_yaml("apiVersion: v1\n").failure().reason == "Object 'Kind' is missing"
    assert decode_yaml("a: [1\n").failure().line == 2
    assert decode_yaml("apiVersion: v1\nkind: Pod\nkind: Node\n").failure().line == 3
    assert "invalid JSON" in decode_json("{").failure().reason


def test_wrong_type_is_reported_at_its_field() -> None:
    error = decode_data({"apiVersion": "v1", "kind": "Pod", "spec": {"priority": "high"}}).failure()
    assert error.field == "spec.priority"
    assert error.reason == "Expected `int | null`, got `str`"


def test_timestamps_stay_text_and_json_is_accepted() -> None:
    text = (
        '{"apiVersion": "v1", "kind": "Node",'
        ' "metadata": {"creationTimestamp": "2024-01-01T00:00:00Z"}}'
    )
    (node,) = decode_text(text).unwrap()
    assert isinstance(node, Node)
    assert node.meta.creation_timestamp == "2024-01-01T00:00:00Z"
    (again,) = decode_yaml(
        "apiVersion: v1\nkind: Node\nmetadata:\n  creationTimestamp: 2024-01-01T00:00:00Z\n"
    ).unwrap()
    assert again == node


def test_objects_are_hashable_and_immutable() -> None:
    (pod,) = load("pod_running.yaml")
    assert isinstance(pod, Pod)
    assert hash(pod) == hash(load("pod_running.yaml")[0])
    with pytest.raises(AttributeError):
        pod.kind = "Node"  # type: ignore[misc,assignment]


@pytest.mark.parametrize("key", sorted(KINDS), ids=lambda key: f"{key[0]}/{key[1]}")
@settings(max_examples=12)
@given(data=st.data())
def test_every_kind_round_trips_generated_json(key: tuple[str, str], data: st.DataObject) -> None:
    api_version, kind = key
    document = {**data.draw(struct_data(KINDS[key])), "apiVersion": api_version, "kind": kind}
    decoded = decode_data(document)
    assert is_successful(decoded), decoded
    assert to_builtins(decoded.unwrap()) == document
    assert decode_data(to_builtins(decoded.unwrap())).unwrap() == decoded.unwrap()


def test_deployment_and_replicaset_fixture_values() -> None:
    (deployment,) = load("deployment.yaml")
    assert isinstance(deployment, Deployment)
    assert deployment.spec is not None
    assert deployment.spec.strategy is not None
    rolling = deployment.spec.strategy.rolling_update
    assert rolling is not None
    assert rolling.max_surge == "25%"
    assert rolling.max_unavailable == 1
    assert deployment.spec.template is not None
    assert deployment.spec.template.metadata is not None
    assert deployment.spec.template.metadata.creation_timestamp is None
    (replica_set,) = load("replicaset.yaml")
    assert isinstance(replica_set, ReplicaSet)
    owner = replica_set.metadata.controller_reference() if replica_set.metadata else None
    assert owner is not None
    assert owner.kind == "Deployment"


def test_service_types_and_endpoints() -> None:
    services = load("services.yaml")
    assert all(isinstance(service, Service) for service in services)
    types = [
        service.spec.type for service in services if isinstance(service, Service) and service.spec
    ]
    assert types == ["ClusterIP", "NodePort", "LoadBalancer"]
    node_port = services[1]
    assert isinstance(node_port, Service)
    assert node_port.spec is not None
    assert node_port.spec.ports is not None
    assert node_port.spec.ports[0].target_port == "http"
    endpoints, endpoint_slice = load("endpoints.yaml")
    assert isinstance(endpoints, Endpoints)
    assert isinstance(endpoint_slice, EndpointSlice)
    assert endpoint_slice.endpoints is not None
    conditions = endpoint_slice.endpoints[1].conditions
    assert conditions is not None
    assert conditions.ready is False


def test_list_items_decode_by_kind() -> None:
    (listing,) = load("list_nodes_pods.yaml")
    assert isinstance(listing, List)
    assert listing.items is not None
    assert [type(item) for item in listing.items] == [Node, Pod, Pod]
    assert listing.metadata is not None
    assert listing.metadata.resource_version == ""
    text = (FIXTURES / "list_nodes_pods.yaml").read_text()
    bad = text.replace("  - ip: 10.244.0.3", "  - ipp: 10.244.0.3")
    error = decode_yaml(bad).failure()
    assert error.field == "items[1].status.podIPs[0].ipp"
    assert bad.splitlines()[error.line - 1].strip() == "- ipp: 10.244.0.3"


def test_misc_kinds() -> None:
    namespace, event, lease, binding = load("cluster_misc.yaml")
    assert isinstance(namespace, Namespace)
    assert isinstance(event, Event)
    assert event.event_time is None
    assert event.reporting_instance == ""
    assert isinstance(lease, Lease)
    assert lease.spec is not None
    assert lease.spec.lease_duration_seconds == 40
    assert isinstance(binding, Binding)
    assert binding.target is not None
    assert binding.target.name == "kind-worker"


def test_null_is_kept_in_opaque_subtrees_and_timestamps_and_absent_elsewhere() -> None:
    document = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"creationTimestamp": None},
        "spec": {"volumes": None, "containers": [{"name": "a", "env": None, "resources": {}}]},
        "status": {"startTime": None, "conditions": [{"type": "Ready", "lastProbeTime": None}]},
    }
    decoded = decode_data(document).unwrap()
    expected = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"creationTimestamp": None},
        "spec": {"volumes": None, "containers": [{"name": "a", "env": None, "resources": {}}]},
        # startTime is a pointer in Go: null decodes to nil and is omitted, as here
        "status": {"conditions": [{"type": "Ready", "lastProbeTime": None}]},
    }
    assert to_builtins(decoded) == expected
