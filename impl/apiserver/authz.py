"""Authorization: the request's attributes, the chain of ``--authorization-mode`` authorizers,
and kube's 403 answer.

The chain starts, as kube-apiserver's does, with the privileged-group authorizer
(``system:masters`` may do everything), then asks each mode in order: AlwaysAllow allows,
AlwaysDeny denies, Node (``node_authz.py``) and RBAC allow or have no opinion. The first
decision wins; no decision is a denial, whose reason joins the reasons the authorizers gave
(one a line), as kube's union authorizer does.
"""

from __future__ import annotations

from returns.pipeline import is_successful

from impl.apiserver.cache import WatchCache
from impl.apiserver.node_authz import authorize_node
from impl.apiserver.rbac import RbacIndex, allowed_by
from impl.apiserver.routing import RequestInfo
from models.apiserver.auth import MASTERS, Attributes, AuthConfig, UserInfo
from models.apiserver.status import failure
from models.field_selectors import FieldTerm, parse_field_selector
from models.k8s.meta_ops import Status, StatusDetails


class Verdict:
    """An authorizer chain's answer: allowed or not, and kube's reason text."""

    __slots__ = ("allowed", "denied", "reason")

    def __init__(self, allowed: bool, reason: str = "", denied: bool = False) -> None:
        self.allowed = allowed
        self.reason = reason
        self.denied = denied


def _selected_name(field_selector: str) -> str:
    """The name a list or watch asks for with ``fieldSelector=metadata.name=NAME``, which kube's
    RequestInfo takes as the request's name."""
    parsed = parse_field_selector(field_selector)
    if not is_successful(parsed):
        return ""
    terms: tuple[FieldTerm, ...] = parsed.unwrap().terms
    for term in terms:
        if term.field == "metadata.name" and not term.negated and "/" not in term.value:
            return term.value if term.value not in ("", ".", "..") else ""
    return ""


def attributes_of(user: UserInfo, info: RequestInfo, field_selector: str = "") -> Attributes:
    """``WithAuthorization``'s attributes: a resource request when the path names a resource."""
    if info.is_resource:
        name = info.name
        if not name and info.verb in ("list", "watch") and field_selector:
            name = _selected_name(field_selector)
        return Attributes(
            user=user,
            verb=info.verb,
            resource_request=True,
            group=info.group,
            version=info.version,
            namespace=info.namespace,
            resource=info.resource,
            subresource=info.subresource,
            name=name,
            path=info.path,
            field_selector=field_selector if info.verb in ("list", "watch") else "",
        )
    return Attributes(user=user, verb=info.verb, resource_request=False, path=info.path)


def authorize(
    config: AuthConfig,
    index: RbacIndex,
    attributes: Attributes,
    cache: WatchCache | None = None,
) -> Verdict:
    """The chain's verdict; ``cache`` holds the objects the Node authorizer relates to nodes
    (None: none)."""
    if MASTERS in attributes.user.groups:
        return Verdict(True)
    reasons: list[str] = []
    for mode in config.modes:
        if mode == "AlwaysAllow":
            return Verdict(True)
        if mode == "AlwaysDeny":
            return Verdict(False, "Everything is forbidden.", denied=True)
        if mode == "Node":
            answer = authorize_node(cache if cache is not None else WatchCache(), attributes)
            if answer is not None:
                allowed, reason = answer
                if allowed:
                    return Verdict(True)
                if reason:
                    reasons.append(reason)
        if mode == "RBAC":
            allowed_because = allowed_by(index, attributes)
            if allowed_because is not None:
                return Verdict(True, allowed_because)
    return Verdict(False, "\n".join(reasons))


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
