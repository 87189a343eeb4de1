"""The claim step a sync runs before acting, when some objects must be adopted or released.

A sync that finds objects to adopt or release first makes those calls and resumes afterwards:
with adoptions, one live read of the owner, then the patches in one batch (``ClaimObject``
per object; a patch that meets a vanished object counts as done). The sync then acts on what
it holds: the objects it owned plus the ones it adopted (``settle``), even though its cache may
not show the new owner references yet.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from impl.controllers.objects import meta
from impl.controllers.ownership import (
    Claim,
    adopt_call,
    recheck_call,
    recheck_passes,
    release_call,
)
from impl.controllers.plan import Planned, Reply
from models.controllers.resources import Resource

NOT_FOUND = frozenset({404})


class Claiming(msgspec.Struct, frozen=True, kw_only=True, tag="claiming"):
    """Where a claim stands: ``recheck`` (the owner's live read is out) or ``patch``."""

    stage: Literal["recheck", "patch"]
    adopted: tuple[str, ...]


def _names(objects: tuple[Any, ...]) -> tuple[str, ...]:
    return tuple(sorted(meta(obj).name or "" for obj in objects))


def start(
    owner: Any, owner_resource: Resource, claim: Claim, obj_resource: Resource
) -> tuple[tuple[Planned, ...], Claiming]:
    """The first batch of a claim, and its memo."""
    if claim.adopt:
        recheck = Planned(call=recheck_call(owner, owner_resource))
        return (recheck,), Claiming(stage="recheck", adopted=_names(claim.adopt))
    return patch_batch(owner, owner_resource, claim, obj_resource, ()), Claiming(
        stage="patch", adopted=()
    )


def patch_batch(
    owner: Any,
    owner_resource: Resource,
    claim: Claim,
    obj_resource: Resource,
    adopted: tuple[str, ...],
) -> tuple[Planned, ...]:
    adopts = [obj for obj in claim.adopt if (meta(obj).name or "") in adopted]
    calls = [adopt_call(owner, owner_resource, obj, obj_resource) for obj in adopts]
    calls += [release_call(owner, obj, obj_resource) for obj in claim.release]
    return tuple(Planned(call=call, tolerated=NOT_FOUND) for call in calls)


def advance(
    owner: Any,
    owner_resource: Resource,
    claim: Claim,
    obj_resource: Resource,
    memo: Claiming,
    replies: tuple[Reply, ...],
    failed: bool,
) -> tuple[tuple[Planned, ...], Claiming] | str | None:
    """After a claim batch: the next batch and memo, an error text, or None when settled."""
    if memo.stage == "recheck":
        if failed or not replies or not recheck_passes(owner, replies[0].answer.body):
            name = meta(owner).name or ""
            return f"{owner_resource.kind} {name} could not adopt: it was deleted or replaced"
        return patch_batch(owner, owner_resource, claim, obj_resource, memo.adopted), Claiming(
            stage="patch", adopted=memo.adopted
        )
    if failed:
        return "claiming failed: a patch was refused"
    return None


def settle(claim: Claim, memo: Claiming) -> tuple[Any, ...]:
    """What the owner holds after a claim that went through."""
    return (*claim.owned, *(obj for obj in claim.adopt if (meta(obj).name or "") in memo.adopted))
