"""etcd 3.4's auth vocabulary: users, roles, key-range permissions, auth requests and errors.

The requests mirror ``etcdserverpb.Auth*Request`` (field names as in the proto). Passwords
never reach the Raft log: the serving member hashes a new password before it proposes the
request (``hashed_password``, the plaintext ``password`` emptied), and checks an authentication's
password against the stored hash before it proposes the authentication with the token prefix it
drew (``simple_token``), as etcd 3.4's ``EtcdServer.Authenticate`` does. Every auth request is
one Raft log entry (etcd 3.4 sends even ``UserGet`` and ``RoleList`` through Raft).
:class:`AuthInfo` is who a request runs as (etcd's request header ``username`` and
``auth_revision``). Errors carry etcd's gRPC code and exact text (``rpctypes``).
"""

from __future__ import annotations

from typing import Final, Literal

import msgspec

from models.etcd import (
    GRPC_FAILED_PRECONDITION,
    GRPC_INVALID_ARGUMENT,
    DeleteRangeRequest,
    EtcdError,
    EtcdRequest,
    EtcdResponse,
    PutRequest,
    RangeRequest,
    ResponseHeader,
    TxnRequest,
)

PermissionType = Literal["READ", "WRITE", "READWRITE"]
ROOT_USER: Final = "root"
ROOT_ROLE: Final = "root"

GRPC_UNKNOWN: Final = 2
GRPC_PERMISSION_DENIED: Final = 7
GRPC_UNAUTHENTICATED: Final = 16


def _precondition(message: str) -> EtcdError:
    return EtcdError(code=GRPC_FAILED_PRECONDITION, message=f"etcdserver: {message}")


def _invalid(message: str) -> EtcdError:
    return EtcdError(code=GRPC_INVALID_ARGUMENT, message=f"etcdserver: {message}")


ERROR_ROOT_USER_NOT_EXIST: Final = _precondition("root user does not exist")
ERROR_ROOT_ROLE_NOT_EXIST: Final = _precondition("root user does not have root role")
ERROR_USER_ALREADY_EXIST: Final = _precondition("user name already exists")
ERROR_USER_EMPTY: Final = _invalid("user name is empty")
ERROR_USER_NOT_FOUND: Final = _precondition("user name not found")
ERROR_ROLE_ALREADY_EXIST: Final = _precondition("role name already exists")
ERROR_ROLE_NOT_FOUND: Final = _precondition("role name not found")
ERROR_ROLE_EMPTY: Final = _invalid("role name is empty")
ERROR_AUTH_FAILED: Final = _invalid("authentication failed, invalid user ID or password")
ERROR_PERMISSION_DENIED: Final = EtcdError(
    code=GRPC_PERMISSION_DENIED, message="etcdserver: permission denied"
)
ERROR_ROLE_NOT_GRANTED: Final = _precondition("role is not granted to the user")
ERROR_PERMISSION_NOT_GRANTED: Final = _precondition("permission is not granted to the role")
ERROR_AUTH_NOT_ENABLED: Final = _precondition("authentication is not enabled")
ERROR_INVALID_AUTH_TOKEN: Final = EtcdError(
    code=GRPC_UNAUTHENTICATED, message="etcdserver: invalid auth token"
)
ERROR_INVALID_AUTH_MGMT: Final = _invalid("invalid auth management")
ERROR_AUTH_OLD_REVISION: Final = _invalid("revision of auth store is old")
ERROR_NO_PASSWORD_USER: Final = EtcdError(
    code=GRPC_UNKNOWN,
    message="auth: authentication failed, password was given for no password user",
)
"""etcd 3.4 has no gRPC error for this one: its status is Unknown with the auth store's text."""


class AuthInfo(msgspec.Struct, frozen=True, kw_only=True):
    """Who a request runs as: the user its token names and the auth revision when the token
    was looked up (etcd's ``AuthInfo``; the request header's ``username``/``auth_revision``)."""

    username: str
    revision: int


class Permission(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``authpb.Permission``: a key (``range_end`` empty), ``[key, range_end)``, or every key
    ``>= key`` (``range_end`` b"\\0"), readable, writable or both."""

    perm_type: PermissionType = "READ"
    key: bytes = b""
    range_end: bytes = b""


class UserAddOptions(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    no_password: bool = False


# ---- requests -----------------------------------------------------------------------------------


class AuthEnableRequest(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="auth_enable"
):
    """Turn auth on (refused without a root user that has the root role)."""


class AuthDisableRequest(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="auth_disable"
):
    """Turn auth off; every token becomes invalid."""


class AuthenticateRequest(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="authenticate"
):
    """Issue a token for ``name``. In the log: no password, and the token prefix drawn by the
    serving member (the token is ``<prefix>.<log index>``, etcd's simple token)."""

    name: str = ""
    password: str = ""
    simple_token: str = ""


class UserAddRequest(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="user_add"
):
    name: str = ""
    password: str = ""
    options: UserAddOptions | None = None
    hashed_password: bytes = b""


class UserGetRequest(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="user_get"
):
    name: str = ""


class UserListRequest(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="user_list"
):
    pass


class UserDeleteRequest(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="user_delete"
):
    name: str = ""


class UserChangePasswordRequest(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="user_changepw"
):
    name: str = ""
    password: str = ""
    hashed_password: bytes = b""


class UserGrantRoleRequest(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="user_grant"
):
    user: str = ""
    role: str = ""


class UserRevokeRoleRequest(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="user_revoke"
):
    name: str = ""
    role: str = ""


class RoleAddRequest(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="role_add"
):
    name: str = ""


class RoleGetRequest(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="role_get"
):
    role: str = ""


class RoleListRequest(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="role_list"
):
    pass


class RoleDeleteRequest(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="role_delete"
):
    role: str = ""


class RoleGrantPermissionRequest(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="role_grant"
):
    name: str = ""
    perm: Permission | None = None


class RoleRevokePermissionRequest(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="role_revoke"
):
    role: str = ""
    key: bytes = b""
    range_end: bytes = b""


AuthRequest = (
    AuthEnableRequest
    | AuthDisableRequest
    | AuthenticateRequest
    | UserAddRequest
    | UserGetRequest
    | UserListRequest
    | UserDeleteRequest
    | UserChangePasswordRequest
    | UserGrantRoleRequest
    | UserRevokeRoleRequest
    | RoleAddRequest
    | RoleGetRequest
    | RoleListRequest
    | RoleDeleteRequest
    | RoleGrantPermissionRequest
    | RoleRevokePermissionRequest
)
"""Every request of etcd's Auth service (each one Raft log entry)."""

ADMIN_REQUESTS: Final = (
    AuthEnableRequest,
    AuthDisableRequest,
    UserAddRequest,
    UserDeleteRequest,
    UserChangePasswordRequest,
    UserGrantRoleRequest,
    UserRevokeRoleRequest,
    RoleAddRequest,
    RoleGrantPermissionRequest,
    RoleRevokePermissionRequest,
    RoleDeleteRequest,
    UserListRequest,
    RoleListRequest,
)
"""Requests only a root user may make once auth is on (etcd's ``needAdminPermission``)."""


class AuthResponse(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="auth"
):
    """The answer to any auth request: only the fields its ``Auth*Response`` has are set
    (``token`` for Authenticate, ``roles`` for UserGet and RoleList, ``users`` for UserList,
    ``perm`` for RoleGet)."""

    header: ResponseHeader
    token: str = ""
    users: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    perm: tuple[Permission, ...] = ()


AnyRequest = EtcdRequest | AuthRequest
"""What a log entry can carry: a KV or lease request, or an auth request."""
AnyResponse = EtcdResponse | AuthResponse
"""The answer to any :data:`AnyRequest`."""


AUTH_METHODS: Final[tuple[tuple[str, str, type[AuthRequest], str], ...]] = (
    ("AuthEnable", "/v3/auth/enable", AuthEnableRequest, "AuthEnableResponse"),
    ("AuthDisable", "/v3/auth/disable", AuthDisableRequest, "AuthDisableResponse"),
    ("Authenticate", "/v3/auth/authenticate", AuthenticateRequest, "AuthenticateResponse"),
    ("UserAdd", "/v3/auth/user/add", UserAddRequest, "AuthUserAddResponse"),
    ("UserGet", "/v3/auth/user/get", UserGetRequest, "AuthUserGetResponse"),
    ("UserList", "/v3/auth/user/list", UserListRequest, "AuthUserListResponse"),
    ("UserDelete", "/v3/auth/user/delete", UserDeleteRequest, "AuthUserDeleteResponse"),
    (
        "UserChangePassword",
        "/v3/auth/user/changepw",
        UserChangePasswordRequest,
        "AuthUserChangePasswordResponse",
    ),
    ("UserGrantRole", "/v3/auth/user/grant", UserGrantRoleRequest, "AuthUserGrantRoleResponse"),
    (
        "UserRevokeRole",
        "/v3/auth/user/revoke",
        UserRevokeRoleRequest,
        "AuthUserRevokeRoleResponse",
    ),
    ("RoleAdd", "/v3/auth/role/add", RoleAddRequest, "AuthRoleAddResponse"),
    ("RoleGet", "/v3/auth/role/get", RoleGetRequest, "AuthRoleGetResponse"),
    ("RoleList", "/v3/auth/role/list", RoleListRequest, "AuthRoleListResponse"),
    ("RoleDelete", "/v3/auth/role/delete", RoleDeleteRequest, "AuthRoleDeleteResponse"),
    (
        "RoleGrantPermission",
        "/v3/auth/role/grant",
        RoleGrantPermissionRequest,
        "AuthRoleGrantPermissionResponse",
    ),
    (
        "RoleRevokePermission",
        "/v3/auth/role/revoke",
        RoleRevokePermissionRequest,
        "AuthRoleRevokePermissionResponse",
    ),
)
"""etcd's Auth service: each method's name, its gateway route, the request record and the name
of its ``etcdserverpb`` response message."""


class AuthAttempt(msgspec.Struct, frozen=True, kw_only=True):
    """One KV request made by a user, for :mod:`spec.etcd.auth`: whether auth was on, whether
    the user had the root role, the permissions of the user's roles when the request ran,
    the request, and whether it succeeded."""

    auth_enabled: bool
    root: bool
    permissions: tuple[Permission, ...]
    request: RangeRequest | PutRequest | DeleteRangeRequest | TxnRequest
    succeeded: bool
