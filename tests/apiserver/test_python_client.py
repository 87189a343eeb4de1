"""The official Python client (``kubernetes`` from PyPI) against ``kubeoracle serve apiserver``:
typed CRUD, list then watch from the list's resourceVersion, resumption from the last event's
resourceVersion, and the 410 a too-old resourceVersion gets (the client raises it)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

from tests.apiserver.kubectl import STORES, serve_on

pytestmark = pytest.mark.kubectl

WATCH_CACHE = 5


@pytest.fixture(scope="module", params=STORES)
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    tmp = tmp_path_factory.mktemp("python-client")
    with serve_on(request.param, tmp, "--watch-cache-size", str(WATCH_CACHE)) as served:
        configuration = client.Configuration()
        config.load_kube_config(
            config_file=str(served.kubeconfig), client_configuration=configuration
        )
        with client.ApiClient(configuration) as api_client:
            yield client.CoreV1Api(api_client)


def _configmap(name: str, value: str = "1") -> Any:
    return client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name), data={"k": value})


def _events(api: Any, namespace: str, resource_version: str) -> list[tuple[str, str, str]]:
    stream = watch.Watch().stream(
        api.list_namespaced_config_map,
        namespace,
        resource_version=resource_version,
        timeout_seconds=1,
    )
    return [
        (event["type"], event["object"].metadata.name, event["object"].metadata.resource_version)
        for event in stream
    ]


def test_typed_crud(api: Any) -> None:
    created = api.create_namespaced_config_map("default", _configmap("crud"))
    assert created.metadata.uid
    read = api.read_namespaced_config_map("crud", "default")
    assert read.data == {"k": "1"}
    read.data = {"k": "2"}
    replaced = api.replace_namespaced_config_map("crud", "default", read)
    assert int(replaced.metadata.resource_version) > int(created.metadata.resource_version)
    with pytest.raises(ApiException) as conflict:
        api.replace_namespaced_config_map("crud", "default", read)  # read's RV is now stale
    assert conflict.value.status == 409
    api.delete_namespaced_config_map("crud", "default")
    with pytest.raises(ApiException) as missing:
        api.read_namespaced_config_map("crud", "default")
    assert missing.value.status == 404


def test_list_then_watch_from_the_lists_version(api: Any) -> None:
    api.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="listwatch")))
    api.create_namespaced_config_map("listwatch", _configmap("before"))
    listed = api.list_namespaced_config_map("listwatch")
    assert [item.metadata.name for item in listed.items] == ["before"]
    api.create_namespaced_config_map("listwatch", _configmap("after"))
    api.patch_namespaced_config_map("before", "listwatch", {"data": {"k": "9"}})
    events = _events(api, "listwatch", listed.metadata.resource_version)
    assert [(kind, name) for kind, name, _ in events] == [
        ("ADDED", "after"),
        ("MODIFIED", "before"),
    ]


def test_watch_resumes_from_the_last_event(api: Any) -> None:
    api.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="resume")))
    start = api.list_namespaced_config_map("resume").metadata.resource_version
    api.create_namespaced_config_map("resume", _configmap("one"))
    first = _events(api, "resume", start)
    assert [(kind, name) for kind, name, _ in first] == [("ADDED", "one")]
    api.create_namespaced_config_map("resume", _configmap("two"))
    api.delete_namespaced_config_map("one", "resume")
    resumed = _events(api, "resume", first[-1][2])
    assert [(kind, name) for kind, name, _ in resumed] == [("ADDED", "two"), ("DELETED", "one")]


def test_a_too_old_resource_version_raises_410(api: Any) -> None:
    api.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="old")))
    start = api.list_namespaced_config_map("old").metadata.resource_version
    for index in range(WATCH_CACHE + 2):
        api.create_namespaced_config_map("old", _configmap(f"c{index}"))
    with pytest.raises(ApiException) as expired:
        _events(api, "old", start)
    # kubernetes.watch.Watch raises the ERROR event's Status as an ApiException.
    assert expired.value.status == 410
    assert "too old resource version" in str(expired.value.reason)


def test_delete_collection_by_label(api: Any) -> None:
    for name, team in (("dc-a", "x"), ("dc-b", "x"), ("dc-c", "y")):
        body = _configmap(name)
        body.metadata.labels = {"dc-team": team}
        api.create_namespaced_config_map("default", body)
    api.delete_collection_namespaced_config_map("default", label_selector="dc-team=x")
    left = api.list_namespaced_config_map("default", label_selector="dc-team").items
    assert [item.metadata.name for item in left] == ["dc-c"]
