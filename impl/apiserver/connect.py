"""Authorization of a connect request to ``pods/exec``.

The request is first judged as any request is (authentication, impersonation, then the
authorizer chain for its own verb: ``get`` for the WebSocket upgrade, a GET, and ``create`` for
SPDY's POST). Then, as kube-apiserver v1.35 does with the feature gate
``AuthorizePodWebsocketUpgradeCreatePermission`` (beta, on by default; kubeoracle has no switch
for it), ``ExecREST.Connect`` requires ``create`` on ``pods/exec`` as well when the request's
verb was not ``create``
(``ensureAuthorizedForVerb``): its refusal is ``errors.NewForbidden(pods, name, reason)``,
whose message is ``pods "NAME" is forbidden: `` followed by the authorizers' reason (empty when
RBAC merely found no rule).
"""

from __future__ import annotations

import msgspec

from impl.apiserver.authz import attributes_of, authorize, forbidden_status, qualified_resource
from impl.apiserver.context import Config
from impl.apiserver.machine import guard
from impl.apiserver.routing import request_info
from impl.apiserver.state import ApiServerState
from models.apiserver.messages import ApiRequest
from models.k8s.meta_ops import Status


def authorize_connect(
    config: Config, state: ApiServerState, request: ApiRequest
) -> ApiRequest | Status:
    """The request with its user when it may connect; the 401 or 403 Status otherwise.
    Requests without credentials (the insecure port) pass, as every request does."""
    info = request_info(request)
    guarded = guard(config, state, info, request)
    if isinstance(guarded, Status) or guarded.user is None or info.verb == "create":
        return guarded
    attributes = msgspec.structs.replace(attributes_of(guarded.user, info), verb="create")
    verdict = authorize(config.auth, state.rbac, attributes)
    if verdict.allowed:
        return guarded
    return forbidden_status(
        qualified_resource(info.group, info.resource),
        info.group,
        info.resource,
        info.name,
        verdict.reason,
    )
