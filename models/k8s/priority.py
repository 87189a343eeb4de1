"""scheduling.k8s.io/v1 PriorityClass: a named pod priority (``value``), optionally the default
for pods that name none (``globalDefault``), with its preemption policy."""

from __future__ import annotations

from typing import Literal

from models.k8s.base import ApiStruct, Int32
from models.k8s.meta import ObjectMeta


class PriorityClass(ApiStruct, frozen=True, kw_only=True):
    api_version: Literal["scheduling.k8s.io/v1"] | None = None
    kind: Literal["PriorityClass"] | None = None
    metadata: ObjectMeta | None = None
    value: Int32 | None = None
    global_default: bool | None = None
    description: str | None = None
    preemption_policy: str | None = None
