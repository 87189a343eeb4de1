"""Impersonation (``kubectl --as``, ``--as-group``, ``--as-uid``): an authenticated user acts as
another when it may ``impersonate`` each part it asks for.

As kube-apiserver's impersonation filter: ``Impersonate-User`` U needs ``impersonate`` on
``users`` named U (on ``serviceaccounts`` named NAME in NS when U is
``system:serviceaccount:NS:NAME``), each ``Impersonate-Group`` G on ``groups`` named G, and
``Impersonate-Uid`` on ``uids`` (group ``authentication.k8s.io``). Groups or a uid without a
user is 400. The impersonated user gets the groups asked for (a ServiceAccount with none asked
gets its ServiceAccount groups), plus ``system:authenticated`` (``system:unauthenticated`` for
``system:anonymous``). A refusal is kube's 403 for the impersonate request.
"""

from __future__ import annotations

from impl.apiserver.authz import authorize, forbidden
from impl.apiserver.rbac import RbacIndex
from models.apiserver.auth import (
    ANONYMOUS_USER,
    AUTHENTICATED,
    SERVICE_ACCOUNT_PREFIX,
    SERVICE_ACCOUNTS_GROUP,
    UNAUTHENTICATED,
    Attributes,
    AuthConfig,
    Credentials,
    UserInfo,
)
from models.apiserver.status import failure
from models.k8s.meta_ops import Status


def _check(
    config: AuthConfig,
    index: RbacIndex,
    user: UserInfo,
    resource: str,
    name: str,
    namespace: str = "",
    group: str = "",
) -> Status | None:
    attributes = Attributes(
        user=user,
        verb="impersonate",
        resource_request=True,
        group=group,
        namespace=namespace,
        resource=resource,
        name=name,
    )
    verdict = authorize(config, index, attributes)
    if verdict.allowed:
        return None
    return forbidden(attributes, verdict.reason if verdict.denied else "")


def impersonate(
    config: AuthConfig, index: RbacIndex, user: UserInfo, credentials: Credentials
) -> UserInfo | Status:
    """The user the request acts as (``user`` itself when nothing is impersonated)."""
    target = credentials.impersonate_user
    if target is None:
        if credentials.impersonate_groups or credentials.impersonate_uid is not None:
            asked = "groups" if credentials.impersonate_groups else "uid"
            return failure(
                400,
                "BadRequest",
                f"requested {asked} impersonation without impersonating a user",
            )
        return user
    if target.startswith(SERVICE_ACCOUNT_PREFIX) and target.count(":") == 3:
        namespace, name = target[len(SERVICE_ACCOUNT_PREFIX) :].split(":")
        refused = _check(config, index, user, "serviceaccounts", name, namespace)
        default_groups: tuple[str, ...] = (
            SERVICE_ACCOUNTS_GROUP,
            f"{SERVICE_ACCOUNTS_GROUP}:{namespace}",
        )
    else:
        refused = _check(config, index, user, "users", target)
        default_groups = ()
    if refused is not None:
        return refused
    for group in credentials.impersonate_groups:
        refused = _check(config, index, user, "groups", group)
        if refused is not None:
            return refused
    if credentials.impersonate_uid is not None:
        refused = _check(
            config, index, user, "uids", credentials.impersonate_uid, group="authentication.k8s.io"
        )
        if refused is not None:
            return refused
    groups = credentials.impersonate_groups or default_groups
    if target == ANONYMOUS_USER:
        if UNAUTHENTICATED not in groups:
            groups = (*groups, UNAUTHENTICATED)
    elif AUTHENTICATED not in groups:
        groups = (*groups, AUTHENTICATED)
    return UserInfo(name=target, uid=credentials.impersonate_uid or "", groups=groups)
