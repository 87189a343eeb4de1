"""kubectl v1.32's typed ``create`` generators that send protobuf bodies (service, job, quota,
priorityclass) against ``kubeoracle serve apiserver``, and the singular resource names kubectl
resolves through discovery (``kubectl get priorityclass``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.apiserver.kubectl import Served, kubectl, require_kubectl, serve

pytestmark = [pytest.mark.kubectl]


@pytest.fixture(autouse=True)
def _kubectl_installed() -> None:
    require_kubectl()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve(tmp_path_factory.mktemp("apiserver")) as running:
        yield running


def _ok(served: Served, *args: str) -> str:
    result = kubectl(served, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _get(served: Served, *args: str) -> Any:
    return json.loads(_ok(served, "get", *args, "-o", "json"))


def test_create_service_clusterip_keeps_ports_and_target_ports(served: Served) -> None:
    assert _ok(served, "create", "service", "clusterip", "web", "--tcp=80:8080", "--tcp=443") == (
        "service/web created\n"
    )
    spec = _get(served, "service", "web")["spec"]
    # kubectl names each port "PORT-TARGET" (or "PORT" alone) and, without a target, targets
    # the port itself; it selects app=NAME.
    assert spec["ports"] == [
        {"name": "80-8080", "port": 80, "protocol": "TCP", "targetPort": 8080},
        {"name": "443", "port": 443, "protocol": "TCP", "targetPort": 443},
    ]
    assert (spec["type"], spec["selector"]) == ("ClusterIP", {"app": "web"})


def test_create_service_with_a_named_target_port_and_externalname(served: Served) -> None:
    _ok(served, "create", "service", "clusterip", "named", "--tcp=80:http")
    (port,) = _get(served, "service", "named")["spec"]["ports"]
    assert port["targetPort"] == "http"
    _ok(served, "create", "service", "externalname", "ext", "--external-name=db.example.com")
    spec = _get(served, "service", "ext")["spec"]
    assert (spec["type"], spec["externalName"]) == ("ExternalName", "db.example.com")


def test_create_job_quota_and_priorityclass(served: Served) -> None:
    _ok(served, "create", "job", "once", "--image=busybox", "--", "echo", "hi")
    template = _get(served, "job", "once")["spec"]["template"]["spec"]
    assert template["restartPolicy"] == "Never"  # kubectl create job's choice
    assert template["containers"][0]["command"] == ["echo", "hi"]
    _ok(served, "create", "quota", "q", "--hard=pods=10,cpu=2", "--scopes=NotTerminating")
    assert _get(served, "quota", "q")["spec"] == {
        "hard": {"cpu": "2", "pods": "10"},
        "scopes": ["NotTerminating"],
    }
    _ok(
        served,
        "create",
        "priorityclass",
        "batch-low",
        "--value=10",
        "--description=low",
        "--preemption-policy=Never",
    )
    # "priorityclass" (not only "priorityclasses" or "pc") resolves: kube-apiserver's
    # singularName is the lower-case kind.
    created = _get(served, "priorityclass", "batch-low")
    assert (created["value"], created["description"], created["preemptionPolicy"]) == (
        10,
        "low",
        "Never",
    )


def test_every_singular_name_is_the_lower_case_kind(served: Served) -> None:
    for path in ("/api/v1", "/apis/scheduling.k8s.io/v1", "/apis/discovery.k8s.io/v1"):
        result = kubectl(served, "get", "--raw", path)
        assert result.returncode == 0, result.stderr
        for resource in json.loads(result.stdout)["resources"]:
            if "/" not in resource["name"]:
                assert resource["singularName"] == resource["kind"].lower()
