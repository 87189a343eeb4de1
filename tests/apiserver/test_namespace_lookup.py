"""A create whose namespace the watch cache has not seen yet looks it up in the store, as the
NamespaceLifecycle admission plugin does when its informer misses a namespace (a live GET),
instead of answering 404 at once: with a real etcd the cache trails the store."""

from __future__ import annotations

import msgspec

from impl.apiserver.context import Config
from impl.apiserver.machine import init, on_event
from impl.apiserver.state import LOAD_OPERATION, ApiServerState
from models.apiserver.messages import (
    ApiRequest,
    Entropy,
    RequestReceived,
    Respond,
    StorageRange,
    StorageReplied,
    StorageTxn,
)
from models.etcd import KeyValue, RangeResponse, ResponseHeader

ENTROPY = Entropy(now="2026-01-01T00:00:00Z", now_seconds=1_767_225_600, uid="u-1",
                  name_suffixes=("abcde",))  # fmt: skip
NAMESPACE_KEY = b"/registry/namespaces/late"


def _loaded_without_namespaces(config: Config) -> ApiServerState:
    empty = RangeResponse(header=ResponseHeader(revision=5))
    step = on_event(config, init(config).state, StorageReplied(operation_id=LOAD_OPERATION,
                                                             result=empty))  # fmt: skip
    return step.state


def _create(config: Config, state: ApiServerState) -> tuple[ApiServerState, StorageRange]:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    request = ApiRequest(
        method="POST",
        path="/api/v1/namespaces/late/configmaps",
        content_type="application/json",
        body=msgspec.json.encode(body),
    )
    step = on_event(config, state, RequestReceived(request_id=1, request=request, entropy=ENTROPY))
    (command,) = step.commands
    assert isinstance(command, StorageRange)
    assert command.request.key == NAMESPACE_KEY
    return step.state, command


def test_a_namespace_the_cache_missed_is_read_from_the_store(config: Config) -> None:
    state, lookup = _create(config, _loaded_without_namespaces(config))
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "late"},
                 "status": {"phase": "Active"}}  # fmt: skip
    kv = KeyValue(key=NAMESPACE_KEY, create_revision=6, mod_revision=6, version=1,
                  value=msgspec.json.encode(namespace))  # fmt: skip
    found = RangeResponse(header=ResponseHeader(revision=6), kvs=(kv,), count=1)
    step = on_event(config, state, StorageReplied(operation_id=lookup.operation_id, result=found))
    (commit,) = step.commands
    assert isinstance(commit, StorageTxn)
    assert commit.request.success[0].key == b"/registry/configmaps/late/c"  # type: ignore[union-attr]


def test_a_namespace_the_store_lacks_too_is_404(config: Config) -> None:
    state, lookup = _create(config, _loaded_without_namespaces(config))
    absent = RangeResponse(header=ResponseHeader(revision=6))
    step = on_event(config, state, StorageReplied(operation_id=lookup.operation_id, result=absent))
    (answer,) = step.commands
    assert isinstance(answer, Respond)
    assert answer.response.status == 404
    assert msgspec.json.decode(answer.response.body)["message"] == 'namespaces "late" not found'
