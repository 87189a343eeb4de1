"""spec/controllers/endpoints.py on the Endpoints and EndpointSlice controllers: the properties
hold on a settled cluster, their companions are seen, and each property reports a state that
breaks it."""

from __future__ import annotations

import copy
from typing import Any

from models.apiserver.clock import rfc3339
from runner.controllers.local import LocalCluster
from spec.controllers import endpoints as spec
from tests.controllers.cluster import DEPLOYMENTS, PODS, create, deployment_body
from tests.controllers.test_endpoints import SERVICES, local, web_service

MERGE = "application/merge-patch+json"
LISTS = {
    "Pod": PODS,
    "Service": SERVICES,
    "Endpoints": "/api/v1/namespaces/default/endpoints",
    "EndpointSlice": "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices",
    "Node": "/api/v1/nodes",
}


def stored(c: LocalCluster) -> list[dict[str, Any]]:
    return [{**item, "kind": kind} for kind, path in LISTS.items() for item in c.items(path)]


def settled_with_150_pods_one_not_ready() -> LocalCluster:
    c = local()
    create(c, DEPLOYMENTS, deployment_body(replicas=150))
    web_service(c)
    c.settle()
    victim = sorted(p["metadata"]["name"] for p in c.items(PODS))[0]
    status = {
        "status": {
            "conditions": [
                {"type": "Ready", "status": "False", "lastTransitionTime": rfc3339(0)},
            ]
        }
    }
    # The kubelet's readiness probe failing: Ready=False, the pod keeps its IP.
    answer = c.api.call("PATCH", f"{PODS}/{victim}/status", status, content_type=MERGE)
    assert answer.status == 200, answer.body
    c.settle(pods=False)
    return c


def test_the_properties_hold_and_their_companions_are_seen() -> None:
    c = settled_with_150_pods_one_not_ready()
    objects = stored(c)
    assert spec.max_endpoints(objects) == []
    assert spec.ready_pods(objects) == []
    assert spec.full(objects)
    assert spec.not_ready_listed(objects)


def test_each_property_reports_a_state_that_breaks_it() -> None:
    c = settled_with_150_pods_one_not_ready()
    objects = stored(c)
    broken = copy.deepcopy(objects)
    (endpoints,) = [
        o for o in broken if o["kind"] == "Endpoints" and o["metadata"]["name"] == "web"
    ]
    endpoints["subsets"][0]["addresses"].pop()
    assert [v.property_name for v in spec.ready_pods(broken)] == ["endpoints.ready_pods"]
    broken = copy.deepcopy(objects)
    big = next(o for o in broken if o["kind"] == "EndpointSlice" and len(o["endpoints"]) == 100)
    big["endpoints"].append(copy.deepcopy(big["endpoints"][0]))
    assert [v.property_name for v in spec.max_endpoints(broken)] == ["endpointslice.max_endpoints"]
    big["endpoints"].pop(0)
    big["endpoints"].pop(0)
    assert [v.property_name for v in spec.ready_pods(broken)] == ["endpointslice.ready_pods"]
