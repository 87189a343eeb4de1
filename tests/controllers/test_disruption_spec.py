"""spec/controllers/disruption.py on the disruption controller and the API server's eviction
gate: the properties hold, their companions are seen, and each reports a state that breaks
it."""

from __future__ import annotations

import copy
from typing import Any

from runner.controllers.local import LocalCluster
from spec.controllers import disruption as spec
from tests.controllers.cluster import DEPLOYMENTS, PODS, REPLICASETS, create, deployment_body
from tests.controllers.test_disruption import PDBS, budget, evict, local

LISTS = {
    "Pod": PODS,
    "ReplicaSet": REPLICASETS,
    "Deployment": DEPLOYMENTS,
    "PodDisruptionBudget": PDBS,
}


def stored(c: LocalCluster) -> list[dict[str, Any]]:
    return [{**item, "kind": kind} for kind, path in LISTS.items() for item in c.items(path)]


def test_evictions_keep_the_budget_and_the_status_follows() -> None:
    c = local()
    create(c, DEPLOYMENTS, deployment_body(replicas=4))
    create(c, DEPLOYMENTS, deployment_body("other", replicas=3))
    c.settle()
    budget(c, minAvailable=2)
    other = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "other", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "other"}}, "maxUnavailable": "50%"},
    }
    create(c, PDBS, other)
    c.settle()
    assert spec.status(stored(c)) == []
    names = sorted(
        p["metadata"]["name"] for p in c.items(PODS) if p["metadata"]["labels"]["app"] == "web"
    )
    admitted, at_minimum = 0, False
    for name in names:
        before = stored(c)
        if evict(c, name) != 201:
            continue
        admitted += 1
        after = stored(c)
        assert spec.evictions_keep_budget(before, after) == []
        at_minimum = at_minimum or spec.evicted_to_minimum(after)
        # Controllers run; the evicted pods stay terminating, replacements never start.
        c.settle(pods=False)
        assert spec.status(stored(c)) == []
    assert admitted == 2
    assert at_minimum
    assert spec.none_allowed(stored(c))


def test_each_property_reports_a_state_that_breaks_it() -> None:
    c = local()
    create(c, DEPLOYMENTS, deployment_body(replicas=4))
    c.settle()
    budget(c, minAvailable=2)
    c.settle()
    before = stored(c)
    tampered = copy.deepcopy(before)
    (pdb,) = [o for o in tampered if o["kind"] == "PodDisruptionBudget"]
    pdb["status"]["disruptionsAllowed"] = 3
    assert [v.property_name for v in spec.status(tampered)] == ["disruption.status"]
    after = copy.deepcopy(before)
    ready = [o for o in after if o["kind"] == "Pod"]
    for pod in ready[:3]:
        pod["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert [v.property_name for v in spec.evictions_keep_budget(before, after)] == [
        "disruption.evictions_keep_budget"
    ]
