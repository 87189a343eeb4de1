"""The review APIs, answered and never stored: SelfSubjectAccessReview, SubjectAccessReview and
LocalSubjectAccessReview (may this subject do that?), SelfSubjectRulesReview (what may I do in
this namespace?) and SelfSubjectReview (who am I?). They are what ``kubectl auth can-i`` (with
``--list``) and ``kubectl auth whoami`` post.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from impl.apiserver.authz import authorize
from impl.apiserver.cache import WatchCache
from impl.apiserver.node_authz import node_name
from impl.apiserver.rbac import RbacIndex, rules_for
from impl.apiserver.routing import RequestInfo
from models.apiserver.auth import MASTERS, Attributes, AuthConfig, Rule, UserInfo
from models.apiserver.messages import ApiRequest, ApiResponse
from models.apiserver.status import failure, method_not_allowed
from models.k8s.codec import encode_json
from models.k8s.meta_ops import Status

AUTHORIZATION: Final = "authorization.k8s.io"
AUTHENTICATION: Final = "authentication.k8s.io"
REVIEWS: Final = frozenset(
    {
        (AUTHORIZATION, "selfsubjectaccessreviews"),
        (AUTHORIZATION, "subjectaccessreviews"),
        (AUTHORIZATION, "localsubjectaccessreviews"),
        (AUTHORIZATION, "selfsubjectrulesreviews"),
        (AUTHENTICATION, "selfsubjectreviews"),
    }
)
KINDS: Final = {
    "selfsubjectaccessreviews": "SelfSubjectAccessReview",
    "subjectaccessreviews": "SubjectAccessReview",
    "localsubjectaccessreviews": "LocalSubjectAccessReview",
    "selfsubjectrulesreviews": "SelfSubjectRulesReview",
    "selfsubjectreviews": "SelfSubjectReview",
}


def is_review(info: RequestInfo) -> bool:
    return (info.group, info.resource) in REVIEWS


def _status(status: Status) -> ApiResponse:
    return ApiResponse(status=status.code or 500, body=encode_json(status))


def _bad_request(message: str) -> ApiResponse:
    return _status(failure(400, "BadRequest", message))


def _invalid(kind: str, field: str, message: str) -> ApiResponse:
    return _status(
        failure(422, "Invalid", f'{kind}.{AUTHORIZATION} "" is invalid: {field}: {message}')
    )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _attributes(user: UserInfo, spec: dict[str, Any]) -> Attributes | str:
    """The attributes a review asks about, or which field is wrong."""
    resource = spec.get("resourceAttributes")
    non_resource = spec.get("nonResourceAttributes")
    if (resource is None) == (non_resource is None):
        return "exactly one of nonResourceAttributes or resourceAttributes must be specified"
    if isinstance(resource, dict):
        return Attributes(
            user=user,
            verb=_text(resource.get("verb")),
            resource_request=True,
            group=_text(resource.get("group")),
            version=_text(resource.get("version")),
            namespace=_text(resource.get("namespace")),
            resource=_text(resource.get("resource")),
            subresource=_text(resource.get("subresource")),
            name=_text(resource.get("name")),
        )
    if isinstance(non_resource, dict):
        return Attributes(
            user=user,
            verb=_text(non_resource.get("verb")),
            resource_request=False,
            path=_text(non_resource.get("path")),
        )
    return "must be an object"


def _answer(kind: str, group: str, spec: dict[str, Any], status: dict[str, Any]) -> ApiResponse:
    body = {
        "kind": kind,
        "apiVersion": f"{group}/v1",
        "metadata": {},
        "spec": spec,
        "status": status,
    }
    return ApiResponse(status=201, body=msgspec.json.encode(body, order="sorted"))


def _access(
    config: AuthConfig,
    index: RbacIndex,
    kind: str,
    user: UserInfo,
    spec: dict[str, Any],
    cache: WatchCache | None,
) -> ApiResponse:
    attributes = _attributes(user, spec)
    if isinstance(attributes, str):
        return _invalid(kind, "spec.resourceAttributes", attributes)
    verdict = authorize(config, index, attributes, cache)
    status: dict[str, Any] = {"allowed": verdict.allowed}
    if verdict.denied:
        status["denied"] = True
    if verdict.reason:
        status["reason"] = verdict.reason
    return _answer(kind, AUTHORIZATION, spec, status)


def _rule_json(rule: Rule) -> dict[str, Any]:
    out: dict[str, Any] = {"verbs": list(rule.verbs)}
    if rule.non_resource_urls:
        out["nonResourceURLs"] = list(rule.non_resource_urls)
        return out
    out["apiGroups"] = list(rule.api_groups)
    out["resources"] = list(rule.resources)
    if rule.resource_names:
        out["resourceNames"] = list(rule.resource_names)
    return out


def _rules(config: AuthConfig, index: RbacIndex, user: UserInfo, namespace: str) -> list[Rule]:
    """What the chain's rule resolvers say ``user`` may do in ``namespace``."""
    rules: list[Rule] = []
    for mode in config.modes:
        if mode == "AlwaysAllow":
            rules.append(Rule(verbs=("*",), api_groups=("*",), resources=("*",)))
            rules.append(Rule(verbs=("*",), non_resource_urls=("*",)))
        if mode == "RBAC":
            rules.extend(rules_for(index, user, namespace))
    return rules


def user_json(user: UserInfo) -> dict[str, Any]:
    out: dict[str, Any] = {"username": user.name}
    if user.uid:
        out["uid"] = user.uid
    if user.groups:
        out["groups"] = list(user.groups)
    return out


def _user_from_spec(spec: dict[str, Any]) -> UserInfo:
    groups = spec.get("groups")
    return UserInfo(
        name=_text(spec.get("user")),
        uid=_text(spec.get("uid")),
        groups=tuple(g for g in groups if isinstance(g, str)) if isinstance(groups, list) else (),
    )


def review_response(
    config: AuthConfig,
    index: RbacIndex,
    request: ApiRequest,
    info: RequestInfo,
    cache: WatchCache | None = None,
) -> ApiResponse:
    """The answer to a POST of one review (anything else on these paths is not allowed);
    ``cache`` holds the objects the Node authorizer relates to nodes."""
    kind = KINDS[info.resource]
    if info.verb != "create" or info.name or info.version != "v1":
        return _status(
            method_not_allowed("the server does not allow this method on the requested resource")
        )
    try:
        body = msgspec.json.decode(request.body) if request.body else {}
    except msgspec.DecodeError as error:
        return _bad_request(f"couldn't decode the request body: {error}")
    if not isinstance(body, dict):
        return _bad_request(f"the body of a {kind} must be an object")
    spec = body.get("spec")
    spec = spec if isinstance(spec, dict) else {}
    user = request.user if request.user is not None else UserInfo(name="", groups=(MASTERS,))
    if info.resource == "selfsubjectreviews":
        return _answer(kind, AUTHENTICATION, {}, {"userInfo": user_json(user)})
    if info.resource == "selfsubjectaccessreviews":
        return _access(config, index, kind, user, spec, cache)
    if info.resource == "selfsubjectrulesreviews":
        namespace = _text(spec.get("namespace"))
        rules = _rules(config, index, user, namespace)
        status: dict[str, Any] = {
            "resourceRules": [_rule_json(r) for r in rules if not r.non_resource_urls],
            "nonResourceRules": [_rule_json(r) for r in rules if r.non_resource_urls],
            "incomplete": False,
        }
        if "Node" in config.modes and node_name(user) is not None:
            # kube's Node authorizer cannot list a node's rules: the answer says so.
            status["incomplete"] = True
            status["evaluationError"] = "node authorizer does not support user rule resolution"
        return _answer(kind, AUTHORIZATION, spec, status)
    subject = _user_from_spec(spec)
    if not subject.name and not subject.groups:
        return _invalid(kind, "spec.user", "at least one of user or group must be specified")
    if info.resource == "localsubjectaccessreviews":
        resource = spec.get("resourceAttributes")
        asked = _text(resource.get("namespace")) if isinstance(resource, dict) else ""
        if asked != info.namespace:
            return _invalid(
                kind,
                "spec.resourceAttributes.namespace",
                "must match metadata.namespace",
            )
    return _access(config, index, kind, subject, spec, cache)
