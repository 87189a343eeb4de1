"""Authentication: from what a request presented to the user it acts as, or a 401.

As kube-apiserver's union of authenticators: a verified client certificate first (CN the user,
each O a group), then a bearer token (``--token-auth-file``, ServiceAccount tokens); a request
that presents neither is anonymous (``system:anonymous`` in ``system:unauthenticated``) when
``--anonymous-auth`` is on, 401 otherwise. A client certificate that does not verify and a
bearer token that matches nothing are errors: the request gets 401 unless another
authenticator accepts it, never anonymous access. An ``Authorization`` header that is not
``Bearer <token>`` is ignored, as kube's bearer-token authenticator ignores it; ``Bearer`` with
an empty token (two spaces) is an error. Authenticated users get ``system:authenticated``.
"""

from __future__ import annotations

from models.apiserver.auth import (
    ANONYMOUS_USER,
    AUTHENTICATED,
    UNAUTHENTICATED,
    AuthConfig,
    Credentials,
    StaticToken,
    UserInfo,
)
from models.apiserver.status import failure
from models.k8s.meta_ops import Status


def unauthorized() -> Status:
    """kube's 401 answer (``responsewriters.InternalError``-free ``Unauthorized``)."""
    return failure(401, "Unauthorized", "Unauthorized")


def bearer_token(header: str | None) -> str | None:
    """The token of ``Authorization: Bearer <token>``; None when the header is absent or of
    another scheme (kube trims the header, splits it on single spaces and compares the scheme
    case-insensitively), "" when the scheme is Bearer and the token empty (an error)."""
    if header is None:
        return None
    parts = header.strip().split(" ", 2)
    if len(parts) < 2 or parts[0].lower() != "bearer":
        return None
    return parts[1]


def _with_authenticated(user: UserInfo) -> UserInfo:
    """``AuthenticatedGroupAdder``: add ``system:authenticated`` unless the user is anonymous
    or already in a built-in authentication group."""
    if user.name == ANONYMOUS_USER or AUTHENTICATED in user.groups:
        return user
    if UNAUTHENTICATED in user.groups:
        return user
    return UserInfo(name=user.name, uid=user.uid, groups=(*user.groups, AUTHENTICATED))


def _token_user(tokens: tuple[StaticToken, ...], token: str) -> UserInfo | None:
    for entry in tokens:
        if entry.token == token:
            return UserInfo(name=entry.user, uid=entry.uid, groups=entry.groups)
    return None


def authenticate(
    config: AuthConfig, credentials: Credentials, extra_token_user: UserInfo | None = None
) -> UserInfo | Status:
    """The user ``credentials`` authenticate as, or kube's 401 Status.

    ``extra_token_user`` is what another bearer-token authenticator (ServiceAccount tokens,
    checked by the caller) made of the token, if anything."""
    if credentials.certificate_user:
        return _with_authenticated(
            UserInfo(name=credentials.certificate_user, groups=credentials.certificate_groups)
        )
    token = bearer_token(credentials.authorization)
    if token is not None:
        user = (_token_user(config.tokens, token) if token else None) or extra_token_user
        if user is None:
            return unauthorized()
        return _with_authenticated(user)
    if credentials.certificate_error is not None:
        return unauthorized()
    if config.anonymous:
        return UserInfo(name=ANONYMOUS_USER, groups=(UNAUTHENTICATED,))
    return unauthorized()
