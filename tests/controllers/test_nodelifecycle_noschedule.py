"""TaintNodesByCondition (v1.35): the node lifecycle controller's NoSchedule taints follow each
node's conditions and ``spec.unschedulable``, and the admission plugin taints a new Node
not-ready. Expected values from the "Taints and Tolerations" docs (taint nodes by condition:
"The control plane, using the node controller, automatically creates taints with a NoSchedule
effect for node conditions": memory-pressure, disk-pressure, pid-pressure,
network-unavailable, unschedulable, and not-ready/unreachable for Ready False/Unknown) and the
"Well-Known Labels, Annotations and Taints" reference (``timeAdded`` set by the controller;
``kubectl cordon`` gives ``node.kubernetes.io/unschedulable:NoSchedule``)."""

from __future__ import annotations

from typing import Any

import msgspec

from impl.apiserver.context import builtin_config
from impl.controllers import nodelifecycle
from models.apiserver.clock import rfc3339
from runner.apiserver.local import LocalApiServer
from runner.controllers.local import LocalCluster
from tests.controllers.test_nodelifecycle import NODES, cluster, create, node_body, step, taints

MEMORY = "node.kubernetes.io/memory-pressure"
DISK = "node.kubernetes.io/disk-pressure"
PID = "node.kubernetes.io/pid-pressure"
NETWORK = "node.kubernetes.io/network-unavailable"
CORDON = "node.kubernetes.io/unschedulable"
NOT_READY = "node.kubernetes.io/not-ready"


def set_conditions(c: LocalCluster, name: str, statuses: dict[str, str]) -> None:
    """The node's conditions as a kubelet posts them: Ready True first, then ``statuses``."""
    node = c.get(f"{NODES}/{name}")
    now = rfc3339(c.entropy.now_seconds())
    node["status"]["conditions"] = [
        {"type": kind, "status": status, "lastHeartbeatTime": now, "lastTransitionTime": now}
        for kind, status in {"Ready": "True", **statuses}.items()
    ]
    assert c.api.call("PUT", f"{NODES}/{name}/status", node).status == 200
    c.settle(pods=False)


def merge(c: LocalCluster, name: str, patch: dict[str, Any]) -> None:
    answer = c.api.call(
        "PATCH", f"{NODES}/{name}", patch, content_type="application/merge-patch+json"
    )
    assert answer.status == 200, answer.body
    c.settle(pods=False)


def test_true_pressure_conditions_give_their_noschedule_taints_in_condition_order() -> None:
    c = cluster("node-a", "node-b")
    step(c, 5, alive=("node-a", "node-b"))
    set_conditions(
        c,
        "node-a",
        {
            "MemoryPressure": "True",
            "DiskPressure": "False",
            "PIDPressure": "True",
            "NetworkUnavailable": "True",
        },
    )
    assert taints(c, "node-a") == [
        (MEMORY, "NoSchedule"),
        (PID, "NoSchedule"),
        (NETWORK, "NoSchedule"),
    ]
    assert taints(c, "node-b") == []
    stored = c.get(f"{NODES}/node-a")["spec"]["taints"]
    now = rfc3339(c.entropy.now_seconds())
    assert [t.get("timeAdded") for t in stored] == [now, now, now]
    assert all("value" not in t for t in stored)


def test_unknown_pressure_is_no_taint_and_false_removes_only_its_own() -> None:
    c = cluster("node-a", "node-b")
    user = {"key": MEMORY, "value": "mine", "effect": "PreferNoSchedule"}
    dedicated = {"key": "dedicated", "value": "infra", "effect": "NoSchedule"}
    merge(c, "node-a", {"spec": {"taints": [dedicated, user]}})
    set_conditions(c, "node-a", {"MemoryPressure": "Unknown", "DiskPressure": "True"})
    assert taints(c, "node-a") == [
        ("dedicated", "NoSchedule"),
        (MEMORY, "PreferNoSchedule"),
        (DISK, "NoSchedule"),
    ]
    added = c.get(f"{NODES}/node-a")["spec"]["taints"][2]["timeAdded"]
    c.advance(7)
    set_conditions(c, "node-a", {"MemoryPressure": "True", "DiskPressure": "True"})
    # The disk-pressure taint stays as it was (timeAdded unchanged); memory-pressure is added.
    stored = c.get(f"{NODES}/node-a")["spec"]["taints"]
    assert [(t["key"], t["effect"]) for t in stored] == [
        ("dedicated", "NoSchedule"),
        (MEMORY, "PreferNoSchedule"),
        (DISK, "NoSchedule"),
        (MEMORY, "NoSchedule"),
    ]
    assert stored[2]["timeAdded"] == added
    assert stored[3]["timeAdded"] == rfc3339(c.entropy.now_seconds())
    set_conditions(c, "node-a", {"MemoryPressure": "False", "DiskPressure": "False"})
    assert taints(c, "node-a") == [("dedicated", "NoSchedule"), (MEMORY, "PreferNoSchedule")]


def test_a_cordoned_node_is_tainted_unschedulable_until_uncordoned() -> None:
    c = cluster("node-a", "node-b")
    merge(c, "node-a", {"spec": {"unschedulable": True}})
    assert taints(c, "node-a") == [(CORDON, "NoSchedule")]
    merge(c, "node-a", {"spec": {"unschedulable": None}})
    assert taints(c, "node-a") == []


def test_a_not_ready_node_is_tainted_noschedule_at_once_and_noexecute_later() -> None:
    c = cluster("node-a", "node-b")
    set_conditions(c, "node-a", {})
    node = c.get(f"{NODES}/node-a")
    node["status"]["conditions"][0]["status"] = "False"
    assert c.api.call("PUT", f"{NODES}/node-a/status", node).status == 200
    c.settle(pods=False)
    assert taints(c, "node-a") == [(NOT_READY, "NoSchedule")]
    step(c, 5, alive=("node-a", "node-b"))
    assert taints(c, "node-a") == [(NOT_READY, "NoSchedule"), (NOT_READY, "NoExecute")]


def test_the_admission_taint_of_a_new_ready_node_is_removed() -> None:
    c = cluster("node-b")
    body = node_body("node-a", c.entropy.now_seconds())
    body["spec"] = {"taints": [{"key": NOT_READY, "effect": "NoSchedule"}]}
    create(c, NODES, body)
    c.settle(pods=False)
    assert taints(c, "node-a") == []


def test_the_patch_carries_the_resource_version_it_was_computed_from() -> None:
    node = {
        "metadata": {"name": "n", "resourceVersion": "42"},
        "spec": {"unschedulable": True},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }
    assert nodelifecycle.no_schedule_patch(node, 3_000) == {
        "metadata": {"resourceVersion": "42"},
        "spec": {"taints": [{"key": CORDON, "effect": "NoSchedule", "timeAdded": rfc3339(3)}]},
    }
    node["spec"] = {"taints": [{"key": CORDON, "effect": "NoSchedule"}], "unschedulable": True}
    assert nodelifecycle.no_schedule_patch(node, 3_000) is None


def test_admission_taints_a_new_node_not_ready_once() -> None:
    config = msgspec.structs.replace(builtin_config(), admission_plugins=("TaintNodesByCondition",))
    server = LocalApiServer(config=config)
    created = server.call(
        "POST", NODES, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "a"}}
    )
    assert created.status == 201
    assert created.body["spec"]["taints"] == [{"key": NOT_READY, "effect": "NoSchedule"}]
    own = {"key": NOT_READY, "value": "x", "effect": "NoSchedule"}
    body = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "b"},
        "spec": {"taints": [own]},
    }
    assert server.call("POST", NODES, body).body["spec"]["taints"] == [own]
    # Only creation: an update that drops the taint keeps it dropped.
    node = server.call("GET", f"{NODES}/a").body
    node["spec"]["taints"] = None
    assert server.call("PUT", f"{NODES}/a", node).body["spec"].get("taints") is None
    plain = LocalApiServer(config=builtin_config())
    body = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "a"}}
    assert plain.call("POST", NODES, body).body.get("spec", {}).get("taints") is None
