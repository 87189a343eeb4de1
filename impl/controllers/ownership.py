"""Owner references: which objects a controller claims, adopts and releases.

Theory of operation (``pkg/controller/controller_ref_manager.go``, ``ClaimObject``). An object
whose controller reference names another owner is never touched. One that names this owner is
kept while the selector matches, and released (its reference patched away) when it no longer
matches, unless the owner is being deleted. An orphan (no controller reference) that matches,
is not being deleted and lives in the owner's namespace is adopted: a strategic merge patch
adds a controller reference with ``blockOwnerDeletion`` (the pod's UID in the patch is a
precondition). Before the first adoption the owner is read live (``RecheckDeletionTimestamp``):
an owner that was replaced or is being deleted must not adopt.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from impl.controllers.objects import controller_of, deleting, meta, uid
from models.controllers.messages import ApiCall
from models.controllers.resources import Resource

STRATEGIC = "application/strategic-merge-patch+json"


class Claim(msgspec.Struct, frozen=True, kw_only=True):
    """The objects an owner keeps, and the ones it must adopt or release first."""

    owned: tuple[Any, ...] = ()
    adopt: tuple[Any, ...] = ()
    release: tuple[Any, ...] = ()

    @property
    def settled(self) -> bool:
        return not self.adopt and not self.release

    def claimed(self) -> tuple[Any, ...]:
        """What the owner holds once the adoptions went through."""
        return (*self.owned, *self.adopt)


def controller_reference(owner: Any, resource: Resource) -> dict[str, Any]:
    """``metav1.NewControllerRef``: controller and blockOwnerDeletion set."""
    return {
        "apiVersion": resource.api_version,
        "kind": resource.kind,
        "name": meta(owner).name or "",
        "uid": uid(owner),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def claim(owner: Any, candidates: Sequence[Any], matches: Callable[[Any], bool]) -> Claim:
    owned: list[Any] = []
    adopt: list[Any] = []
    release: list[Any] = []
    owner_uid, owner_deleting = uid(owner), deleting(owner)
    owner_namespace = meta(owner).namespace or ""
    for obj in candidates:
        reference = controller_of(obj)
        if reference is not None:
            if reference.uid != owner_uid:
                continue
            if matches(obj):
                owned.append(obj)
            elif not owner_deleting:
                release.append(obj)
            continue
        if owner_deleting or not matches(obj) or deleting(obj):
            continue
        if owner_namespace and owner_namespace != (meta(obj).namespace or ""):
            continue
        adopt.append(obj)
    return Claim(owned=tuple(owned), adopt=tuple(adopt), release=tuple(release))


def adopt_call(owner: Any, owner_resource: Resource, obj: Any, obj_resource: Resource) -> ApiCall:
    body = {
        "metadata": {
            "ownerReferences": [controller_reference(owner, owner_resource)],
            "uid": uid(obj),
        }
    }
    return _patch(obj, obj_resource, body)


def release_call(owner: Any, obj: Any, obj_resource: Resource) -> ApiCall:
    body = {
        "metadata": {"ownerReferences": [{"$patch": "delete", "uid": uid(owner)}], "uid": uid(obj)}
    }
    return _patch(obj, obj_resource, body)


def _patch(obj: Any, resource: Resource, body: dict[str, Any]) -> ApiCall:
    return ApiCall(
        method="PATCH",
        path=resource.object_path(meta(obj).namespace or "", meta(obj).name or ""),
        content_type=STRATEGIC,
        body=msgspec.json.encode(body, order="sorted"),
    )


def recheck_call(owner: Any, resource: Resource) -> ApiCall:
    """The live read of the owner before adopting."""
    return ApiCall(
        method="GET", path=resource.object_path(meta(owner).namespace or "", meta(owner).name or "")
    )


def recheck_passes(owner: Any, body: bytes) -> bool:
    """Did the live read show the same owner, not being deleted?"""
    try:
        fresh = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return False
    metadata = fresh.get("metadata") if isinstance(fresh, dict) else None
    if not isinstance(metadata, dict):
        return False
    return metadata.get("uid") == uid(owner) and not metadata.get("deletionTimestamp")
