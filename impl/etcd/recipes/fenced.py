"""A resource guarded by an etcd lock, with or without fencing (pure).

Theory of operation. A holder presents its fencing token, the create revision of its lock key
(later holders have higher tokens), with every write. A fenced resource accepts a write only if
its token is at least the highest token it accepted before, so a holder whose lease expired
during a pause cannot write after the holder that replaced it. An unfenced resource accepts
every write, as a resource that trusts the lock does.
"""

from __future__ import annotations

from models.etcd_recipes import ResourceObservation, ResourceWrite


def highest_token(resource: ResourceObservation) -> int:
    """The highest token among the accepted writes (0 before any)."""
    return max((write.token for write in resource.accepted), default=0)


def write(
    resource: ResourceObservation, attempt: ResourceWrite, *, fenced: bool
) -> tuple[ResourceObservation, bool]:
    """Offer ``attempt`` to the resource; returns the resource and whether it was accepted."""
    if fenced and attempt.token < highest_token(resource):
        refused = ResourceObservation(
            accepted=resource.accepted, refused=(*resource.refused, attempt)
        )
        return refused, False
    accepted = ResourceObservation(accepted=(*resource.accepted, attempt), refused=resource.refused)
    return accepted, True
