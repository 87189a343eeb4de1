"""List: selectors, paging with continue tokens, resourceVersion semantics (api-concepts
"Retrieving large results sets in chunks", "Resource versions"; etcd3 store continue)."""

from __future__ import annotations

import pytest

from runner.apiserver.local import LocalApiServer
from tests.apiserver.helpers import CONFIGMAPS, PODS, configmap, pod


def _names(items: list[dict[str, object]]) -> list[str]:
    return [item["metadata"]["name"] for item in items]  # type: ignore[index]


@pytest.fixture
def five(server: LocalApiServer) -> LocalApiServer:
    for index, name in enumerate(["e", "a", "d", "b", "c"]):
        labels = {"tier": "front" if index % 2 == 0 else "back", "n": str(index)}
        server.call("POST", CONFIGMAPS, configmap(name, labels=labels))
    return server


def test_list_is_sorted_by_name_with_a_list_resource_version(five: LocalApiServer) -> None:
    answer = five.call("GET", CONFIGMAPS)
    assert answer.status == 200
    assert answer.body["kind"] == "ConfigMapList"
    assert answer.body["apiVersion"] == "v1"
    assert _names(answer.body["items"]) == ["a", "b", "c", "d", "e"]
    item_rvs = [int(item["metadata"]["resourceVersion"]) for item in answer.body["items"]]
    assert int(answer.body["metadata"]["resourceVersion"]) >= max(item_rvs)
    # Items of a typed list carry no apiVersion/kind (kube's JSON encoding of v1.ConfigMapList).
    assert "kind" not in answer.body["items"][0]


def test_list_across_namespaces(server: LocalApiServer) -> None:
    server.call("POST", "/api/v1/namespaces", {"metadata": {"name": "other"}})
    server.call("POST", CONFIGMAPS, configmap("a"))
    server.call("POST", "/api/v1/namespaces/other/configmaps", configmap("b"))
    items = server.call("GET", "/api/v1/configmaps").body["items"]
    assert [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in items] == [
        ("default", "a"),
        ("other", "b"),
    ]


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("tier=front", ["c", "d", "e"]),
        ("tier==back", ["a", "b"]),
        ("tier!=front", ["a", "b"]),
        ("n in (0,1)", ["a", "e"]),
        ("n notin (0,1)", ["b", "c", "d"]),
        ("tier", ["a", "b", "c", "d", "e"]),
        ("!tier", []),
        ("tier=front,n=2", ["d"]),
    ],
)
def test_label_selectors(five: LocalApiServer, selector: str, expected: list[str]) -> None:
    # Created in the order e(n=0) a(1) d(2) b(3) c(4); even n is "front": e, d, c.
    answer = five.call("GET", CONFIGMAPS, query={"labelSelector": selector})
    assert answer.status == 200, answer.body
    assert _names(answer.body["items"]) == expected


def test_invalid_label_selector_is_400(five: LocalApiServer) -> None:
    answer = five.call("GET", CONFIGMAPS, query={"labelSelector": "a in (b"})
    assert answer.status == 400
    assert answer.body["reason"] == "BadRequest"
    # labels.Parse wraps parseRequirement's error once; the handler answers it as is.
    unclosed = five.call("GET", CONFIGMAPS, query={"labelSelector": "a in ("})
    assert unclosed.body["message"] == (
        "unable to parse requirement: found '', expected: ',', ')' or identifier"
    )


def test_put_and_patch_on_a_collection_are_405(five: LocalApiServer) -> None:
    for method, content_type in (
        ("PUT", "application/json"),
        ("PATCH", "application/merge-patch+json"),
    ):
        answer = five.call(method, CONFIGMAPS, {}, content_type=content_type)
        assert answer.status == 405
        assert answer.body["reason"] == "MethodNotAllowed"


def test_field_selector_on_metadata_name(five: LocalApiServer) -> None:
    answer = five.call("GET", CONFIGMAPS, query={"fieldSelector": "metadata.name=c"})
    assert _names(answer.body["items"]) == ["c"]
    answer = five.call("GET", CONFIGMAPS, query={"fieldSelector": "metadata.name!=c"})
    assert _names(answer.body["items"]) == ["a", "b", "d", "e"]


def test_pod_field_selectors(server: LocalApiServer) -> None:
    server.call("POST", PODS, pod("p1", nodeName="n1"))
    server.call("POST", PODS, pod("p2"))
    on_n1 = server.call("GET", PODS, query={"fieldSelector": "spec.nodeName=n1"})
    assert _names(on_n1.body["items"]) == ["p1"]
    unscheduled = server.call("GET", PODS, query={"fieldSelector": "spec.nodeName="})
    assert _names(unscheduled.body["items"]) == ["p2"]
    pending = server.call("GET", PODS, query={"fieldSelector": "status.phase=Pending"})
    assert _names(pending.body["items"]) == ["p1", "p2"]


def test_unsupported_field_selector_is_400(five: LocalApiServer) -> None:
    answer = five.call("GET", CONFIGMAPS, query={"fieldSelector": "data.x=1"})
    assert answer.status == 400
    assert answer.body["message"] == "field label not supported: data.x"


def test_paging_returns_every_item_once_at_the_first_pages_revision(
    five: LocalApiServer,
) -> None:
    first = five.call("GET", CONFIGMAPS, query={"limit": "2"}).body
    assert _names(first["items"]) == ["a", "b"]
    assert first["metadata"]["remainingItemCount"] == 3
    token = first["metadata"]["continue"]
    revision = first["metadata"]["resourceVersion"]
    five.call("POST", CONFIGMAPS, configmap("bb"))  # after the snapshot: not in these pages
    second = five.call("GET", CONFIGMAPS, query={"limit": "2", "continue": token}).body
    assert _names(second["items"]) == ["c", "d"]
    assert second["metadata"]["resourceVersion"] == revision
    third = five.call(
        "GET", CONFIGMAPS, query={"limit": "2", "continue": second["metadata"]["continue"]}
    ).body
    assert _names(third["items"]) == ["e"]
    assert "continue" not in third["metadata"]
    assert third["metadata"]["resourceVersion"] == revision


def test_paging_with_a_selector_fills_pages_with_matches(five: LocalApiServer) -> None:
    first = five.call("GET", CONFIGMAPS, query={"limit": "2", "labelSelector": "tier=front"})
    assert _names(first.body["items"]) == ["c", "d"]
    # kube leaves remainingItemCount out when a selector filters the list.
    assert "remainingItemCount" not in first.body["metadata"]
    token = first.body["metadata"]["continue"]
    rest = five.call(
        "GET", CONFIGMAPS, query={"limit": "2", "labelSelector": "tier=front", "continue": token}
    )
    assert _names(rest.body["items"]) == ["e"]


def test_continue_after_compaction_is_410_expired(five: LocalApiServer) -> None:
    first = five.call("GET", CONFIGMAPS, query={"limit": "2"}).body
    five.call("POST", CONFIGMAPS, configmap("z"))
    five.store.compact(five.store.revision)
    answer = five.call(
        "GET", CONFIGMAPS, query={"limit": "2", "continue": first["metadata"]["continue"]}
    )
    assert answer.status == 410
    assert answer.body["reason"] == "Expired"
    assert answer.body["message"].startswith(
        "The provided continue parameter is too old to display a consistent list result."
    )


def test_malformed_continue_is_400(five: LocalApiServer) -> None:
    answer = five.call("GET", CONFIGMAPS, query={"limit": "2", "continue": "garbage"})
    assert answer.status == 400
    assert answer.body["reason"] == "BadRequest"


def test_continue_with_a_resource_version_is_400(five: LocalApiServer) -> None:
    token = five.call("GET", CONFIGMAPS, query={"limit": "2"}).body["metadata"]["continue"]
    answer = five.call(
        "GET", CONFIGMAPS, query={"limit": "2", "continue": token, "resourceVersion": "5"}
    )
    assert answer.status == 400
    assert answer.body["message"] == (
        "specifying resource version is not allowed when using continue"
    )


def test_exact_resource_version_with_limit_reads_the_past(five: LocalApiServer) -> None:
    before = five.call("GET", CONFIGMAPS).body["metadata"]["resourceVersion"]
    five.call("DELETE", f"{CONFIGMAPS}/a")
    answer = five.call("GET", CONFIGMAPS, query={"limit": "10", "resourceVersion": before})
    assert _names(answer.body["items"]) == ["a", "b", "c", "d", "e"]
    assert answer.body["metadata"]["resourceVersion"] == before
    now = five.call("GET", CONFIGMAPS).body
    assert _names(now["items"]) == ["b", "c", "d", "e"]


def test_resource_version_zero_is_served_from_the_cache(five: LocalApiServer) -> None:
    answer = five.call("GET", CONFIGMAPS, query={"resourceVersion": "0"})
    assert _names(answer.body["items"]) == ["a", "b", "c", "d", "e"]


def test_table_output_for_kubectl_get(five: LocalApiServer) -> None:
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    answer = five.call("GET", CONFIGMAPS, accept=accept)
    assert answer.content_type == "application/json;as=Table;v=v1;g=meta.k8s.io"
    table = answer.body
    assert table["kind"] == "Table"
    assert table["apiVersion"] == "meta.k8s.io/v1"
    # pkg/printers/internalversion/printers.go: configMapColumnDefinitions.
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Data", "Age"]
    assert table["rows"][0]["cells"][:2] == ["a", 0]
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"


def test_a_resource_version_from_the_future_is_504_too_large(five: LocalApiServer) -> None:
    current = int(five.call("GET", CONFIGMAPS).body["metadata"]["resourceVersion"])
    answer = five.call("GET", CONFIGMAPS, query={"resourceVersion": str(current + 100)})
    assert answer.status == 504
    assert answer.body["reason"] == "Timeout"
    assert answer.body["message"] == (
        f"Timeout: Too large resource version: {current + 100}, current: {current}"
    )
    assert answer.body["details"]["causes"] == [
        {"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}
    ]


def test_not_older_than_a_seen_resource_version_reads_the_latest(five: LocalApiServer) -> None:
    seen = five.call("GET", CONFIGMAPS).body["metadata"]["resourceVersion"]
    five.call("DELETE", f"{CONFIGMAPS}/a")
    answer = five.call("GET", CONFIGMAPS, query={"resourceVersion": seen})
    # No limit: "Not older than" the given version; the cache is newer, so a is gone.
    assert _names(answer.body["items"]) == ["b", "c", "d", "e"]
    assert int(answer.body["metadata"]["resourceVersion"]) > int(seen)
