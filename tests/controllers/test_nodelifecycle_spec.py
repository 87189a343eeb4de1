"""spec/controllers/nodelifecycle.py on the node lifecycle and taint-eviction controllers:
judged after every settled 5-second step of a run where one of two nodes goes silent and the
other is under memory pressure for a while and cordoned, the properties hold and their
companions are seen; each reports a state that breaks it."""

from __future__ import annotations

import copy
from typing import Any

from models.apiserver.clock import rfc3339
from runner.controllers.local import LocalCluster
from spec.controllers import nodelifecycle as spec
from tests.controllers.test_nodelifecycle import (
    NODES,
    PODS,
    cluster,
    create,
    pod_body,
    run_pod,
    step,
)


def stored(c: LocalCluster) -> list[dict[str, Any]]:
    nodes = [{**n, "kind": "Node"} for n in c.items(NODES)]
    return [*nodes, *({**p, "kind": "Pod"} for p in c.items(PODS))]


def test_the_properties_hold_and_their_companions_are_seen() -> None:
    c = cluster("node-a", "node-b")
    forever = [
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"}
    ]
    for name, node, tolerations in (("plain", "node-a", None), ("kept", "node-a", forever)):
        create(c, PODS, pod_body(name, node, tolerations))
        run_pod(c, name)
    c.settle(pods=False)
    seen = dict.fromkeys(spec.SOMETIMES, False)
    for round_ in range(24):
        step(c, 5, alive=("node-b",))
        if round_ in (3, 9):
            pressure(c, "node-b", "True" if round_ == 3 else "False")
        if round_ in (5, 12):
            cordon = {"spec": {"unschedulable": True if round_ == 5 else None}}
            answer = c.api.call(
                "PATCH", f"{NODES}/node-b", cordon, content_type="application/merge-patch+json"
            )
            assert answer.status == 200
            c.settle(pods=False)
        objects = stored(c)
        assert spec.pods_not_ready(objects) == []
        assert spec.taints_match_ready(objects) == []
        assert spec.noschedule_by_condition(objects) == []
        assert spec.untolerated_evicted(objects) == []
        seen["node.not_ready_with_pods"] |= spec.not_ready_with_pods(objects)
        seen["node.tainted"] |= spec.tainted(objects)
        seen["node.pressure_tainted"] |= spec.pressure_tainted(objects)
        seen["taint.tolerated_kept"] |= spec.tolerated_kept(objects)
    assert seen == dict.fromkeys(spec.SOMETIMES, True)


def pressure(c: LocalCluster, name: str, status: str) -> None:
    """The kubelet's MemoryPressure condition on the node, as a status update."""
    node = c.get(f"{NODES}/{name}")
    conditions = [x for x in node["status"]["conditions"] if x["type"] != "MemoryPressure"]
    now = rfc3339(c.entropy.now_seconds())
    memory = {"type": "MemoryPressure", "status": status, "lastTransitionTime": now}
    node["status"]["conditions"] = [*conditions, memory]
    assert c.api.call("PUT", f"{NODES}/{name}/status", node).status == 200
    c.settle(pods=False)


def test_each_property_reports_a_state_that_breaks_it() -> None:
    c = cluster("node-a", "node-b")
    create(c, PODS, pod_body("plain", "node-a"))
    run_pod(c, "plain")
    c.settle(pods=False)
    objects = stored(c)
    broken = copy.deepcopy(objects)
    (node,) = [o for o in broken if o["kind"] == "Node" and o["metadata"]["name"] == "node-a"]
    node["status"]["conditions"][0]["status"] = "Unknown"
    assert [v.property_name for v in spec.pods_not_ready(broken)] == ["node.pods_not_ready"]
    broken = copy.deepcopy(objects)
    (node,) = [o for o in broken if o["kind"] == "Node" and o["metadata"]["name"] == "node-a"]
    node["spec"] = {"taints": [{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}]}
    assert [v.property_name for v in spec.taints_match_ready(broken)] == ["node.taints_match_ready"]
    assert [v.property_name for v in spec.untolerated_evicted(broken)] == [
        "taint.untolerated_evicted"
    ]
    # A node under memory pressure without the taint, and a cordon taint without the cordon.
    broken = copy.deepcopy(objects)
    (node,) = [o for o in broken if o["kind"] == "Node" and o["metadata"]["name"] == "node-a"]
    node["status"]["conditions"].append({"type": "MemoryPressure", "status": "True"})
    assert [v.property_name for v in spec.noschedule_by_condition(broken)] == [
        "node.noschedule_by_condition"
    ]
    assert not spec.pressure_tainted(broken)
    node["spec"] = {
        "taints": [{"key": "node.kubernetes.io/memory-pressure", "effect": "NoSchedule"}]
    }
    assert spec.noschedule_by_condition(broken) == []
    assert spec.pressure_tainted(broken)
    node["spec"]["taints"].append(
        {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}
    )
    assert [v.property_name for v in spec.noschedule_by_condition(broken)] == [
        "node.noschedule_by_condition"
    ]
