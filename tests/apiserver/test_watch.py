"""Watch: initial events, ordering, selectors, resumption, bookmarks, timeouts and "too old"
(api-concepts "Efficient detection of changes"; ``storage/cacher``: a too-old resourceVersion is
one ERROR event with a 410 Expired Status on an HTTP 200 stream, ``too old resource version: RV
(OLDEST)``)."""

from __future__ import annotations

from typing import Any

import msgspec

from impl.apiserver.context import Config
from models.apiserver.messages import ApiRequest
from runner.apiserver.local import LocalApiServer
from tests.apiserver.helpers import CONFIGMAPS, configmap


def _summary(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(event["type"], event["object"]["metadata"]["name"]) for event in events]


def _rv(obj: dict[str, Any]) -> int:
    return int(obj["metadata"]["resourceVersion"])


def test_watch_without_resource_version_starts_with_the_current_state(
    server: LocalApiServer,
) -> None:
    server.call("POST", CONFIGMAPS, configmap("b"))
    server.call("POST", CONFIGMAPS, configmap("a"))
    watch = server.watch(CONFIGMAPS)
    assert _summary(server.events(watch)) == [("ADDED", "a"), ("ADDED", "b")]
    server.call("POST", CONFIGMAPS, configmap("c"))
    assert _summary(server.events(watch))[2:] == [("ADDED", "c")]


def test_watch_from_a_list_sees_only_later_changes_in_order(server: LocalApiServer) -> None:
    created = server.call("POST", CONFIGMAPS, configmap("a", {"k": "1"})).body
    listed = server.call("GET", CONFIGMAPS).body["metadata"]["resourceVersion"]
    watch = server.watch(CONFIGMAPS, {"resourceVersion": listed})
    assert server.events(watch) == []
    updated = server.call("PUT", f"{CONFIGMAPS}/a", dict(created, data={"k": "2"})).body
    server.call("POST", CONFIGMAPS, configmap("b"))
    deleted = server.call("DELETE", f"{CONFIGMAPS}/a")
    assert deleted.status == 200
    events = server.events(watch)
    assert _summary(events) == [("MODIFIED", "a"), ("ADDED", "b"), ("DELETED", "a")]
    assert events[0]["object"] == updated
    revisions = [_rv(event["object"]) for event in events]
    assert revisions == sorted(revisions)
    assert len(set(revisions)) == 3
    # A DELETED event carries the last state at the deletion's revision.
    assert events[2]["object"]["data"] == {"k": "2"}
    assert _rv(events[2]["object"]) > _rv(updated)


def test_watch_resumes_from_the_last_seen_resource_version(server: LocalApiServer) -> None:
    first = server.watch(CONFIGMAPS, {"resourceVersion": "1"})
    for name in "abcd":
        server.call("POST", CONFIGMAPS, configmap(name))
    seen = server.events(first)
    resume_at = seen[1]["object"]["metadata"]["resourceVersion"]
    resumed = server.watch(CONFIGMAPS, {"resourceVersion": resume_at})
    assert _summary(server.events(resumed)) == [("ADDED", "c"), ("ADDED", "d")]
    assert server.events(resumed) == seen[2:]


def test_label_selector_watch_reports_objects_entering_and_leaving(
    server: LocalApiServer,
) -> None:
    created = server.call("POST", CONFIGMAPS, configmap("a", labels={"app": "x"})).body
    watch = server.watch(CONFIGMAPS, {"labelSelector": "app=y", "resourceVersion": "1"})
    moved = server.call(
        "PUT",
        f"{CONFIGMAPS}/a",
        dict(created, metadata=dict(created["metadata"], labels={"app": "y"})),
    ).body
    server.call(
        "PUT", f"{CONFIGMAPS}/a", dict(moved, metadata=dict(moved["metadata"], labels={"app": "z"}))
    )
    # cacheWatcher.convertToWatchEvent: entering the selection is ADDED, leaving it DELETED.
    assert _summary(server.events(watch)) == [("ADDED", "a"), ("DELETED", "a")]


def test_field_selector_watch_on_one_name(server: LocalApiServer) -> None:
    watch = server.watch(CONFIGMAPS, {"fieldSelector": "metadata.name=b"})
    server.call("POST", CONFIGMAPS, configmap("a"))
    server.call("POST", CONFIGMAPS, configmap("b"))
    assert _summary(server.events(watch)) == [("ADDED", "b")]


def test_too_old_resource_version_is_one_error_event_then_the_end(config: Config) -> None:
    server = LocalApiServer(config=msgspec.structs.replace(config, watch_cache_capacity=3))
    start = server.call("GET", CONFIGMAPS).body["metadata"]["resourceVersion"]
    for name in "abcdef":
        server.call("POST", CONFIGMAPS, configmap(name))
    watch = server.watch(CONFIGMAPS, {"resourceVersion": start})
    events = server.events(watch)
    assert len(events) == 1
    assert events[0]["type"] == "ERROR"
    status = events[0]["object"]
    assert status["kind"] == "Status"
    assert status["code"] == 410
    assert status["reason"] == "Expired"
    # The window holds the last 3 revisions: the oldest watchable RV is current - 3.
    current = int(server.call("GET", CONFIGMAPS).body["metadata"]["resourceVersion"])
    assert status["message"] == f"too old resource version: {start} ({current - 3})"
    assert watch not in server.recorder.open


def test_bookmarks_carry_only_the_resource_version(server: LocalApiServer) -> None:
    listed = server.call("GET", CONFIGMAPS).body["metadata"]["resourceVersion"]
    watch = server.watch(CONFIGMAPS, {"resourceVersion": listed, "allowWatchBookmarks": "true"})
    server.call("POST", "/api/v1/namespaces/default/secrets", {"metadata": {"name": "s"}})
    server.tick(60)
    events = server.events(watch)
    assert [event["type"] for event in events] == ["BOOKMARK"]
    bookmark = events[0]["object"]
    assert bookmark["kind"] == "ConfigMap"
    assert bookmark["apiVersion"] == "v1"
    assert int(bookmark["metadata"]["resourceVersion"]) > int(listed)
    assert set(bookmark["metadata"]) == {"resourceVersion"}


def test_no_bookmarks_unless_asked(server: LocalApiServer) -> None:
    watch = server.watch(CONFIGMAPS, {"resourceVersion": "1"})
    server.call("POST", "/api/v1/namespaces/default/secrets", {"metadata": {"name": "s"}})
    server.tick(60)
    assert server.events(watch) == []


def test_timeout_seconds_ends_the_watch(server: LocalApiServer) -> None:
    watch = server.watch(CONFIGMAPS, {"timeoutSeconds": "30"})
    server.tick(29)
    assert watch in server.recorder.open
    server.tick(1)
    assert watch not in server.recorder.open


def test_name_selector_does_not_match_longer_names(server: LocalApiServer) -> None:
    watch = server.watch(
        f"{CONFIGMAPS}", {"fieldSelector": "metadata.name=a", "resourceVersion": "1"}
    )
    server.call("POST", CONFIGMAPS, configmap("a"))
    server.call("POST", CONFIGMAPS, configmap("ab"))
    assert _summary(server.events(watch)) == [("ADDED", "a")]


def test_bookmarks_come_about_once_a_minute(server: LocalApiServer) -> None:
    listed = server.call("GET", CONFIGMAPS).body["metadata"]["resourceVersion"]
    watch = server.watch(CONFIGMAPS, {"resourceVersion": listed, "allowWatchBookmarks": "true"})
    secrets = "/api/v1/namespaces/default/secrets"
    server.call("POST", secrets, {"metadata": {"name": "s1"}})
    server.tick(60)
    server.call("POST", secrets, {"metadata": {"name": "s2"}})
    server.tick(1)
    assert len(server.events(watch)) == 1
    server.tick(59)
    assert [event["type"] for event in server.events(watch)] == ["BOOKMARK", "BOOKMARK"]
    server.tick(60)  # nothing changed since the last bookmark
    assert len(server.events(watch)) == 2


def test_table_watch_sends_column_definitions_only_first(server: LocalApiServer) -> None:
    # handlers/response.go watchEmbeddedEncoder: NoHeaders after the first event.
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    request = ApiRequest(
        method="GET",
        path=CONFIGMAPS,
        query=(("watch", "true"), ("resourceVersion", "1")),
        accept=accept,
    )
    watch = server.send(request)
    server.call("POST", CONFIGMAPS, configmap("a", {"k": "v"}))
    server.call("POST", CONFIGMAPS, configmap("b"))
    first, second = (event["object"] for event in server.events(watch))
    assert first["kind"] == "Table"
    assert [c["name"] for c in first["columnDefinitions"]] == ["Name", "Data", "Age"]
    assert first["rows"][0]["cells"][:2] == ["a", 1]
    assert second["columnDefinitions"] is None
    assert second["rows"][0]["cells"][0] == "b"
