"""kubectl v1.32 against ``kubeoracle serve apiserver``: the commands of issue 13 with the output
kube-apiserver gives them (messages from kube's sources and kubectl's printers; see
docs/apiserver.md for where each comes from). One server for the module."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from models.etcd import RangeRequest, RangeResponse
from runner.etcd.client import EtcdGatewayClient
from tests.apiserver.kubectl import STORES, Served, kubectl, require_kubectl, serve, serve_on

pytestmark = [
    pytest.mark.kubectl,
]


@pytest.fixture(autouse=True)
def _kubectl_installed() -> None:
    require_kubectl()


DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels: {{app: {name}}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers:
      - name: c
        image: nginx:1.27
"""

POD = """\
apiVersion: v1
kind: Pod
metadata: {{name: {name}, labels: {{tier: {tier}}}}}
spec:
  containers: [{{name: c, image: "nginx:1.27"}}]
"""


@pytest.fixture(scope="module", params=STORES)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    with serve_on(request.param, tmp_path_factory.mktemp("apiserver")) as running:
        yield running


def _ok(served: Served, *args: str, stdin: str | None = None) -> str:
    result = kubectl(served, *args, stdin=stdin)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _json(served: Served, *args: str) -> dict[str, object]:
    return json.loads(_ok(served, *args, "-o", "json"))  # type: ignore[no-any-return]


def _rows(table: str) -> list[list[str]]:
    return [line.split() for line in table.strip().splitlines()]


def test_create_and_get_yaml_and_json(served: Served, tmp_path: Path) -> None:
    manifest = tmp_path / "web.yaml"
    manifest.write_text(DEPLOYMENT.format(name="web"))
    assert _ok(served, "create", "-f", str(manifest)) == "deployment.apps/web created\n"
    as_json = _json(served, "get", "deployment", "web")
    assert as_json["kind"] == "Deployment"
    assert as_json["spec"]["replicas"] == 2  # type: ignore[index]
    as_yaml = _ok(served, "get", "deploy/web", "-o", "yaml")
    assert "kind: Deployment" in as_yaml
    assert "  name: web\n" in as_yaml
    again = kubectl(served, "create", "-f", str(manifest))
    assert again.returncode == 1
    assert again.stderr.strip() == (
        f'Error from server (AlreadyExists): error when creating "{manifest}": '
        'deployments.apps "web" already exists'
    )


def test_get_missing_prints_not_found(served: Served) -> None:
    result = kubectl(served, "get", "pod", "nope")
    assert result.returncode == 1
    assert result.stderr.strip() == 'Error from server (NotFound): pods "nope" not found'


def test_get_wide_shows_the_priority_columns(served: Served) -> None:
    _ok(served, "apply", "-f", "-", stdin=POD.format(name="wide", tier="a"))
    rows = _rows(_ok(served, "get", "pod", "wide", "-o", "wide"))
    # pkg/printers/internalversion/printers.go, podColumnDefinitions (wide adds IP onwards).
    assert rows[0] == [
        "NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED", "NODE",
        "READINESS", "GATES",
    ]  # fmt: skip
    assert rows[1][:4] == ["wide", "0/1", "Pending", "0"]
    assert rows[1][5:] == ["<none>", "<none>", "<none>", "<none>"]


def test_apply_creates_then_configures(served: Served) -> None:
    first = _ok(served, "apply", "-f", "-", stdin=DEPLOYMENT.format(name="applied"))
    assert first == "deployment.apps/applied created\n"
    live = _json(served, "get", "deploy", "applied")
    annotations = live["metadata"]["annotations"]  # type: ignore[index]
    assert "kubectl.kubernetes.io/last-applied-configuration" in annotations
    same = _ok(served, "apply", "-f", "-", stdin=DEPLOYMENT.format(name="applied"))
    assert same == "deployment.apps/applied unchanged\n"
    changed = DEPLOYMENT.format(name="applied").replace("replicas: 2", "replicas: 4")
    assert _ok(served, "apply", "-f", "-", stdin=changed) == "deployment.apps/applied configured\n"
    assert _json(served, "get", "deploy", "applied")["spec"]["replicas"] == 4  # type: ignore[index]


def test_label_and_field_selectors(served: Served) -> None:
    for name, tier in (("sel-a", "front"), ("sel-b", "back"), ("sel-c", "front")):
        _ok(served, "apply", "-f", "-", stdin=POD.format(name=name, tier=tier))
    front = _ok(served, "get", "pods", "-l", "tier=front", "-o", "name")
    assert front.split() == ["pod/sel-a", "pod/sel-c"]
    by_name = _ok(served, "get", "pods", "--field-selector", "metadata.name=sel-b", "-o", "name")
    assert by_name.split() == ["pod/sel-b"]
    bad = kubectl(served, "get", "pods", "--field-selector", "spec.nope=x")
    assert bad.returncode == 1
    assert "field label not supported: spec.nope" in bad.stderr


def test_label_annotate_and_three_patch_types(served: Served) -> None:
    _ok(served, "apply", "-f", "-", stdin=POD.format(name="patched", tier="x"))
    assert _ok(served, "label", "pod", "patched", "a=b") == "pod/patched labeled\n"
    assert _ok(served, "annotate", "pod", "patched", "note=hi") == "pod/patched annotated\n"
    strategic = '{"spec":{"containers":[{"name":"c","image":"nginx:1.28"}]}}'
    assert _ok(served, "patch", "pod", "patched", "-p", strategic) == "pod/patched patched\n"
    merge = '{"metadata":{"labels":{"m":"1"}}}'
    _ok(served, "patch", "pod", "patched", "--type=merge", "-p", merge)
    ops = '[{"op":"add","path":"/metadata/labels/j","value":"2"}]'
    _ok(served, "patch", "pod", "patched", "--type=json", "-p", ops)
    pod = _json(served, "get", "pod", "patched")
    assert pod["metadata"]["labels"] == {"tier": "x", "a": "b", "m": "1", "j": "2"}  # type: ignore[index]
    assert pod["metadata"]["annotations"]["note"] == "hi"  # type: ignore[index]
    assert pod["spec"]["containers"][0]["image"] == "nginx:1.28"  # type: ignore[index]
    unchanged = _ok(served, "patch", "pod", "patched", "--type=merge", "-p", merge)
    assert unchanged == "pod/patched patched (no change)\n"


def test_scale(served: Served) -> None:
    _ok(served, "apply", "-f", "-", stdin=DEPLOYMENT.format(name="scaled"))
    assert _ok(served, "scale", "deployment", "scaled", "--replicas=5") == (
        "deployment.apps/scaled scaled\n"
    )
    assert _json(served, "get", "deploy", "scaled")["spec"]["replicas"] == 5  # type: ignore[index]


def test_replace_with_a_stale_resource_version_conflicts(served: Served, tmp_path: Path) -> None:
    _ok(served, "apply", "-f", "-", stdin=POD.format(name="stale", tier="x"))
    snapshot = tmp_path / "stale.yaml"
    snapshot.write_text(_ok(served, "get", "pod", "stale", "-o", "yaml"))
    _ok(served, "label", "pod", "stale", "moved=yes")
    result = kubectl(served, "replace", "-f", str(snapshot))
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f'Error from server (Conflict): error when replacing "{snapshot}": Operation cannot be '
        'fulfilled on pods "stale": the object has been modified; please apply your changes to '
        "the latest version and try again"
    )


def test_delete(served: Served) -> None:
    _ok(served, "apply", "-f", "-", stdin=POD.format(name="doomed", tier="x"))
    assert _ok(served, "delete", "pod", "doomed") == 'pod "doomed" deleted\n'
    gone = kubectl(served, "get", "pod", "doomed")
    assert gone.stderr.strip() == 'Error from server (NotFound): pods "doomed" not found'


def test_create_configmap_from_literals(served: Served) -> None:
    created = _ok(served, "create", "configmap", "lit", "--from-literal=a=1", "--from-literal=b=2")
    assert created == "configmap/lit created\n"
    assert _json(served, "get", "configmap", "lit")["data"] == {"a": "1", "b": "2"}
    rows = _rows(_ok(served, "get", "configmap", "lit"))
    assert rows[0] == ["NAME", "DATA", "AGE"]
    assert rows[1][:2] == ["lit", "2"]


def test_api_resources(served: Served) -> None:
    rows = _rows(_ok(served, "api-resources"))
    assert rows[0] == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    listed = {tuple(row) for row in rows[1:]}
    assert ("pods", "po", "v1", "true", "Pod") in listed
    assert ("deployments", "deploy", "apps/v1", "true", "Deployment") in listed
    assert ("namespaces", "ns", "v1", "false", "Namespace") in listed
    assert ("leases", "coordination.k8s.io/v1", "true", "Lease") in listed
    assert ("statefulsets", "sts", "apps/v1", "true", "StatefulSet") in listed
    pdb = ("poddisruptionbudgets", "pdb", "policy/v1", "true", "PodDisruptionBudget")
    assert pdb in listed


def test_create_deployment_sends_protobuf(served: Served) -> None:
    # kubectl's typed client posts the Deployment as protobuf; the container is named after
    # the image, the labels are app=<name>, the port becomes containerPort.
    created = _ok(served, "create", "deployment", "gen", "--image=nginx:1.27", "--port=80",
                  "--replicas=2")  # fmt: skip
    assert created == "deployment.apps/gen created\n"
    spec: dict[str, object] = _json(served, "get", "deployment", "gen")["spec"]  # type: ignore[assignment]
    assert spec["replicas"] == 2
    assert spec["selector"] == {"matchLabels": {"app": "gen"}}
    template: dict[str, object] = spec["template"]  # type: ignore[assignment]
    container = template["spec"]["containers"][0]  # type: ignore[index]
    assert (container["name"], container["image"]) == ("nginx", "nginx:1.27")
    assert container["ports"] == [{"containerPort": 80, "protocol": "TCP"}]


def test_one_log_line_per_request_and_a_clean_stop(tmp_path: Path) -> None:
    with serve(tmp_path) as running:
        _ok(running, "get", "namespaces")
    assert running.process.returncode == 0
    log = (tmp_path / "server.log").read_text().splitlines()
    requests = [line for line in log if line.startswith("HTTP verb=")]
    assert any(
        'URI="/api/v1/namespaces?limit=500"' in line and "resp=200" in line for line in requests
    )
    assert all("userAgent=" in line and "latency=" in line for line in requests)
    assert log[-1] == "kubeoracle serve apiserver: stopped"
    assert "Traceback" not in "\n".join(log)


def test_objects_are_stored_under_kubes_keys_as_json(tmp_path: Path) -> None:
    with serve_on("real-etcd", tmp_path) as served:
        _check_stored_configmap(served)


def _check_stored_configmap(served: Served) -> None:
    _ok(served, "create", "configmap", "stored", "--from-literal=k=v")
    found = EtcdGatewayClient(served.etcd).range(
        RangeRequest(key=b"/registry/configmaps/default/stored")
    )
    assert isinstance(found, RangeResponse)
    [kv] = found.kvs
    value = json.loads(kv.value)
    assert value["kind"] == "ConfigMap"
    assert value["data"] == {"k": "v"}
    assert "resourceVersion" not in value["metadata"]  # it is the key's mod_revision
    live = _json(served, "get", "configmap", "stored")
    assert live["metadata"]["resourceVersion"] == str(kv.mod_revision)  # type: ignore[index]
