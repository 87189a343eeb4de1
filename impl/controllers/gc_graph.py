"""The garbage collector's dependency graph, built from metadata informers.

Theory of operation (``pkg/controller/garbagecollector/graph_builder.go``, v1.35). Every
object is a node by UID with its owner references; an owner that was never observed gets a
*virtual* node, queued so a worker can check with the API server whether it exists. Changes
queue work:

- a node whose owner references lose an owner blocking its deletion, or whose owner is deleted,
  queues its dependents (``attemptToDelete``), and a deleted node queues its owners that are
  deleting their dependents (so they can finish);
- an owner that starts being deleted with the ``orphan`` finalizer queues an orphaning
  (``attemptToOrphan``); one with ``foregroundDeletion`` is marked deleting-dependents and
  queues itself and all its dependents.

Keys are ``delete/<uid>`` and ``orphan/<uid>``. Owners found absent are remembered
(``absentOwnerCache``, bounded) so dependents need not look them up again.
"""

from __future__ import annotations

from typing import Any, Final

import immutables
import msgspec

from impl.controllers.cache import Change
from impl.controllers.objects import meta
from impl.controllers.plan import Context, Reaction
from models.k8s.meta import OwnerReference

ORPHAN: Final = "orphan"
FOREGROUND: Final = "foregroundDeletion"
ABSENT_CACHE_SIZE: Final = 500


class Identity(msgspec.Struct, frozen=True, kw_only=True):
    """An object's coordinates (``objectReference``)."""

    api_version: str
    kind: str
    namespace: str
    name: str
    uid: str


class Node(msgspec.Struct, frozen=True, kw_only=True):
    identity: Identity
    owners: tuple[OwnerReference, ...] = ()
    dependents: frozenset[str] = frozenset()
    being_deleted: bool = False
    deleting_dependents: bool = False
    virtual: bool = False


class Graph(msgspec.Struct, frozen=True, kw_only=True):
    nodes: immutables.Map[str, Node] = msgspec.field(default_factory=immutables.Map)
    absent: tuple[Identity, ...] = ()
    """Owners the API server said are gone, newest last (an LRU of ``ABSENT_CACHE_SIZE``)."""


def delete_key(uid: str) -> str:
    return f"delete/{uid}"


def orphan_key(uid: str) -> str:
    return f"orphan/{uid}"


def owner_identity(reference: OwnerReference, namespace: str) -> Identity:
    return Identity(
        api_version=reference.api_version or "",
        kind=reference.kind or "",
        namespace=namespace,
        name=reference.name or "",
        uid=reference.uid or "",
    )


def remember_absent(graph: Graph, identity: Identity) -> Graph:
    kept = tuple(i for i in graph.absent if i != identity)[-(ABSENT_CACHE_SIZE - 1) :]
    return msgspec.structs.replace(graph, absent=(*kept, identity))


def is_absent(graph: Graph, identity: Identity) -> bool:
    return identity in graph.absent


def _finalizers(obj: Any) -> tuple[str, ...]:
    return tuple(meta(obj).finalizers or ())


def _being_deleted(obj: Any) -> bool:
    return meta(obj).deletion_timestamp is not None


def _waits(obj: Any, finalizer: str) -> bool:
    return obj is not None and _being_deleted(obj) and finalizer in _finalizers(obj)


def blocking_dependents(graph: Graph, node: Node) -> list[Node]:
    """Dependents whose reference to ``node`` has ``blockOwnerDeletion``."""
    found = []
    for uid in sorted(node.dependents):
        dependent = graph.nodes.get(uid)
        if dependent is None:
            continue
        if any(o.uid == node.identity.uid and o.block_owner_deletion for o in dependent.owners):
            found.append(dependent)
    return found


class _Builder:
    """One graph change being folded in: the graph and the keys it queues (local, mutable)."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.adds: list[str] = []

    def put(self, node: Node) -> None:
        self.graph = msgspec.structs.replace(
            self.graph, nodes=self.graph.nodes.set(node.identity.uid, node)
        )

    def queue_delete(self, uid: str) -> None:
        self.adds.append(delete_key(uid))

    def add_dependent_to_owners(self, node: Node, owners: tuple[OwnerReference, ...]) -> None:
        suspicious = False
        for owner in owners:
            uid = owner.uid or ""
            owner_node = self.graph.nodes.get(uid)
            if owner_node is None:
                owner_node = Node(
                    identity=owner_identity(owner, node.identity.namespace), virtual=True
                )
                self.put(
                    msgspec.structs.replace(owner_node, dependents=frozenset({node.identity.uid}))
                )
                self.queue_delete(uid)
                continue
            self.put(
                msgspec.structs.replace(
                    owner_node, dependents=owner_node.dependents | {node.identity.uid}
                )
            )
            namespaced = bool(owner_node.identity.namespace)
            if (namespaced and owner_node.identity.namespace != node.identity.namespace) or (
                owner_node.identity.api_version,
                owner_node.identity.kind,
                owner_node.identity.name,
            ) != (
                owner.api_version or "",
                owner.kind or "",
                owner.name or "",
            ):
                suspicious = True
        if suspicious:
            self.queue_delete(node.identity.uid)

    def remove_dependent_from_owners(self, node: Node, owners: tuple[OwnerReference, ...]) -> None:
        for owner in owners:
            owner_node = self.graph.nodes.get(owner.uid or "")
            if owner_node is not None:
                self.put(
                    msgspec.structs.replace(
                        owner_node, dependents=owner_node.dependents - {node.identity.uid}
                    )
                )

    def unblocked_owners(
        self, removed: list[OwnerReference], changed: list[tuple[OwnerReference, OwnerReference]]
    ) -> None:
        """``addUnblockedOwnersToDeleteQueue``."""
        for reference in removed:
            if reference.block_owner_deletion:
                owner = self.graph.nodes.get(reference.uid or "")
                if owner is not None:
                    self.queue_delete(owner.identity.uid)
        for old, new in changed:
            if old.block_owner_deletion and not new.block_owner_deletion:
                owner = self.graph.nodes.get(new.uid or "")
                if owner is not None:
                    self.queue_delete(owner.identity.uid)

    def transitions(self, old: Any, new: Any, node: Node) -> None:
        if _waits(new, ORPHAN) and not _waits(old, ORPHAN):
            self.adds.append(orphan_key(node.identity.uid))
            return
        if _waits(new, FOREGROUND) and not _waits(old, FOREGROUND):
            node = self.graph.nodes.get(node.identity.uid, node)
            self.put(msgspec.structs.replace(node, deleting_dependents=True))
            for uid in sorted(node.dependents):
                self.queue_delete(uid)
            self.queue_delete(node.identity.uid)


def _identity(obj: Any) -> Identity:
    return Identity(
        api_version=obj.api_version or "",
        kind=obj.kind or "",
        namespace=meta(obj).namespace or "",
        name=meta(obj).name or "",
        uid=meta(obj).uid or "",
    )


def _diff(
    old: tuple[OwnerReference, ...], new: tuple[OwnerReference, ...]
) -> tuple[list[OwnerReference], list[OwnerReference], list[tuple[OwnerReference, OwnerReference]]]:
    before = {o.uid: o for o in old}
    after = {o.uid: o for o in new}
    added = [o for uid, o in after.items() if uid not in before]
    removed = [o for uid, o in before.items() if uid not in after]
    changed = [(before[uid], o) for uid, o in after.items() if uid in before and before[uid] != o]
    return added, removed, changed


def _added_or_updated(builder: _Builder, old: Any, obj: Any, identity: Identity) -> None:
    owners = tuple(meta(obj).owner_references or ())
    existing = builder.graph.nodes.get(identity.uid)
    if existing is None:
        node = Node(
            identity=identity,
            owners=owners,
            being_deleted=_being_deleted(obj),
            deleting_dependents=_waits(obj, FOREGROUND),
        )
        builder.put(node)
        builder.add_dependent_to_owners(node, owners)
        builder.transitions(old, obj, node)
        return
    added, removed, changed = _diff(existing.owners, owners)
    node = existing
    if existing.virtual:
        node = msgspec.structs.replace(node, identity=identity, virtual=False)
        builder.put(node)
    if added or removed or changed:
        builder.unblocked_owners(removed, changed)
        node = msgspec.structs.replace(builder.graph.nodes[identity.uid], owners=owners)
        builder.put(node)
        builder.add_dependent_to_owners(node, tuple(added))
        builder.remove_dependent_from_owners(node, tuple(removed))
    if _being_deleted(obj):
        builder.put(msgspec.structs.replace(builder.graph.nodes[identity.uid], being_deleted=True))
    builder.transitions(old, obj, builder.graph.nodes[identity.uid])


def remove_node(builder: _Builder, node: Node, identity: Identity) -> None:
    """A node is gone: drop it, queue its dependents and its deleting-dependents owners."""
    builder.graph = msgspec.structs.replace(
        builder.graph, nodes=builder.graph.nodes.delete(node.identity.uid)
    )
    builder.remove_dependent_from_owners(node, node.owners)
    if node.dependents:
        builder.graph = remember_absent(builder.graph, identity)
    for uid in sorted(node.dependents):
        builder.queue_delete(uid)
    for owner in node.owners:
        owner_node = builder.graph.nodes.get(owner.uid or "")
        if owner_node is not None and owner_node.deleting_dependents:
            builder.queue_delete(owner_node.identity.uid)


def observe(context: Context[Graph], change: Change) -> Reaction[Graph]:
    """``processGraphChanges`` for one informer event."""
    builder = _Builder(context.private)
    obj = change.current
    identity = _identity(obj)
    if change.change == "DELETED":
        node = builder.graph.nodes.get(identity.uid)
        if node is not None:
            remove_node(builder, node, identity)
    else:
        _added_or_updated(builder, change.old, obj, identity)
    return Reaction(
        expectations=context.expectations, private=builder.graph, adds=tuple(builder.adds)
    )


def virtual_delete(graph: Graph, identity: Identity) -> tuple[Graph, tuple[str, ...]]:
    """The API server says ``identity`` does not exist (``enqueueVirtualDeleteEvent``)."""
    builder = _Builder(graph)
    node = graph.nodes.get(identity.uid)
    if node is None:
        return graph, ()
    if node.virtual or node.identity == identity:
        remove_node(builder, node, identity)
    return builder.graph, tuple(builder.adds)
