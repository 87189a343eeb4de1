"""meta/v1: ObjectMeta, ListMeta, OwnerReference, Condition, LabelSelector and timestamps.

Throughout the model a field is ``None`` when the JSON leaves it out, and Go's zero value
(``""``, ``0``, ``false``) applies; an explicit zero is kept as written, so decoding and
encoding give back the same JSON.

Timestamps (``metav1.Time``, ``metav1.MicroTime``) are kept as the RFC 3339 text they were
written with. Go prints a zero ``metav1.Time`` that is not a pointer as ``null`` (for example
``creationTimestamp: null`` in dry-run output, ``lastProbeTime: null`` in pod conditions), so
those fields distinguish three states: absent (``UNSET``, left out), ``null`` (``None``) and a
time (a string).
"""

from __future__ import annotations

from typing import TypeAlias

import msgspec
from msgspec import UNSET, UnsetType

from models.k8s.base import ApiStruct, FrozenMap, Opaque
from models.selectors import LabelSelector, LabelSelectorRequirement

__all__ = [
    "UNSET",
    "Condition",
    "LabelSelector",
    "LabelSelectorRequirement",
    "ListMeta",
    "ObjectMeta",
    "OwnerReference",
    "Timestamp",
    "UnsetType",
]

Timestamp: TypeAlias = str | UnsetType | None
"""A ``metav1.Time`` value field: ``UNSET`` when absent, ``None`` for ``null``, else RFC 3339."""


class OwnerReference(ApiStruct, frozen=True, kw_only=True):
    """``metav1.OwnerReference``: the owner's identity; ``controller`` marks the managing one."""

    api_version: str | None = None
    kind: str | None = None
    name: str | None = None
    uid: str | None = None
    controller: bool | None = None
    block_owner_deletion: bool | None = None


class ObjectMeta(ApiStruct, frozen=True, kw_only=True):
    """``metav1.ObjectMeta``. ``managedFields`` is kept opaque (server-side apply bookkeeping)."""

    name: str | None = None
    generate_name: str | None = None
    namespace: str | None = None
    self_link: str | None = None
    uid: str | None = None
    resource_version: str | None = None
    generation: int | None = None
    creation_timestamp: Timestamp = UNSET
    deletion_timestamp: str | None = None
    deletion_grace_period_seconds: int | None = None
    labels: FrozenMap[str, str] | None = None
    annotations: FrozenMap[str, str] | None = None
    owner_references: tuple[OwnerReference, ...] | None = None
    finalizers: tuple[str, ...] | None = None
    managed_fields: Opaque | UnsetType = UNSET

    def label_map(self) -> FrozenMap[str, str]:
        """The labels, empty when there are none."""
        return self.labels if self.labels is not None else FrozenMap()

    def annotation_map(self) -> FrozenMap[str, str]:
        """The annotations, empty when there are none."""
        return self.annotations if self.annotations is not None else FrozenMap()

    def controller_reference(self) -> OwnerReference | None:
        """The owner reference with ``controller: true`` (``metav1.GetControllerOf``)."""
        for reference in self.owner_references or ():
            if reference.controller:
                return reference
        return None


class ListMeta(ApiStruct, frozen=True, kw_only=True):
    """``metav1.ListMeta``."""

    self_link: str | None = None
    resource_version: str | None = None
    continue_: str | None = msgspec.field(default=None, name="continue")
    remaining_item_count: int | None = None
    shard_info: Opaque | UnsetType = UNSET


class Condition(ApiStruct, frozen=True, kw_only=True):
    """``metav1.Condition`` (used in Service status)."""

    type: str | None = None
    status: str | None = None
    observed_generation: int | None = None
    last_transition_time: Timestamp = UNSET
    reason: str | None = None
    message: str | None = None
