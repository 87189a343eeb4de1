"""ResourceQuota beyond pods (v1.35's evaluators): object counts (``count/<resource>[.<group>]``
and the legacy core names), the Service names (``services.nodeports``,
``services.loadbalancers``), kube's ``exceeded quota`` messages for each kind, the quota's
``status`` (hard and used) kept by admission, and ``kubectl`` (create refused with kube's
message, ``get quota``'s columns) against the served API server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from impl.apiserver.context import Config
from impl.apiserver.quota import counted_resource, usage
from runner.apiserver.local import LocalApiServer
from runner.apiserver.local_store import LocalStore
from tests.apiserver.kubectl import kubectl, require_kubectl, serve

NS = "/api/v1/namespaces/default"


def quota(server: LocalApiServer, name: str, hard: dict[str, str]) -> dict[str, Any]:
    answer = server.call(
        "POST", f"{NS}/resourcequotas", {"metadata": {"name": name}, "spec": {"hard": hard}}
    )
    assert answer.status == 201, answer.body
    return dict(answer.body)


def service(name: str, kind: str, ports: int, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {
            "type": kind,
            "ports": [{"name": f"p{i}", "port": 80 + i} for i in range(ports)],
            **spec,
        },
    }


def refusal(server: LocalApiServer, path: str, body: dict[str, Any]) -> tuple[int, str]:
    answer = server.call("POST", path, body)
    return answer.status, answer.body.get("message", "")


def test_quota_names_map_to_the_resources_they_count() -> None:
    assert counted_resource("configmaps") == ("", "configmaps")
    assert counted_resource("count/deployments.apps") == ("apps", "deployments")
    assert counted_resource("count/widgets.example.com") == ("example.com", "widgets")
    assert counted_resource("services.nodeports") == ("", "services")
    assert counted_resource("requests.storage") is None
    lb = service("lb", "LoadBalancer", 2)
    assert {k: str(v) for k, v in usage("", "services", lb).items()} == {
        "count/services": "1",
        "services": "1",
        "services.nodeports": "2",
        "services.loadbalancers": "1",
    }
    # without node port allocation only ports that name a nodePort count
    lb["spec"]["allocateLoadBalancerNodePorts"] = False
    lb["spec"]["ports"][0]["nodePort"] = 30001
    assert str(usage("", "services", lb)["services.nodeports"]) == "1"
    assert {k: str(v) for k, v in usage("apps", "deployments", {}).items()} == {
        "count/deployments.apps": "1"
    }


def test_object_counts_are_enforced_with_kubes_message(server: LocalApiServer) -> None:
    quota(server, "q", {"configmaps": "1", "count/secrets": "1", "count/deployments.apps": "1"})
    assert server.call("POST", f"{NS}/configmaps", {"metadata": {"name": "a"}}).status == 201
    assert refusal(server, f"{NS}/configmaps", {"metadata": {"name": "b"}}) == (
        403,
        'configmaps "b" is forbidden: exceeded quota: q, requested: configmaps=1, used: '
        "configmaps=1, limited: configmaps=1",
    )
    assert server.call("POST", f"{NS}/secrets", {"metadata": {"name": "s"}}).status == 201
    assert refusal(server, f"{NS}/secrets", {"metadata": {"name": "t"}})[1] == (
        'secrets "t" is forbidden: exceeded quota: q, requested: count/secrets=1, used: '
        "count/secrets=1, limited: count/secrets=1"
    )
    template = {
        "metadata": {"labels": {"app": "w"}},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
    }
    deployment = {"spec": {"selector": {"matchLabels": {"app": "w"}}, "template": template}}
    apps = "/apis/apps/v1/namespaces/default/deployments"
    assert server.call("POST", apps, {"metadata": {"name": "d1"}, **deployment}).status == 201
    assert refusal(server, apps, {"metadata": {"name": "d2"}, **deployment}) == (
        403,
        'deployments.apps "d2" is forbidden: exceeded quota: q, requested: '
        "count/deployments.apps=1, used: count/deployments.apps=1, limited: "
        "count/deployments.apps=1",
    )
    # other namespaces are not bound by it
    other = "/api/v1/namespaces/kube-public/configmaps"
    assert server.call("POST", other, {"metadata": {"name": "b"}}).status == 201


def test_service_quotas_count_node_ports_and_load_balancers(server: LocalApiServer) -> None:
    quota(server, "svc", {"services.nodeports": "2", "services.loadbalancers": "0"})
    # a ClusterIP Service uses neither
    assert server.call("POST", f"{NS}/services", service("plain", "ClusterIP", 3)).status == 201
    assert refusal(server, f"{NS}/services", service("np", "NodePort", 3)) == (
        403,
        'services "np" is forbidden: exceeded quota: svc, requested: services.nodeports=3, '
        "used: services.nodeports=0, limited: services.nodeports=2",
    )
    assert server.call("POST", f"{NS}/services", service("np", "NodePort", 2)).status == 201
    assert refusal(server, f"{NS}/services", service("lb", "LoadBalancer", 1))[1] == (
        'services "lb" is forbidden: exceeded quota: svc, requested: '
        "services.loadbalancers=1,services.nodeports=1, used: "
        "services.loadbalancers=0,services.nodeports=2, limited: "
        "services.loadbalancers=0,services.nodeports=2"
    )


def test_a_quota_counts_quotas_too(server: LocalApiServer) -> None:
    quota(server, "only", {"resourcequotas": "1"})
    assert refusal(
        server,
        f"{NS}/resourcequotas",
        {"metadata": {"name": "second"}, "spec": {"hard": {"pods": "1"}}},
    ) == (
        403,
        'resourcequotas "second" is forbidden: exceeded quota: only, requested: '
        "resourcequotas=1, used: resourcequotas=1, limited: resourcequotas=1",
    )


def test_status_tracks_hard_and_used(server: LocalApiServer) -> None:
    assert server.call("POST", f"{NS}/configmaps", {"metadata": {"name": "before"}}).status == 201
    created = quota(
        server,
        "q",
        {"configmaps": "5", "count/configmaps": "5", "pods": "3", "requests.storage": "1Gi"},
    )
    # counted at once from what the namespace holds (kube's quota controller does it shortly after)
    assert created["status"] == {
        "hard": {
            "configmaps": "5",
            "count/configmaps": "5",
            "pods": "3",
            "requests.storage": "1Gi",
        },
        "used": {"configmaps": "1", "count/configmaps": "1", "pods": "0"},
    }
    for name in ("a", "b"):
        assert server.call("POST", f"{NS}/configmaps", {"metadata": {"name": name}}).status == 201
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
    assert server.call("POST", f"{NS}/pods", pod).status == 201
    held = server.call("GET", f"{NS}/resourcequotas/q").body
    assert held["status"]["used"] == {"configmaps": "3", "count/configmaps": "3", "pods": "1"}


@pytest.mark.kubectl
def test_kubectl_sees_object_count_quotas(tmp_path: Path) -> None:
    require_kubectl()
    with serve(tmp_path) as served:
        made = kubectl(
            served, "create", "quota", "objects", "--hard=configmaps=1,count/deployments.apps=2"
        )
        assert made.returncode == 0, made.stderr
        assert kubectl(served, "create", "configmap", "a").returncode == 0
        second = kubectl(served, "create", "configmap", "b")
        assert second.returncode == 1
        assert second.stderr.strip() == (
            'error: failed to create configmap: configmaps "b" is forbidden: exceeded quota: '
            "objects, requested: configmaps=1, used: configmaps=1, limited: configmaps=1"
        )
        shown = kubectl(served, "get", "quota")
        assert shown.returncode == 0, shown.stderr
        header, row = shown.stdout.splitlines()
        assert header.split() == ["NAME", "AGE", "REQUEST", "LIMIT"]
        assert row.split()[0] == "objects"
        assert row.split(None, 2)[2].strip() == "configmaps: 1/1, count/deployments.apps: 0/2"


class LaggingStore(LocalStore):
    """The in-process etcd whose watch delivery can be held back, as a real watch lags."""

    def __init__(self) -> None:
        super().__init__()
        self.held = False

    def _flush(self) -> None:
        if not self.held:
            super()._flush()


def test_a_lagging_watch_cache_cannot_overrun_a_quota() -> None:
    """The second create is decided on a cache that has not seen the first: the quota's
    revision guard fails, the retry reads the quota as the store has it, and its
    ``status.used`` (written with the first create) refuses the second."""
    store = LaggingStore()
    server = LocalApiServer(store=store)
    quota(server, "q", {"configmaps": "1"})
    store.held = True
    assert server.call("POST", f"{NS}/configmaps", {"metadata": {"name": "a"}}).status == 201
    assert refusal(server, f"{NS}/configmaps", {"metadata": {"name": "b"}}) == (
        403,
        'configmaps "b" is forbidden: exceeded quota: q, requested: configmaps=1, used: '
        "configmaps=1, limited: configmaps=1",
    )
    store.held = False
    store._flush()
    names = [c["metadata"]["name"] for c in server.call("GET", f"{NS}/configmaps").body["items"]]
    assert names == ["a"]


def test_a_service_update_is_charged_for_what_it_adds(server: LocalApiServer) -> None:
    quota(server, "svc", {"services.nodeports": "2", "services.loadbalancers": "1"})
    assert server.call("POST", f"{NS}/services", service("web", "ClusterIP", 3)).status == 201
    current = server.call("GET", f"{NS}/services/web").body
    current["spec"]["type"] = "NodePort"
    answer = server.call("PUT", f"{NS}/services/web", current)
    assert (answer.status, answer.body["message"]) == (
        403,
        'services "web" is forbidden: exceeded quota: svc, requested: services.nodeports=3, '
        "used: services.nodeports=0, limited: services.nodeports=2",
    )
    current["spec"]["ports"] = current["spec"]["ports"][:2]
    assert server.call("PUT", f"{NS}/services/web", current).status == 200
    used = server.call("GET", f"{NS}/resourcequotas/svc").body["status"]["used"]
    assert used == {"services.nodeports": "2", "services.loadbalancers": "0"}
    # an update that adds nothing is not charged, even at the limit
    labelled = server.call("GET", f"{NS}/services/web").body
    labelled["metadata"]["labels"] = {"tier": "front"}
    assert server.call("PUT", f"{NS}/services/web", labelled).status == 200


def scoped_pod(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "nginx"}], **spec},
    }


def test_a_critical_pods_quota_counts_only_its_priority_classes(config: Config) -> None:
    """The documentation's "limit priority class consumption" quota: a scopeSelector on the
    PriorityClass scope counts (and limits) only pods of those classes."""
    server = LocalApiServer(config=msgspec.structs.replace(config, admission_plugins=("Priority",)))
    critical = ["system-node-critical", "system-cluster-critical"]
    body = {
        "metadata": {"name": "pods-critical"},
        "spec": {
            "hard": {"pods": "1", "count/configmaps": "0"},
            "scopeSelector": {
                "matchExpressions": [
                    {"scopeName": "PriorityClass", "operator": "In", "values": critical}
                ]
            },
        },
    }
    assert server.call("POST", f"{NS}/resourcequotas", body).status == 201
    node = scoped_pod("c1", priorityClassName="system-node-critical")
    assert server.call("POST", f"{NS}/pods", node).status == 201
    cluster = scoped_pod("c2", priorityClassName="system-cluster-critical")
    assert refusal(server, f"{NS}/pods", cluster) == (
        403,
        'pods "c2" is forbidden: exceeded quota: pods-critical, requested: pods=1, used: '
        "pods=1, limited: pods=1",
    )
    # pods of other classes, and other kinds, are outside a scoped quota
    assert server.call("POST", f"{NS}/pods", scoped_pod("plain")).status == 201
    assert server.call("POST", f"{NS}/configmaps", {"metadata": {"name": "cm"}}).status == 201
    used = server.call("GET", f"{NS}/resourcequotas/pods-critical").body["status"]["used"]
    assert used == {"pods": "1", "count/configmaps": "0"}


def test_best_effort_and_terminating_scopes(server: LocalApiServer) -> None:
    quota_body = {
        "metadata": {"name": "be"},
        "spec": {"hard": {"pods": "1"}, "scopes": ["BestEffort"]},
    }
    assert server.call("POST", f"{NS}/resourcequotas", quota_body).status == 201
    term = {
        "metadata": {"name": "term"},
        "spec": {"hard": {"pods": "1"}, "scopes": ["Terminating"]},
    }
    assert server.call("POST", f"{NS}/resourcequotas", term).status == 201
    assert server.call("POST", f"{NS}/pods", scoped_pod("free")).status == 201
    assert refusal(server, f"{NS}/pods", scoped_pod("free2"))[1].startswith(
        'pods "free2" is forbidden: exceeded quota: be,'
    )
    sized = {"resources": {"requests": {"cpu": "100m"}}}
    burstable = {
        "metadata": {"name": "sized"},
        "spec": {"containers": [{"name": "c", "image": "nginx", **sized}]},
    }
    assert server.call("POST", f"{NS}/pods", burstable).status == 201
    deadline = {
        "metadata": {"name": "job1"},
        "spec": {
            "activeDeadlineSeconds": 60,
            "containers": [{"name": "c", "image": "nginx", **sized}],
        },
    }
    assert server.call("POST", f"{NS}/pods", deadline).status == 201
    deadline["metadata"] = {"name": "job2"}
    assert refusal(server, f"{NS}/pods", deadline)[1] == (
        'pods "job2" is forbidden: exceeded quota: term, requested: pods=1, used: pods=1, '
        "limited: pods=1"
    )


def test_removing_an_object_lowers_the_usage(server: LocalApiServer) -> None:
    quota(server, "q", {"configmaps": "2", "pods": "2"})
    for name in ("a", "b"):
        assert server.call("POST", f"{NS}/configmaps", {"metadata": {"name": name}}).status == 201
    assert refusal(server, f"{NS}/configmaps", {"metadata": {"name": "c"}})[0] == 403
    assert server.call("DELETE", f"{NS}/configmaps/a").status == 200
    used = server.call("GET", f"{NS}/resourcequotas/q").body["status"]["used"]
    assert used == {"configmaps": "1", "pods": "0"}
    assert server.call("POST", f"{NS}/configmaps", {"metadata": {"name": "c"}}).status == 201
    # a pod is released when it is removed, not when it is marked for graceful deletion
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
    assert server.call("POST", f"{NS}/pods", pod).status == 201
    assert server.call("DELETE", f"{NS}/pods/p", {"gracePeriodSeconds": 0}).status == 200
    used = server.call("GET", f"{NS}/resourcequotas/q").body["status"]["used"]
    assert used == {"configmaps": "2", "pods": "0"}


def test_a_collection_delete_lowers_the_usage(server: LocalApiServer) -> None:
    quota(server, "q", {"count/configmaps": "5"})
    for name in ("a", "b", "c"):
        assert server.call("POST", f"{NS}/configmaps", {"metadata": {"name": name}}).status == 201
    assert server.call("DELETE", f"{NS}/configmaps").status == 200
    used = server.call("GET", f"{NS}/resourcequotas/q").body["status"]["used"]
    assert used == {"count/configmaps": "0"}
