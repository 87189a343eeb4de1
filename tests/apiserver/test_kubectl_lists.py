"""kubectl v1.32 creating ``v1 List`` files against ``kubeoracle serve apiserver``.

kubectl validates a List's items on the client with the OpenAPI v2 document it fetches as
protobuf (``/openapi/v2``); without that document every ``kubectl create -f`` of a List, such as
the output of ``kubectl get -o yaml``, fails before reaching the server.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.apiserver.kubectl import Served, kubectl, require_kubectl, serve

pytestmark = [pytest.mark.kubectl]


@pytest.fixture(autouse=True)
def _kubectl_installed() -> None:
    require_kubectl()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve(tmp_path_factory.mktemp("apiserver")) as running:
        yield running


def _configmap(name: str, **fields: object) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, **fields}


def _list(*items: dict[str, object]) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": list(items)})


def _names(served: Served) -> dict[str, object]:
    result = kubectl(served, "get", "configmaps", "-o", "json")
    assert result.returncode == 0, result.stderr
    items = json.loads(result.stdout)["items"]
    return {item["metadata"]["name"]: item.get("data") for item in items}


def test_create_a_json_list_creates_every_item(served: Served) -> None:
    listed = _list(_configmap("one", data={"k": "1"}), _configmap("two"))
    result = kubectl(served, "create", "-f", "-", stdin=listed)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["configmap/one created", "configmap/two created"]
    names = _names(served)
    assert names["one"] == {"k": "1"}
    assert "two" in names


def test_get_output_creates_the_same_objects_again(served: Served, tmp_path: Path) -> None:
    for name, value in (("g1", "a"), ("g2", "b")):
        created = kubectl(served, "create", "configmap", name, f"--from-literal=v={value}")
        assert created.returncode == 0, created.stderr
    saved = kubectl(served, "get", "configmap", "g1", "g2", "-o", "yaml")
    assert saved.returncode == 0, saved.stderr
    assert "kind: List" in saved.stdout
    (tmp_path / "saved.yaml").write_text(saved.stdout)
    deleted = kubectl(served, "delete", "configmap", "g1", "g2")
    assert deleted.returncode == 0, deleted.stderr
    assert not {"g1", "g2"} & set(_names(served))
    # The saved objects carry uid and resourceVersion; create refuses neither, as with
    # kube-apiserver (a create clears the resourceVersion and the server assigns a new uid).
    again = kubectl(served, "create", "-f", str(tmp_path / "saved.yaml"))
    assert again.returncode == 0, again.stderr
    names = _names(served)
    assert (names["g1"], names["g2"]) == ({"v": "a"}, {"v": "b"})


def test_an_unknown_field_in_an_item_is_refused_by_kubectls_validation(served: Served) -> None:
    listed = _list(_configmap("bad1", bogus={"x": 1}), _configmap("bad2"))
    result = kubectl(served, "create", "-f", "-", stdin=listed)
    assert result.returncode == 1
    assert 'ValidationError(ConfigMap): unknown field "bogus"' in result.stderr
    # kubectl validates the whole List before creating anything.
    assert not {"bad1", "bad2"} & set(_names(served))
    # --validate=false sends fieldValidation=Ignore: the server drops the unknown field.
    skipped = kubectl(served, "create", "-f", "-", "--validate=false", stdin=listed)
    assert skipped.returncode == 0, skipped.stderr
    stored = kubectl(served, "get", "configmap", "bad1", "-o", "json")
    assert stored.returncode == 0, stored.stderr
    assert "bogus" not in json.loads(stored.stdout)
