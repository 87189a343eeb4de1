"""The ReplicaSet controller's sync, call by call (replica_set.go, v1.35)."""

from __future__ import annotations

from typing import Any

import msgspec

from impl.controllers import machine, replicaset
from models.controllers.config import ControllerConfig
from models.controllers.messages import Answered, Call, Listed, Observed, Tick, Work
from tests.controllers.cluster import PODS, REPLICASETS, cluster, create, live_pods, merge_patch

CONFIG = ControllerConfig()
NOW_MS = 1_767_225_600_000


def rs_json(replicas: int, uid: str = "rs-uid") -> bytes:
    return msgspec.json.encode(
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": "web",
                "namespace": "default",
                "uid": uid,
                "generation": 1,
                "resourceVersion": "5",
            },
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "c"}]},
                },
            },
        }
    )


def pod_json(name: str, owner_uid: str = "rs-uid", **status: Any) -> bytes:
    return msgspec.json.encode(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "namespace": "default",
                "uid": f"uid-{name}",
                "resourceVersion": "7",
                "labels": {"app": "web"},
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "ReplicaSet",
                        "name": "web",
                        "uid": owner_uid,
                        "controller": True,
                    }
                ],
            },
            "spec": {"containers": [{"name": "c"}]},
            "status": status,
        }
    )


class Driver:
    """The ReplicaSet machine alone: we play informers and the API server."""

    def __init__(self, replicas: int, config: ControllerConfig = CONFIG) -> None:
        self.config = config
        self.state = machine.init(replicaset.DEFINITION, config, NOW_MS).state
        self.feed(Listed(resource="replicasets", items=(rs_json(replicas),)))
        self.feed(Listed(resource="pods", items=()))

    def feed(self, event: Any) -> list[Call]:
        step = machine.on_event(replicaset.DEFINITION, self.config, self.state, event)
        self.state = step.state
        return [c for c in step.commands if isinstance(c, Call)]

    def answer(self, calls: list[Call], status: int = 201) -> list[Call]:
        following: list[Call] = []
        for call in calls:
            following = self.feed(Answered(request_id=call.request_id, status=status, body=b"{}"))
        return following


def sync_once(driver: Driver) -> int:
    """One sync with every call answered as a healthy API server would; the pods it created."""
    made = 0
    batch = driver.feed(Work())
    while batch:
        made += creates(batch)
        batch = driver.answer(batch, status=201 if creates(batch) else 200)
    return made


def creates(calls: list[Call]) -> int:
    return sum(1 for c in calls if c.call.method == "POST" and c.call.path.endswith("/pods"))


def test_creation_goes_in_slow_start_batches_of_1_2_4() -> None:
    driver = Driver(replicas=7)
    batch = driver.feed(Work())
    sizes = []
    while creates(batch):
        sizes.append(creates(batch))
        batch = driver.answer(batch)
    assert sizes == [1, 2, 4]


def test_a_failed_batch_stops_creation_and_lowers_the_expectations() -> None:
    driver = Driver(replicas=7)
    first = driver.feed(Work())
    second = driver.answer(first)
    assert creates(second) == 2
    failed = driver.feed(Answered(request_id=second[0].request_id, status=403, body=b"{}"))
    assert failed == []
    after = driver.feed(Answered(request_id=second[1].request_id, status=201, body=b"{}"))
    assert creates(after) == 0  # the batch of 4 is never sent
    # 7 expected, 2 made: 5 lowered (the refused one and the 4 skipped), 2 still awaited
    record = driver.state.expectations.by_key["default/web"]
    assert record.add == 2


def test_no_new_pods_while_creations_are_unobserved() -> None:
    driver = Driver(replicas=2)
    batch = driver.feed(Work())
    while creates(batch):
        batch = driver.answer(batch)
    driver.answer(batch, status=200)  # the status write
    driver.feed(Observed(resource="replicasets", change="MODIFIED", raw=rs_json(2)))
    assert creates(driver.feed(Work())) == 0  # the two pods are not in the cache yet
    driver.feed(Observed(resource="pods", change="ADDED", raw=pod_json("web-a")))
    driver.feed(Observed(resource="pods", change="ADDED", raw=pod_json("web-b")))
    assert creates(driver.feed(Work())) == 0  # observed: satisfied, and there are enough


def test_the_mutant_ignoring_expectations_creates_too_many() -> None:
    driver = Driver(replicas=2, config=ControllerConfig(mutant=replicaset.IGNORES_EXPECTATIONS))
    batch = driver.feed(Work())
    while creates(batch):
        batch = driver.answer(batch)
    driver.answer(batch, status=200)
    driver.feed(Observed(resource="replicasets", change="MODIFIED", raw=rs_json(2)))
    assert creates(driver.feed(Work())) == 1  # a second round of creations


def test_an_unobserved_creation_blocks_the_controller_for_five_minutes() -> None:
    driver = Driver(replicas=1)
    assert sync_once(driver) == 1  # created, but the informer never shows the pod
    for now_ms, expected in ((NOW_MS + 300_000, 0), (NOW_MS + 300_001, 1)):
        driver.feed(Tick(now_ms=now_ms))
        driver.feed(Observed(resource="replicasets", change="MODIFIED", raw=rs_json(1)))
        assert sync_once(driver) == expected  # expired: the cache shows no pod, so create


def test_scale_down_deletes_not_ready_pods_first() -> None:
    c = cluster()
    create(
        c,
        REPLICASETS,
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "c", "image": "x"}]},
                },
            },
        },
    )
    c.settle()
    merge_patch(c, f"{REPLICASETS}/web", {"spec": {"replicas": 5}})
    c.settle(pods=False)  # two more pods, never scheduled nor ready
    new = {p["metadata"]["name"] for p in live_pods(c) if not p["spec"].get("nodeName")}
    assert len(new) == 2
    merge_patch(c, f"{REPLICASETS}/web", {"spec": {"replicas": 3}})
    c.settle(pods=False)
    remaining = {
        p["metadata"]["name"] for p in c.items(PODS) if not p["metadata"].get("deletionTimestamp")
    }
    assert len(remaining) == 3
    assert not (remaining & new)
