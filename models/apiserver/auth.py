"""Who is asking and what they ask, as data: the credentials a request carried, the user they
authenticate as, the authorization attributes of a request, the server's authentication and
authorization settings, and the RBAC rules an authorizer evaluates.

The runner fills ``Credentials`` (the client certificate's subject once the runner has verified
it against ``--client-ca-file``, or why it did not verify, and the ``Authorization`` header);
the machine turns them into a ``UserInfo`` and decides.
"""

from __future__ import annotations

from typing import Final

import msgspec

ANONYMOUS_USER: Final = "system:anonymous"
UNAUTHENTICATED: Final = "system:unauthenticated"
AUTHENTICATED: Final = "system:authenticated"
MASTERS: Final = "system:masters"
"""kube-apiserver's privileged group: every request of a member is allowed."""
SERVICE_ACCOUNT_PREFIX: Final = "system:serviceaccount:"
SERVICE_ACCOUNTS_GROUP: Final = "system:serviceaccounts"

AUTHORIZATION_MODES: Final = ("AlwaysAllow", "AlwaysDeny", "Node", "RBAC")
"""The ``--authorization-mode`` values this server implements."""


class Credentials(msgspec.Struct, frozen=True, kw_only=True):
    """What a request over the secure port presented.

    ``certificate_user`` and ``certificate_groups`` are a verified client certificate's subject
    CN and Os (``certificate_user`` None: no certificate, or one that did not verify).
    ``certificate_error`` says why a presented certificate did not verify (None: it did, or
    none was presented). ``authorization`` is the raw ``Authorization`` header (None:
    absent)."""

    certificate_user: str | None = None
    certificate_groups: tuple[str, ...] = ()
    certificate_error: str | None = None
    authorization: str | None = None
    impersonate_user: str | None = None
    impersonate_groups: tuple[str, ...] = ()
    impersonate_uid: str | None = None
    """The ``Impersonate-User``, ``Impersonate-Group`` (each) and ``Impersonate-Uid`` headers."""


class UserInfo(msgspec.Struct, frozen=True, kw_only=True):
    """An authenticated user (``user.Info``)."""

    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()


class StaticToken(msgspec.Struct, frozen=True, kw_only=True):
    """One line of ``--token-auth-file``: ``token,user,uid[,"group1,group2"]``."""

    token: str
    user: str
    uid: str
    groups: tuple[str, ...] = ()


class AuthConfig(msgspec.Struct, frozen=True, kw_only=True):
    """Authentication and authorization settings of the secure port."""

    tokens: tuple[StaticToken, ...] = ()
    anonymous: bool = True
    modes: tuple[str, ...] = ("AlwaysAllow",)
    """``--authorization-mode``, kube-apiserver's default (``serve apiserver`` defaults to RBAC,
    as kubeadm configures it)."""
    service_account_issuer: str = "https://kubernetes.default.svc.cluster.local"
    api_audiences: tuple[str, ...] = ()
    """Audiences a ServiceAccount token must name one of (empty: the issuer)."""
    service_account_signing_key: bytes = b""
    """The RSA private key (PEM) that signs and verifies ServiceAccount tokens; empty: no
    TokenRequest and no ServiceAccount token authentication."""


class Attributes(msgspec.Struct, frozen=True, kw_only=True):
    """What is asked (``authorizer.Attributes``): a resource request (``resource`` set) or a
    non-resource one (``path``)."""

    user: UserInfo
    verb: str
    resource_request: bool
    group: str = ""
    version: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    path: str = ""
    field_selector: str = ""
    """The request's ``fieldSelector`` (list and watch), which the Node authorizer reads."""


class Rule(msgspec.Struct, frozen=True, kw_only=True):
    """A PolicyRule with absent lists as empty tuples."""

    verbs: tuple[str, ...] = ()
    api_groups: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    resource_names: tuple[str, ...] = ()
    non_resource_urls: tuple[str, ...] = ()


class SubjectRef(msgspec.Struct, frozen=True, kw_only=True):
    """A binding's subject: kind User, Group or ServiceAccount."""

    kind: str
    name: str
    namespace: str = ""


class Binding(msgspec.Struct, frozen=True, kw_only=True):
    """A RoleBinding (``namespace`` set) or ClusterRoleBinding (``namespace`` empty)."""

    namespace: str
    name: str
    role_kind: str
    role_name: str
    subjects: tuple[SubjectRef, ...]


def service_account_user(namespace: str, name: str) -> str:
    return f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}"
