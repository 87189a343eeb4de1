"""PriorityClasses as kube-apiserver v1.35 has them: the two system classes a fresh server
bootstraps, the validation of user classes (values above 1000000000 and ``system-`` names
refused, value and preemptionPolicy immutable), the Priority plugin's single default, the
refusal to delete a system class, pods resolving the system classes in any namespace, and
``kubectl get priorityclass``'s columns from the real kubectl."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from impl.apiserver.context import Config
from runner.apiserver.local import LocalApiServer
from tests.apiserver.kubectl import kubectl, require_kubectl, serve

BASE = "/apis/scheduling.k8s.io/v1/priorityclasses"


def with_priority(config: Config) -> LocalApiServer:
    return LocalApiServer(config=msgspec.structs.replace(config, admission_plugins=("Priority",)))


def priority_class(name: str, value: int, **more: Any) -> dict[str, Any]:
    return {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {"name": name},
        "value": value,
        **more,
    }


def test_a_fresh_server_has_the_two_system_classes(server: LocalApiServer) -> None:
    listed = server.call("GET", BASE).body["items"]
    found = {
        item["metadata"]["name"]: (
            item["value"],
            item["description"],
            item.get("globalDefault", False),
            item["preemptionPolicy"],
        )
        for item in listed
    }
    assert found == {
        "system-node-critical": (
            2000001000,
            "Used for system critical pods that must not be moved from their current node.",
            False,
            "PreemptLowerPriority",
        ),
        "system-cluster-critical": (
            2000000000,
            "Used for system critical pods that must run in the cluster, but can be moved to "
            "another node if necessary.",
            False,
            "PreemptLowerPriority",
        ),
    }


def test_user_classes_are_bounded_and_may_not_take_system_names(server: LocalApiServer) -> None:
    too_high = server.call("POST", BASE, priority_class("huge", 1000000001))
    assert (too_high.status, too_high.body["message"]) == (
        422,
        'PriorityClass.scheduling.k8s.io "huge" is invalid: value: Forbidden: maximum allowed '
        "value of a user defined priority is 1000000000",
    )
    assert server.call("POST", BASE, priority_class("top", 1000000000)).status == 201
    reserved = server.call("POST", BASE, priority_class("system-mine", 5))
    assert (reserved.status, reserved.body["message"]) == (
        422,
        'PriorityClass.scheduling.k8s.io "system-mine" is invalid: metadata.name: Forbidden: '
        "priority class names with 'system-' prefix are reserved for system use only. error: "
        "system-mine is not a known system priority class",
    )


def test_value_and_preemption_policy_are_immutable(server: LocalApiServer) -> None:
    created = server.call("POST", BASE, priority_class("mid", 10)).body
    changed = {**created, "value": 11, "preemptionPolicy": "Never"}
    answer = server.call("PUT", f"{BASE}/mid", changed)
    assert (answer.status, answer.body["message"]) == (
        422,
        'PriorityClass.scheduling.k8s.io "mid" is invalid: [value: Forbidden: may not be '
        'changed in an update., preemptionPolicy: Invalid value: "Never": field is immutable]',
    )
    relabelled = {**created, "metadata": {**created["metadata"], "labels": {"tier": "x"}}}
    assert server.call("PUT", f"{BASE}/mid", relabelled).status == 200


def test_system_classes_cannot_be_deleted(server: LocalApiServer) -> None:
    for name in ("system-node-critical", "system-cluster-critical"):
        answer = server.call("DELETE", f"{BASE}/{name}")
        assert (answer.status, answer.body["message"]) == (
            403,
            f'priorityclasses.scheduling.k8s.io "{name}" is forbidden: this is a system '
            "priority class and cannot be deleted",
        )
    assert server.call("GET", f"{BASE}/system-node-critical").status == 200


def test_only_one_class_is_the_default(config: Config) -> None:
    server = with_priority(config)
    assert server.call("POST", BASE, priority_class("low", 1, globalDefault=True)).status == 201
    second = server.call("POST", BASE, priority_class("other", 2, globalDefault=True))
    assert (second.status, second.body["message"]) == (
        403,
        'priorityclasses.scheduling.k8s.io "other" is forbidden: PriorityClass low is already '
        "marked as default. Only one default can exist",
    )
    plain = server.call("POST", BASE, priority_class("plain", 3)).body
    promoted = server.call("PUT", f"{BASE}/plain", {**plain, "globalDefault": True})
    assert promoted.status == 403
    low = server.call("GET", f"{BASE}/low").body
    assert server.call("PUT", f"{BASE}/low", {**low, "description": "d"}).status == 200


def test_pods_resolve_the_system_classes_in_any_namespace(config: Config) -> None:
    server = with_priority(config)
    for namespace, name in (
        ("kube-system", "system-node-critical"),
        ("default", "system-cluster-critical"),
    ):
        body = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p"},
            "spec": {
                "priorityClassName": name,
                "containers": [{"name": "c", "image": "nginx"}],
            },
        }
        answer = server.call("POST", f"/api/v1/namespaces/{namespace}/pods", body)
        assert answer.status == 201
        expected = 2000001000 if name == "system-node-critical" else 2000000000
        assert answer.body["spec"]["priority"] == expected


@pytest.mark.kubectl
def test_kubectl_get_priorityclass_shows_kubes_columns(tmp_path: Path) -> None:
    require_kubectl()
    with serve(tmp_path, "--enable-admission-plugins", "Priority") as served:
        made = kubectl(
            served, "create", "priorityclass", "batch", "--value=100", "--description=batch jobs"
        )
        assert made.returncode == 0, made.stderr
        shown = kubectl(served, "get", "priorityclass")
        assert shown.returncode == 0, shown.stderr
        rows = [line.split() for line in shown.stdout.splitlines()]
        assert rows[0] == ["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"]
        assert [(r[0], r[1], r[2], r[4]) for r in rows[1:]] == [
            ("batch", "100", "false", "PreemptLowerPriority"),
            ("system-cluster-critical", "2000000000", "false", "PreemptLowerPriority"),
            ("system-node-critical", "2000001000", "false", "PreemptLowerPriority"),
        ]
        huge = kubectl(served, "create", "priorityclass", "huge", "--value=2000000000")
        assert huge.returncode == 1
        assert huge.stderr.strip() == (
            'error: failed to create priorityclass: PriorityClass.scheduling.k8s.io "huge" is '
            "invalid: value: Forbidden: maximum allowed value of a user defined priority is "
            "1000000000"
        )
        removed = kubectl(served, "delete", "pc", "system-node-critical")
        assert removed.stderr.strip() == (
            "Error from server (Forbidden): priorityclasses.scheduling.k8s.io "
            '"system-node-critical" is forbidden: this is a system priority class and cannot '
            "be deleted"
        )
