"""Authorization: the request's attributes, the chain of ``--authorization-mode`` authorizers,
and kube's 403 answer.

The chain starts, as kube-apiserver's does, with the privileged-group authorizer
(``system:masters`` may do everything), then asks each mode in order: AlwaysAllow allows,
AlwaysDeny denies, RBAC allows or has no opinion. The first decision wins; no decision is a
denial.
"""

from __future__ import annotations

from impl.apiserver.rbac import RbacIndex, allowed_by
from impl.apiserver.routing import RequestInfo
from models.apiserver.auth import MASTERS, Attributes, AuthConfig, UserInfo
from models.apiserver.status import failure
from models.k8s.meta_ops import Status, StatusDetails


class Verdict:
    """An authorizer chain's answer: allowed or not, and kube's reason text."""

    __slots__ = ("allowed", "denied", "reason")

    def __init__(self, allowed: bool, reason: str = "", denied: bool = False) -> None:
        self.allowed = allowed
        self.reason = reason
        self.denied = denied


def attributes_of(user: UserInfo, info: RequestInfo) -> Attributes:
    """``WithAuthorization``'s attributes: a resource request when the path names a resource."""
    if info.is_resource:
        return Attributes(
            user=user,
            verb=info.verb,
            resource_request=True,
            group=info.group,
            version=info.version,
            namespace=info.namespace,
            resource=info.resource,
            subresource=info.subresource,
            name=info.name,
            path=info.path,
        )
    return Attributes(user=user, verb=info.verb, resource_request=False, path=info.path)


def authorize(config: AuthConfig, index: RbacIndex, attributes: Attributes) -> Verdict:
    if MASTERS in attributes.user.groups:
        return Verdict(True)
    for mode in config.modes:
        if mode == "AlwaysAllow":
            return Verdict(True)
        if mode == "AlwaysDeny":
            return Verdict(False, "Everything is forbidden.", denied=True)
        if mode == "RBAC":
            reason = allowed_by(index, attributes)
            if reason is not None:
                return Verdict(True, reason)
    return Verdict(False)


def forbidden_message(attributes: Attributes) -> str:
    """``forbiddenMessage``: who cannot do what, where."""
    user = attributes.user.name
    if not attributes.resource_request:
        return f'User "{user}" cannot {attributes.verb} path "{attributes.path}"'
    resource = attributes.resource
    if attributes.subresource:
        resource = f"{resource}/{attributes.subresource}"
    where = (
        f'in the namespace "{attributes.namespace}"'
        if attributes.namespace
        else "at the cluster scope"
    )
    return (
        f'User "{user}" cannot {attributes.verb} resource "{resource}" in API group '
        f'"{attributes.group}" {where}'
    )


def qualified_resource(group: str, resource: str) -> str:
    """``GroupResource.String()``: ``resource`` or ``resource.group``."""
    return f"{resource}.{group}" if group else resource


def forbidden_status(qualified: str, group: str, resource: str, name: str, why: str) -> Status:
    """``errors.NewForbidden(GroupResource, name, err)``."""
    if not qualified:
        message = f"forbidden: {why}"
    elif not name:
        message = f"{qualified} is forbidden: {why}"
    else:
        message = f'{qualified} "{name}" is forbidden: {why}'
    details = StatusDetails(name=name or None, group=group or None, kind=resource or None)
    return failure(403, "Forbidden", message, details)


def forbidden(attributes: Attributes, reason: str = "") -> Status:
    """kube's 403 for a request the chain did not allow."""
    why = forbidden_message(attributes)
    if reason:
        why = f"{why}: {reason}"
    qualified = (
        qualified_resource(attributes.group, attributes.resource)
        if attributes.resource_request
        else ""
    )
    return forbidden_status(qualified, attributes.group, attributes.resource, attributes.name, why)
