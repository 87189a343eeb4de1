"""The node lifecycle and taint-eviction controllers (node_lifecycle_controller.go,
tainteviction, v1.35). Expected values come from the docs: "Nodes" (node controller: heartbeats
through Lease objects in kube-node-lease, Ready becomes Unknown after node-monitor-grace-period,
50 s since v1.32, checked every node-monitor-period 5 s; "if all nodes in a zone are
unhealthy ... the node controller ... stops evicting"), "Taints and Tolerations" (taint based
evictions: node.kubernetes.io/unreachable and not-ready with NoExecute; a pod without a
matching toleration is evicted at once, one with tolerationSeconds after that long, one
without tolerationSeconds stays) and "Pod Lifecycle" (pods on an unreachable node become not
ready)."""

from __future__ import annotations

from typing import Any

from impl.controllers import nodelifecycle, tainteviction
from models.apiserver.clock import rfc3339
from runner.controllers.local import LocalCluster

NODES = "/api/v1/nodes"
LEASES = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"
PODS = "/api/v1/namespaces/default/pods"


def node_body(name: str, now: int) -> dict[str, Any]:
    ready = {
        "type": "Ready",
        "status": "True",
        "reason": "KubeletReady",
        "lastHeartbeatTime": rfc3339(now),
        "lastTransitionTime": rfc3339(now),
    }
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name},
        "status": {"conditions": [ready]},
    }


def lease_body(name: str, now: int) -> dict[str, Any]:
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": name, "namespace": "kube-node-lease"},
        "spec": {
            "holderIdentity": name,
            "leaseDurationSeconds": 40,
            "renewTime": f"{rfc3339(now)[:-1]}.000000Z",
        },
    }


def pod_body(
    name: str, node: str, tolerations: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    spec: dict[str, Any] = {"nodeName": node, "containers": [{"name": "c", "image": "nginx"}]}
    if tolerations is not None:
        spec["tolerations"] = tolerations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def create(c: LocalCluster, path: str, body: dict[str, Any]) -> None:
    answer = c.api.call("POST", path, body)
    assert answer.status == 201, answer.body


def run_pod(c: LocalCluster, name: str) -> None:
    now = rfc3339(c.entropy.now_seconds())
    status = {
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now}],
        }
    }
    answer = c.api.call(
        "PATCH", f"{PODS}/{name}/status", status, content_type="application/merge-patch+json"
    )
    assert answer.status == 200, answer.body


def renew(c: LocalCluster, name: str) -> None:
    lease = c.get(f"{LEASES}/{name}")
    lease["spec"]["renewTime"] = f"{rfc3339(c.entropy.now_seconds())[:-1]}.000000Z"
    assert c.api.call("PUT", f"{LEASES}/{name}", lease).status == 200


def ready_of(obj: dict[str, Any]) -> tuple[str, str]:
    (cond,) = [x for x in obj["status"]["conditions"] if x["type"] == "Ready"]
    return cond["status"], cond.get("reason", "")


def taints(c: LocalCluster, name: str) -> list[tuple[str, str]]:
    return [
        (t["key"], t["effect"])
        for t in (c.get(f"{NODES}/{name}").get("spec") or {}).get("taints") or []
    ]


def cluster(*names: str) -> LocalCluster:
    c = LocalCluster([nodelifecycle.DEFINITION, tainteviction.DEFINITION], run_pods=False)
    now = c.entropy.now_seconds()
    for name in names:
        create(c, NODES, node_body(name, now))
        create(c, LEASES, lease_body(name, now))
    c.settle(pods=False)
    return c


def step(c: LocalCluster, seconds: int, alive: tuple[str, ...] = ()) -> None:
    """Let time pass 5 s at a time; the ``alive`` nodes renew their Lease every 10 s."""
    for _ in range(seconds // 5):
        c.advance(5)
        if c.entropy.now_seconds() % 10 == 0:
            for name in alive:
                renew(c, name)
        c.settle(pods=False)


def test_a_silent_node_goes_unknown_is_tainted_and_its_pods_evicted() -> None:
    c = cluster("node-a", "node-b")
    forever = [
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"}
    ]
    thirty = [{**forever[0], "tolerationSeconds": 30}]
    for name, node, tolerations in (
        ("plain", "node-a", None),
        ("thirty", "node-a", thirty),
        ("forever", "node-a", forever),
        ("elsewhere", "node-b", None),
    ):
        create(c, PODS, pod_body(name, node, tolerations))
        run_pod(c, name)
    c.settle(pods=False)
    step(c, 50, alive=("node-b",))
    # Heard from 50 s ago: not yet past the grace period (strictly after).
    assert ready_of(c.get(f"{NODES}/node-a")) == ("True", "KubeletReady")
    step(c, 5, alive=("node-b",))
    assert ready_of(c.get(f"{NODES}/node-a")) == ("Unknown", "NodeStatusUnknown")
    conditions = {x["type"]: x for x in c.get(f"{NODES}/node-a")["status"]["conditions"]}
    assert conditions["Ready"]["message"] == "Kubelet stopped posting node status."
    assert conditions["MemoryPressure"]["reason"] == "NodeStatusNeverUpdated"
    assert ready_of(c.get(f"{NODES}/node-b"))[0] == "True"
    for name in ("plain", "thirty", "forever"):
        assert ready_of(c.get(f"{PODS}/{name}"))[0] == "False"
    assert ready_of(c.get(f"{PODS}/elsewhere"))[0] == "True"
    # TaintNodesByCondition: the node's update (Ready Unknown) brings the NoSchedule taint at
    # once; the NoExecute one follows on the next pass, from the Ready seen at its start.
    assert taints(c, "node-a") == [("node.kubernetes.io/unreachable", "NoSchedule")]
    step(c, 5, alive=("node-b",))
    assert taints(c, "node-a") == [
        ("node.kubernetes.io/unreachable", "NoSchedule"),
        ("node.kubernetes.io/unreachable", "NoExecute"),
    ]
    assert taints(c, "node-b") == []
    plain = c.get(f"{PODS}/plain")
    assert plain is None or plain["metadata"].get("deletionTimestamp")
    assert not c.get(f"{PODS}/thirty")["metadata"].get("deletionTimestamp")
    step(c, 25, alive=("node-b",))
    assert not c.get(f"{PODS}/thirty")["metadata"].get("deletionTimestamp")
    step(c, 5, alive=("node-b",))
    thirty_pod = c.get(f"{PODS}/thirty")
    assert thirty_pod is None or thirty_pod["metadata"].get("deletionTimestamp")
    assert not c.get(f"{PODS}/forever")["metadata"].get("deletionTimestamp")
    assert not c.get(f"{PODS}/elsewhere")["metadata"].get("deletionTimestamp")
    # The node comes back: Ready again, the taint comes off at the next pass.
    node = c.get(f"{NODES}/node-a")
    now = rfc3339(c.entropy.now_seconds())
    node["status"]["conditions"] = [
        {
            "type": "Ready",
            "status": "True",
            "reason": "KubeletReady",
            "lastHeartbeatTime": now,
            "lastTransitionTime": now,
        }
    ]
    assert c.api.call("PUT", f"{NODES}/node-a/status", node).status == 200
    c.settle(pods=False)
    # The NoSchedule taint goes with the update; the NoExecute one at the next pass.
    assert taints(c, "node-a") == [("node.kubernetes.io/unreachable", "NoExecute")]
    step(c, 5, alive=("node-b",))
    assert taints(c, "node-a") == []


def test_when_every_node_is_silent_none_is_tainted_noexecute() -> None:
    c = cluster("only")
    step(c, 60)
    assert ready_of(c.get(f"{NODES}/only"))[0] == "Unknown"
    step(c, 20)
    # Full disruption stops the NoExecute tainting only; NoSchedule follows the condition.
    assert taints(c, "only") == [("node.kubernetes.io/unreachable", "NoSchedule")]


def test_a_renewed_lease_keeps_a_node_ready_without_status_updates() -> None:
    c = cluster("node-a", "node-b")
    step(c, 120, alive=("node-a", "node-b"))
    assert ready_of(c.get(f"{NODES}/node-a")) == ("True", "KubeletReady")
    assert taints(c, "node-a") == []
