"""Create and get, as kube-apiserver's generic registry answers them (api-concepts,
``registry/generic/registry/store.go``, ``api/errors``)."""

from __future__ import annotations

import re

from impl.apiserver.context import Config
from models.apiserver.messages import Entropy
from runner.apiserver.local import LocalApiServer
from tests.apiserver.helpers import CONFIGMAPS, PODS, configmap, pod

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def test_create_answers_201_with_the_server_set_fields(server: LocalApiServer) -> None:
    answer = server.call("POST", PODS, pod("p1"))
    assert answer.status == 201
    meta = answer.body["metadata"]
    assert UUID.fullmatch(meta["uid"])
    # SeededEntropy starts its clock at 2026-01-01T00:00:00Z (Unix 1767225600).
    assert meta["creationTimestamp"] == "2026-01-01T00:00:00Z"
    assert meta["resourceVersion"].isdigit()
    assert meta["namespace"] == "default"
    assert answer.body["status"]["phase"] == "Pending"
    assert answer.body["status"]["qosClass"] == "BestEffort"


def test_create_applies_v1_pod_defaults(server: LocalApiServer) -> None:
    spec = server.call("POST", PODS, pod("p1")).body["spec"]
    # pkg/apis/core/v1/defaults.go: SetDefaults_PodSpec and SetDefaults_Container.
    assert spec["restartPolicy"] == "Always"
    assert spec["dnsPolicy"] == "ClusterFirst"
    assert spec["terminationGracePeriodSeconds"] == 30
    assert spec["schedulerName"] == "default-scheduler"
    container = spec["containers"][0]
    assert container["imagePullPolicy"] == "IfNotPresent"  # a tag that is not :latest
    assert container["terminationMessagePath"] == "/dev/termination-log"
    assert container["terminationMessagePolicy"] == "File"


def test_latest_tag_pulls_always(server: LocalApiServer) -> None:
    body = pod("p1")
    body["spec"]["containers"][0]["image"] = "nginx"
    spec = server.call("POST", PODS, body).body["spec"]
    assert spec["containers"][0]["imagePullPolicy"] == "Always"


def test_get_returns_the_created_object(server: LocalApiServer) -> None:
    created = server.call("POST", PODS, pod("p1")).body
    got = server.call("GET", f"{PODS}/p1")
    assert got.status == 200
    assert got.body == created


def test_each_write_gets_a_higher_resource_version(server: LocalApiServer) -> None:
    first = server.call("POST", CONFIGMAPS, configmap("a")).body["metadata"]["resourceVersion"]
    second = server.call("POST", CONFIGMAPS, configmap("b")).body["metadata"]["resourceVersion"]
    assert int(second) > int(first)


def test_configmaps_have_no_generation_but_deployments_start_at_one(
    server: LocalApiServer,
) -> None:
    cm = server.call("POST", CONFIGMAPS, configmap("a")).body
    assert "generation" not in cm["metadata"]
    assert server.call("POST", PODS, pod("p1")).body["metadata"]["generation"] == 1


def test_duplicate_name_is_409_already_exists(server: LocalApiServer) -> None:
    server.call("POST", PODS, pod("p1"))
    answer = server.call("POST", PODS, pod("p1"))
    assert answer.status == 409
    assert answer.body["reason"] == "AlreadyExists"
    assert answer.body["message"] == 'pods "p1" already exists'
    assert answer.body["details"] == {"name": "p1", "kind": "pods"}
    assert answer.body["kind"] == "Status"
    assert answer.body["status"] == "Failure"
    assert answer.body["code"] == 409


def test_group_resources_are_qualified_in_messages(server: LocalApiServer) -> None:
    answer = server.call("GET", "/apis/apps/v1/namespaces/default/deployments/web")
    assert answer.status == 404
    assert answer.body["message"] == 'deployments.apps "web" not found'
    assert answer.body["details"] == {"name": "web", "group": "apps", "kind": "deployments"}


def test_get_missing_is_404_not_found(server: LocalApiServer) -> None:
    answer = server.call("GET", f"{PODS}/nope")
    assert answer.status == 404
    assert answer.body["reason"] == "NotFound"
    assert answer.body["message"] == 'pods "nope" not found'


def test_create_in_a_missing_namespace_is_404(server: LocalApiServer) -> None:
    answer = server.call("POST", "/api/v1/namespaces/nowhere/pods", pod("p1"))
    assert answer.status == 404
    assert answer.body["message"] == 'namespaces "nowhere" not found'


def test_generate_name_appends_five_characters_of_kubes_alphabet(server: LocalApiServer) -> None:
    body = pod("")
    body["metadata"]["generateName"] = "web-"
    answer = server.call("POST", PODS, body)
    assert answer.status == 201
    assert re.fullmatch(r"web-[bcdfghjklmnpqrstvwxz2456789]{5}", answer.body["metadata"]["name"])


def test_generate_name_truncates_the_prefix_to_58_characters(server: LocalApiServer) -> None:
    body = configmap("")
    del body["metadata"]["name"]
    body["metadata"]["generateName"] = "x" * 70
    name = server.call("POST", CONFIGMAPS, body).body["metadata"]["name"]
    assert len(name) == 63
    assert name.startswith("x" * 58)


class FixedSuffixes:
    """Draws whose generated-name candidates are always the same eight."""

    def __init__(self) -> None:
        self.count = 0

    def now_seconds(self) -> int:
        return 1_767_225_600

    def draw(self) -> Entropy:
        self.count += 1
        return Entropy(
            now="2026-01-01T00:00:00Z",
            now_seconds=self.now_seconds(),
            uid=f"00000000-0000-4000-8000-{self.count:012d}",
            name_suffixes=tuple(f"s{index}" for index in range(8)),
        )


def test_generate_name_retries_on_a_collision_up_to_eight_attempts(config: Config) -> None:
    server = LocalApiServer(config=config, entropy=FixedSuffixes())
    body = configmap("")
    del body["metadata"]["name"]
    body["metadata"]["generateName"] = "g-"
    names = [server.call("POST", CONFIGMAPS, body).body["metadata"]["name"] for _ in range(8)]
    assert names == [f"g-s{index}" for index in range(8)]
    answer = server.call("POST", CONFIGMAPS, body)
    assert answer.status == 409
    assert answer.body["reason"] == "AlreadyExists"
    assert answer.body["message"] == (
        'configmaps "g-s7" already exists, the server was not able to generate a unique name '
        "for the object"
    )
    assert answer.body["details"]["retryAfterSeconds"] == 1


def test_name_or_generate_name_is_required(server: LocalApiServer) -> None:
    answer = server.call("POST", CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap"})
    assert answer.status == 422
    assert answer.body["reason"] == "Invalid"
    assert answer.body["message"] == (
        'ConfigMap "" is invalid: metadata.name: Required value: name or generateName is required'
    )


def test_invalid_name_is_422_with_the_dns_subdomain_message(server: LocalApiServer) -> None:
    answer = server.call("POST", CONFIGMAPS, configmap("Bad_Name"))
    assert answer.status == 422
    cause = answer.body["details"]["causes"][0]
    assert cause["field"] == "metadata.name"
    assert cause["reason"] == "FieldValueInvalid"
    assert "a lowercase RFC 1123 subdomain must consist of" in answer.body["message"]


def test_kind_mismatch_is_400(server: LocalApiServer) -> None:
    answer = server.call("POST", CONFIGMAPS, pod("p1"))
    assert answer.status == 400
    assert answer.body["reason"] == "BadRequest"


def test_namespace_mismatch_is_400(server: LocalApiServer) -> None:
    answer = server.call("POST", CONFIGMAPS, configmap("a", namespace="other"))
    assert answer.status == 400
    assert answer.body["message"] == (
        "the namespace of the provided object does not match the namespace sent on the request"
    )


def test_unknown_field_is_refused_under_strict_validation(server: LocalApiServer) -> None:
    body = configmap("a")
    body["spec"] = {"x": 1}
    strict = server.call("POST", CONFIGMAPS, body, query={"fieldValidation": "Strict"})
    assert strict.status == 400
    assert strict.body["message"] == 'strict decoding error: unknown field "spec"'
    warned = server.call("POST", CONFIGMAPS, body)  # Warn is the server's default
    assert warned.status == 201
    assert warned.headers["Warning"] == '299 - "unknown field \\"spec\\""'
    assert "spec" not in warned.body
