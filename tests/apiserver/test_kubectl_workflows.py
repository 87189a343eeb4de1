"""kubectl v1.32 against ``kubeoracle serve apiserver``, the rest of issue 13's commands:
server-side apply, get -w, --chunk-size, describe, edit through KUBE_EDITOR, delete --cascade,
explain and wait. One server for the module."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.apiserver.kubectl import KUBECTL, STORES, Served, kubectl, require_kubectl, serve_on

pytestmark = [
    pytest.mark.kubectl,
]


@pytest.fixture(autouse=True)
def _kubectl_installed() -> None:
    require_kubectl()


DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers: [{{name: c, image: "nginx:1.27"}}]
"""


@pytest.fixture(scope="module", params=STORES)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    with serve_on(request.param, tmp_path_factory.mktemp("apiserver")) as running:
        yield running


def _ok(served: Served, *args: str, stdin: str | None = None, **env: str) -> str:
    result = kubectl(served, *args, stdin=stdin, env=env or None)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _get(served: Served, *args: str) -> dict[str, object]:
    return json.loads(_ok(served, "get", *args, "-o", "json"))  # type: ignore[no-any-return]


def _deploy(served: Served, name: str, replicas: int = 1) -> None:
    _ok(served, "apply", "-f", "-", stdin=DEPLOYMENT.format(name=name, replicas=replicas))


def test_server_side_apply_and_its_conflicts(served: Served) -> None:
    manifest = DEPLOYMENT.format(name="ssa", replicas=2)
    assert _ok(served, "apply", "--server-side", "-f", "-", stdin=manifest) == (
        "deployment.apps/ssa serverside-applied\n"
    )
    _ok(served, "scale", "deployment", "ssa", "--replicas=3")
    conflict = kubectl(served, "apply", "--server-side", "-f", "-", stdin=manifest)
    assert conflict.returncode == 1
    # kubectl scale patches /scale with no fieldManager: the manager is kubectl's user agent.
    assert conflict.stderr.splitlines()[0] == (
        'error: Apply failed with 1 conflict: conflict with "kubectl" with subresource "scale" '
        "using apps/v1: .spec.replicas"
    )
    forced = _ok(served, "apply", "--server-side", "--force-conflicts", "-f", "-", stdin=manifest)
    assert forced == "deployment.apps/ssa serverside-applied\n"
    assert _get(served, "deploy", "ssa")["spec"]["replicas"] == 2  # type: ignore[index]


def test_get_watch_prints_the_list_then_each_event(served: Served) -> None:
    _ok(served, "create", "configmap", "watched-0")
    command = [
        KUBECTL, "--kubeconfig", str(served.kubeconfig), "--cache-dir", str(served.cache),
        "get", "configmaps", "-w", "--output-watch-events",
        "--field-selector", "metadata.name!=kube-root-ca.crt",
    ]  # fmt: skip
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as watcher:
        assert watcher.stdout is not None
        header = watcher.stdout.readline().split()
        first = watcher.stdout.readline().split()
        _ok(served, "create", "configmap", "watched-1")
        _ok(served, "delete", "configmap", "watched-0")
        added = watcher.stdout.readline().split()
        deleted = watcher.stdout.readline().split()
        watcher.terminate()
    assert header == ["EVENT", "NAME", "DATA", "AGE"]
    assert first[:3] == ["ADDED", "watched-0", "0"]
    assert added[:3] == ["ADDED", "watched-1", "0"]
    assert deleted[:2] == ["DELETED", "watched-0"]


def test_chunk_size_pages_through_every_item(served: Served, tmp_path: Path) -> None:
    for index in range(5):
        _ok(served, "create", "configmap", f"chunk-{index}", "--from-literal=k=v")
    names = _ok(served, "get", "configmaps", "--chunk-size=2", "-o", "name").split()
    chunked = sorted(name for name in names if name.startswith("configmap/chunk-"))
    assert chunked == [f"configmap/chunk-{index}" for index in range(5)]
    log = (served.kubeconfig.parent / "server.log").read_text()
    assert "limit=2&continue=" in log or "continue=" in log


def test_describe(served: Served) -> None:
    _ok(served, "create", "configmap", "described", "--from-literal=color=blue")
    text = _ok(served, "describe", "configmap", "described")
    fields = [line.split(None, 1) for line in text.splitlines() if ":" in line]
    assert ["Name:", "described"] in fields
    assert ["Namespace:", "default"] in fields
    assert "color:\n----\nblue" in text
    assert "Events:  <none>" in text


def test_edit_through_kube_editor(served: Served) -> None:
    _deploy(served, "edited")
    editor = "sed -i s/nginx:1.27/nginx:1.28/"
    assert _ok(served, "edit", "deployment", "edited", KUBE_EDITOR=editor) == (
        "deployment.apps/edited edited\n"
    )
    spec = _get(served, "deploy", "edited")["spec"]
    assert spec["template"]["spec"]["containers"][0]["image"] == "nginx:1.28"  # type: ignore[index]


@pytest.mark.parametrize(
    ("cascade", "finalizer"), [("foreground", "foregroundDeletion"), ("orphan", "orphan")]
)
def test_delete_cascade_policies_set_their_finalizer(
    served: Served, cascade: str, finalizer: str
) -> None:
    name = f"cascade-{cascade}"
    _deploy(served, name)
    deleted = _ok(served, "delete", "deployment", name, f"--cascade={cascade}", "--wait=false")
    assert deleted == f'deployment.apps "{name}" deleted\n'
    meta = _get(served, "deploy", name)["metadata"]
    assert meta["finalizers"] == [finalizer]  # type: ignore[index]
    assert "deletionTimestamp" in meta  # type: ignore[operator]


def test_delete_cascade_background_removes_at_once(served: Served) -> None:
    _deploy(served, "cascade-background")
    assert _ok(served, "delete", "deployment", "cascade-background", "--cascade=background") == (
        'deployment.apps "cascade-background" deleted\n'
    )
    assert kubectl(served, "get", "deployment", "cascade-background").returncode == 1


def test_explain_reads_the_openapi_schema(served: Served) -> None:
    text = _ok(served, "explain", "pods.spec.restartPolicy")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    assert lines[:3] == ["KIND:       Pod", "VERSION:    v1", "FIELD: restartPolicy <string>"]
    assert lines[3:5] == ["DESCRIPTION:", "Always, OnFailure or Never (default Always)."]
    deployment = _ok(served, "explain", "deployment.spec")
    assert "FIELD: spec <DeploymentSpec>" in deployment
    assert "replicas\t<integer>" in deployment
    # A field that refers to another schema keeps its own description (allOf in OpenAPI v3).
    assert "The desired state, written by users and controllers." in deployment
    finalizers = _ok(served, "explain", "configmaps.metadata.finalizers")
    assert "Keys that must all be removed before the object is deleted" in finalizers


def test_wait_for_jsonpath_and_condition(served: Served) -> None:
    _deploy(served, "waited", replicas=3)
    met = _ok(served, "wait", "--for=jsonpath={.spec.replicas}=3", "deploy/waited", "--timeout=10s")
    assert met == "deployment.apps/waited condition met\n"
    status = '{"status":{"conditions":[{"type":"Available","status":"True"}]}}'
    _ok(served, "patch", "deploy", "waited", "--subresource=status", "--type=merge", "-p", status)
    started = time.monotonic()
    available = _ok(served, "wait", "--for=condition=Available", "deploy/waited", "--timeout=10s")
    assert available == "deployment.apps/waited condition met\n"
    assert time.monotonic() - started < 10
    timed_out = kubectl(
        served, "wait", "--for=condition=Progressing", "deploy/waited", "--timeout=1s"
    )
    assert timed_out.returncode == 1
    assert timed_out.stderr.strip() == (
        "error: timed out waiting for the condition on deployments/waited"
    )
