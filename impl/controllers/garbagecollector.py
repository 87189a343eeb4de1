"""The garbage collector (``garbage-collector-controller``): owner references and deletion.

Theory of operation (``pkg/controller/garbagecollector/garbagecollector.go``, v1.35). The graph
(:mod:`impl.controllers.gc_graph`) queues work; workers act on what the API server says now,
not on the graph alone (live reads; the graph may lag):

- ``delete/<uid>`` (``attemptToDeleteItem``): read the item; gone or replaced, it is removed
  from the graph (a virtual delete). An item deleting its dependents (foreground) loses its
  ``foregroundDeletion`` finalizer once no dependent blocks it, else its blocking dependents are
  queued. Otherwise its owners are read: with an owner alive the item stays (references to
  absent owners, and to owners waiting for their dependents, are patched away); with an owner
  waiting for dependents and dependents of its own, it is deleted in the foreground; with no
  owner left it is deleted with the propagation its finalizers ask (orphan, foreground, or
  background). Deletes carry the UID and resourceVersion as preconditions; a conflict with
  unchanged owners retries without the resourceVersion.
- ``orphan/<uid>`` (``attemptToOrphanWorker``): remove the owner's reference from every
  dependent, then the ``orphan`` finalizer from the owner.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

import msgspec

from impl.controllers import gc_graph as graph_ops
from impl.controllers.calls import decoded, delete, get, patch
from impl.controllers.gc_graph import FOREGROUND, ORPHAN, Graph, Identity, Node
from impl.controllers.ownership import STRATEGIC
from impl.controllers.plan import (
    Context,
    ControllerDef,
    Outcome,
    Reaction,
    Reply,
    Watch,
    finished,
)
from impl.controllers.script import Script, Suspend
from models.controllers.config import ControllerConfig
from models.controllers.messages import Answered
from models.controllers.resources import BY_KIND, Resource

NAME: Final = "garbage-collector-controller"
WATCHED: Final = (
    "pods",
    "replicasets",
    "deployments",
    "daemonsets",
    "jobs",
    "services",
    "endpoints",
    "endpointslices",
    "serviceaccounts",
    "secrets",
    "configmaps",
    "leases",
    "nodes",
    "namespaces",
)
CONFLICT_RETRIES: Final = 4
FORGETS_ORPHANING: Final = "gc-forgets-orphaning"


class Run(msgspec.Struct, frozen=True, kw_only=True, tag="gc-run"):
    node: Node
    graph: Graph
    replies: tuple[Reply, ...]


@dataclass
class Env:
    script: Script
    graph: Graph
    config: ControllerConfig
    adds: list[str] = field(default_factory=list)
    error: str = ""


class NotServedError(Exception):
    """An owner reference names a kind the reference does not know (a REST mapping error)."""


def _resource(identity: Identity) -> Resource:
    found = BY_KIND.get((identity.api_version, identity.kind))
    if found is None:
        raise NotServedError(f"no resource for {identity.api_version} {identity.kind}")
    return found


def _metadata(answer: Answered) -> dict[str, Any]:
    body = decoded(answer)
    found = body.get("metadata") if isinstance(body, dict) else None
    return found if isinstance(found, dict) else {}


def _namespace_for(resource: Resource, identity: Identity) -> str:
    return identity.namespace if resource.namespaced else ""


def _read(env: Env, identity: Identity) -> Answered:
    resource = _resource(identity)
    return env.script.call(get(resource, _namespace_for(resource, identity), identity.name))


def _virtual_delete(env: Env, identity: Identity) -> None:
    env.graph, adds = graph_ops.virtual_delete(env.graph, identity)
    env.adds.extend(adds)


# Owners ---------------------------------------------------------------------------------------


def _dangling(env: Env, reference: dict[str, Any], item: Identity) -> tuple[bool, dict[str, Any]]:
    """``isDangling``: is the owner absent? (and its metadata when present)."""
    identity = Identity(
        api_version=str(reference.get("apiVersion", "")),
        kind=str(reference.get("kind", "")),
        namespace=item.namespace,
        name=str(reference.get("name", "")),
        uid=str(reference.get("uid", "")),
    )
    cluster_scoped = msgspec.structs.replace(identity, namespace="")
    if graph_ops.is_absent(env.graph, cluster_scoped) or graph_ops.is_absent(env.graph, identity):
        return True, {}
    resource = _resource(identity)
    key = identity if resource.namespaced else cluster_scoped
    if not item.namespace and resource.namespaced:
        raise NotServedError("a cluster-scoped item refers to a namespaced owner")
    answer = _read(env, key)
    if answer.status == 404:
        env.graph = graph_ops.remember_absent(env.graph, key)
        return True, {}
    if answer.status != 200:
        raise CallFailedError(f"reading owner {identity.name}: HTTP {answer.status}")
    metadata = _metadata(answer)
    if metadata.get("uid") != identity.uid:
        env.graph = graph_ops.remember_absent(env.graph, key)
        return True, {}
    return False, metadata


class CallFailedError(Exception):
    """A call failed: the item goes back to the queue, rate-limited."""


def _strip_references(env: Env, item: Identity, owner_uids: list[str]) -> None:
    """``GenerateDeleteOwnerRefStrategicMergeBytes``: patch owner references away."""
    resource = _resource(item)
    body = {
        "metadata": {
            "ownerReferences": [{"$patch": "delete", "uid": uid} for uid in owner_uids],
            "uid": item.uid,
        }
    }
    answer = env.script.call(
        patch(resource, _namespace_for(resource, item), item.name, body, STRATEGIC)
    )
    if not 200 <= answer.status < 300:
        raise CallFailedError(f"patching {item.name}: HTTP {answer.status}")


def _delete_object(env: Env, item: Identity, latest: dict[str, Any], policy: str) -> None:
    """``deleteObject`` with UID and resourceVersion preconditions."""
    resource = _resource(item)
    namespace = _namespace_for(resource, item)
    version = str(latest.get("resourceVersion") or "")
    owners = latest.get("ownerReferences")
    call = _delete_call(resource, namespace, item, policy, version)
    answer = env.script.call(call)
    if answer.status == 409 and version:
        live = env.script.call(get(resource, namespace, item.name))
        if live.status == 404:
            return
        if live.status != 200:
            raise CallFailedError(f"reading {item.name}: HTTP {live.status}")
        metadata = _metadata(live)
        if metadata.get("uid") != item.uid:
            return
        if metadata.get("ownerReferences") == owners:
            answer = env.script.call(_delete_call(resource, namespace, item, policy, ""))
    if not 200 <= answer.status < 300 and answer.status != 404:
        raise CallFailedError(f"deleting {item.name}: HTTP {answer.status}")


def _delete_call(
    resource: Resource, namespace: str, item: Identity, policy: str, version: str
) -> Any:
    call = delete(resource, namespace, item.name, propagation=policy, uid_precondition=item.uid)
    if not version:
        return call
    body = msgspec.json.decode(call.body)
    body["preconditions"]["resourceVersion"] = version
    return msgspec.structs.replace(call, body=msgspec.json.encode(body, order="sorted"))


def remove_finalizer(env: Env, owner: Identity, finalizer: str) -> None:
    """``removeFinalizer``: read, drop the finalizer, merge-patch with the resourceVersion;
    retried on conflict."""
    resource = _resource(owner)
    namespace = _namespace_for(resource, owner)
    for _ in range(CONFLICT_RETRIES):
        answer = env.script.call(get(resource, namespace, owner.name))
        if answer.status == 404:
            return
        if answer.status != 200:
            raise CallFailedError(f"cannot finalize {owner.name}: HTTP {answer.status}")
        metadata = _metadata(answer)
        finalizers = [str(f) for f in metadata.get("finalizers") or ()]
        if finalizer not in finalizers:
            return
        kept = [f for f in finalizers if f != finalizer]
        body = {
            "metadata": {
                "resourceVersion": metadata.get("resourceVersion"),
                "finalizers": kept or None,
            }
        }
        result = env.script.call(patch(resource, namespace, owner.name, body))
        if result.status != 409:
            if not 200 <= result.status < 300 and result.status != 404:
                raise CallFailedError(f"finalizing {owner.name}: HTTP {result.status}")
            return
    raise CallFailedError(f"updateMaxRetries({CONFLICT_RETRIES}) has reached for {owner.name}")


# Workers --------------------------------------------------------------------------------------


def _deleting_dependents(env: Env, node: Node) -> None:
    """``processDeletingDependentsItem``."""
    blocking = graph_ops.blocking_dependents(env.graph, node)
    if not blocking:
        remove_finalizer(env, node.identity, FOREGROUND)
        return
    for dependent in blocking:
        if not dependent.deleting_dependents:
            env.adds.append(graph_ops.delete_key(dependent.identity.uid))


def attempt_to_delete(env: Env, node: Node) -> bool:
    """``attemptToDeleteItem``; False when the item was found gone (a virtual delete)."""
    if node.being_deleted and not node.deleting_dependents:
        return True
    answer = _read(env, node.identity)
    if answer.status == 404:
        _virtual_delete(env, node.identity)
        return False
    if answer.status != 200:
        raise CallFailedError(f"reading {node.identity.name}: HTTP {answer.status}")
    latest = _metadata(answer)
    if latest.get("uid") != node.identity.uid:
        _virtual_delete(env, node.identity)
        return False
    if node.deleting_dependents:
        _deleting_dependents(env, node)
        return True
    references = [r for r in latest.get("ownerReferences") or () if isinstance(r, dict)]
    if not references:
        return True
    solid, dangling, waiting = [], [], []
    for reference in references:
        absent, owner = _dangling(env, reference, node.identity)
        if absent:
            dangling.append(reference)
        elif owner.get("deletionTimestamp") and FOREGROUND in (owner.get("finalizers") or ()):
            waiting.append(reference)
        else:
            solid.append(reference)
    if solid:
        if dangling or waiting:
            _strip_references(
                env, node.identity, [str(r.get("uid")) for r in (*dangling, *waiting)]
            )
        return True
    if waiting and node.dependents:
        _delete_object(env, node.identity, latest, "Foreground")
        return True
    finalizers = latest.get("finalizers") or ()
    policy = (
        "Orphan"
        if ORPHAN in finalizers
        else "Foreground"
        if FOREGROUND in finalizers
        else "Background"
    )
    _delete_object(env, node.identity, latest, policy)
    return True


def orphan_dependents(env: Env, node: Node) -> None:
    """``attemptToOrphanWorker``: strip the owner from its dependents, then the finalizer."""
    if env.config.mutant != FORGETS_ORPHANING:
        calls = []
        for uid in sorted(node.dependents):
            dependent = env.graph.nodes.get(uid)
            if dependent is None:
                continue
            resource = _resource(dependent.identity)
            body = {
                "metadata": {
                    "ownerReferences": [{"$patch": "delete", "uid": node.identity.uid}],
                    "uid": dependent.identity.uid,
                }
            }
            namespace = _namespace_for(resource, dependent.identity)
            calls.append(patch(resource, namespace, dependent.identity.name, body, STRATEGIC))
        answers = env.script.call_all(tuple(calls))
        failed = [a for a in answers if not 200 <= a.status < 300 and a.status != 404]
        if failed:
            raise CallFailedError(f"orphaning the dependents of {node.identity.name} failed")
    remove_finalizer(env, node.identity, ORPHAN)


# The controller -------------------------------------------------------------------------------


def handle(context: Context[Graph], change: Any) -> Reaction[Graph]:
    return graph_ops.observe(context, change)


def sync(context: Context[Graph], key: str) -> Outcome[Graph]:
    uid = key.partition("/")[2]
    node = context.private.nodes.get(uid)
    if node is None:
        return finished(context)
    return _run(context, Run(node=node, graph=context.private, replies=()), key)


def resume(
    context: Context[Graph], key: str, memo: Any, replies: tuple[Reply, ...], failed: bool
) -> Outcome[Graph]:
    del failed
    assert isinstance(memo, Run)
    return _run(context, msgspec.structs.replace(memo, replies=(*memo.replies, *replies)), key)


def _run(context: Context[Graph], run: Run, key: str) -> Outcome[Graph]:
    env = Env(script=Script(run.replies), graph=run.graph, config=context.config)
    error = ""
    try:
        if key.startswith("orphan/"):
            orphan_dependents(env, run.node)
        elif attempt_to_delete(env, run.node) and run.node.virtual:
            error = "item not observed yet"
    except Suspend as suspended:
        return Outcome(
            expectations=context.expectations,
            private=context.private,
            batches=(suspended.batch,),
            resume=True,
            memo=run,
        )
    except (CallFailedError, NotServedError) as failure:
        error = str(failure)
    merged = _merge(context.private, run.graph, env.graph)
    return Outcome(
        expectations=context.expectations, private=merged, adds=tuple(env.adds), error=error
    )


def _merge(current: Graph, before: Graph, after: Graph) -> Graph:
    """The worker's graph changes (absent owners, virtual deletes) applied to the graph as it
    is now (informer events may have changed it meanwhile)."""
    nodes = current.nodes
    for uid in before.nodes:
        if uid not in after.nodes and uid in nodes:
            nodes = nodes.delete(uid)
    absent = current.absent
    for identity in after.absent:
        if identity not in absent:
            absent = (*absent, identity)
    return Graph(nodes=nodes, absent=absent[-graph_ops.ABSENT_CACHE_SIZE :])


def _workers(config: ControllerConfig) -> int:
    return config.concurrent_gc_syncs


DEFINITION: ControllerDef[Graph] = ControllerDef(
    name=NAME,
    watches=tuple(Watch(resource, metadata_only=True) for resource in WATCHED),
    initial=lambda _config: Graph(),
    handle=handle,
    sync=sync,
    resume=resume,
    workers=_workers,
    aliases=("garbagecollector",),
)
