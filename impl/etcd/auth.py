"""etcd 3.4's auth store as a pure value: users, roles, permissions, simple tokens, checks.

Theory of operation. :class:`AuthState` is replicated like the keyspace: every member applies
the same auth requests in log order (:func:`apply_auth`). The auth revision starts at 1 and
grows by one for every change of users or roles and for disabling auth (etcd's
``commitRevision``); enabling does not move it. Simple tokens are ``<prefix>.<log index>``,
assigned when an authentication is applied, so every member knows every token; deleting a
user or changing its password drops its tokens, disabling auth drops them all.

Permission checks follow etcd's ``authApplierV3`` and ``isOpPermitted``: with auth off every
request is allowed; a request without a user is refused ``user name is empty``; a request made
under an older auth revision is refused ``revision of auth store is old``; a user with the root
role may do anything; otherwise the union of the user's roles' permission ranges of the right
kind (READ or WRITE, READWRITE counting as both) must cover the request's key range: one key
is covered if some permission contains it, a range ``[key, range_end)`` if the permissions
overlapping it leave no gap (etcd's interval tree ``Contains``). ``range_end`` b"\\0" means every
key from ``key`` on, for permissions and requests alike.
"""

from __future__ import annotations

import bisect

import immutables
import msgspec

from models.etcd import EtcdError, ResponseHeader
from models.etcd_auth import (
    ADMIN_REQUESTS,
    ERROR_AUTH_FAILED,
    ERROR_AUTH_NOT_ENABLED,
    ERROR_AUTH_OLD_REVISION,
    ERROR_INVALID_AUTH_MGMT,
    ERROR_INVALID_AUTH_TOKEN,
    ERROR_NO_PASSWORD_USER,
    ERROR_PERMISSION_DENIED,
    ERROR_PERMISSION_NOT_GRANTED,
    ERROR_ROLE_ALREADY_EXIST,
    ERROR_ROLE_EMPTY,
    ERROR_ROLE_NOT_FOUND,
    ERROR_ROLE_NOT_GRANTED,
    ERROR_ROOT_ROLE_NOT_EXIST,
    ERROR_ROOT_USER_NOT_EXIST,
    ERROR_USER_ALREADY_EXIST,
    ERROR_USER_EMPTY,
    ERROR_USER_NOT_FOUND,
    ROOT_ROLE,
    ROOT_USER,
    AuthDisableRequest,
    AuthEnableRequest,
    AuthenticateRequest,
    AuthInfo,
    AuthRequest,
    AuthResponse,
    Permission,
    RoleAddRequest,
    RoleDeleteRequest,
    RoleGetRequest,
    RoleGrantPermissionRequest,
    RoleListRequest,
    RoleRevokePermissionRequest,
    UserAddRequest,
    UserChangePasswordRequest,
    UserDeleteRequest,
    UserGetRequest,
    UserGrantRoleRequest,
    UserListRequest,
    UserRevokeRoleRequest,
)


class User(msgspec.Struct, frozen=True, kw_only=True):
    """``authpb.User``: the password's hash (opaque here), roles sorted by name."""

    name: str
    hashed_password: bytes = b""
    roles: tuple[str, ...] = ()
    no_password: bool = False


class Role(msgspec.Struct, frozen=True, kw_only=True):
    """``authpb.Role``: permissions sorted by key."""

    name: str
    perms: tuple[Permission, ...] = ()


Span = tuple[bytes, bytes | None]
"""``[begin, end)`` of keys; end None: unbounded."""


class UserPermissions(msgspec.Struct, frozen=True, kw_only=True):
    """A user's readable and writable keys: the union of its roles' permission ranges, as
    sorted, disjoint, non-touching spans (etcd's ``unifiedRangePermissions``)."""

    read: tuple[Span, ...] = ()
    write: tuple[Span, ...] = ()


class AuthState(msgspec.Struct, frozen=True, kw_only=True):
    """The auth store: on or off, its revision, users, roles and the live simple tokens, and
    each user's merged permissions (derived from users and roles, refreshed whenever they
    change, as etcd's ``refreshRangePermCache``)."""

    enabled: bool = False
    revision: int = 1
    users: immutables.Map[str, User] = msgspec.field(default_factory=immutables.Map)
    roles: immutables.Map[str, Role] = msgspec.field(default_factory=immutables.Map)
    tokens: immutables.Map[str, str] = msgspec.field(default_factory=immutables.Map)
    permissions: immutables.Map[str, UserPermissions] = msgspec.field(
        default_factory=immutables.Map
    )


AuthResult = tuple[AuthState, AuthResponse | EtcdError]


# ---- identity -----------------------------------------------------------------------------------


def auth_info_from_token(state: AuthState, token: str) -> AuthInfo | EtcdError:
    """Who a token names, at the current auth revision; ``invalid auth token`` otherwise (also
    with auth off: etcd looks every presented token up)."""
    prefix, dot, index = token.partition(".")
    if not dot or not prefix or not index.isdigit() or "." in index:
        return ERROR_INVALID_AUTH_TOKEN
    username = state.tokens.get(token)
    if username is None:
        return ERROR_INVALID_AUTH_TOKEN
    return AuthInfo(username=username, revision=state.revision)


def has_root_role(user: User) -> bool:
    return ROOT_ROLE in user.roles


def check_admin(state: AuthState, auth: AuthInfo | None) -> EtcdError | None:
    """etcd's ``IsAdminPermitted``."""
    if not state.enabled:
        return None
    if auth is None or auth.username == "":
        return ERROR_USER_EMPTY
    user = state.users.get(auth.username)
    if user is None:
        return ERROR_USER_NOT_FOUND
    return None if has_root_role(user) else ERROR_PERMISSION_DENIED


# ---- permission checks --------------------------------------------------------------------------


def _perm_span(perm: Permission) -> Span | None:
    """A permission as a span; None for one covering nothing (an empty key is +infinity in
    etcd's byte intervals)."""
    if perm.key == b"":
        return None
    if perm.range_end == b"":
        return perm.key, perm.key + b"\x00"
    if perm.range_end == b"\x00":
        return perm.key, None
    return perm.key, perm.range_end


def _merged(spans: list[Span]) -> tuple[Span, ...]:
    """The union of ``spans`` as sorted disjoint spans (touching ones joined: no gap)."""
    merged: list[Span] = []
    for start, stop in sorted(spans, key=lambda span: span[0]):
        if merged:
            last_start, last_stop = merged[-1]
            if last_stop is None:
                break
            if start <= last_stop:
                merged[-1] = (last_start, None if stop is None else max(stop, last_stop))
                continue
        merged.append((start, stop))
    return tuple(merged)


def _user_permissions(state: AuthState, user: User) -> UserPermissions:
    read: list[Span] = []
    write: list[Span] = []
    for role_name in user.roles:
        role = state.roles.get(role_name)
        for perm in role.perms if role is not None else ():
            span = _perm_span(perm)
            if span is None:
                continue
            if perm.perm_type in ("READ", "READWRITE"):
                read.append(span)
            if perm.perm_type in ("WRITE", "READWRITE"):
                write.append(span)
    return UserPermissions(read=_merged(read), write=_merged(write))


def with_permissions(state: AuthState) -> AuthState:
    """``state`` with every user's merged permissions recomputed from its users and roles."""
    permissions = immutables.Map(
        (name, _user_permissions(state, user)) for name, user in state.users.items()
    )
    return msgspec.structs.replace(state, permissions=permissions)


def _covers(spans: tuple[Span, ...], begin: bytes, end: bytes | None) -> bool:
    """Whether the merged ``spans`` cover ``[begin, end)``: one of them must, as merged spans
    never touch. An empty or inverted range is allowed when ``begin`` is covered (real etcd
    3.4.23 answers a range ``[k, k)`` inside a permission, and its interval tree reaches no
    further)."""
    if end is not None and end <= begin:
        end = begin + b"\x00"
    at = bisect.bisect_right([start for start, _ in spans], begin) - 1
    if at < 0:
        return False
    stop = spans[at][1]
    return stop is None or (end is not None and stop >= end)


def user_may(state: AuthState, username: str, key: bytes, range_end: bytes, write: bool) -> bool:
    """Whether ``username``'s roles permit reading (or writing) all of ``[key, range_end)``."""
    user = state.users.get(username)
    if user is None:
        return False
    if has_root_role(user):
        return True
    permissions = state.permissions.get(username)
    if permissions is None:
        return False
    spans = permissions.write if write else permissions.read
    if range_end == b"":
        return _covers(spans, key, key + b"\x00")
    return _covers(spans, key, None if range_end == b"\x00" else range_end)


def check_op(
    state: AuthState, auth: AuthInfo | None, key: bytes, range_end: bytes, write: bool
) -> EtcdError | None:
    """etcd's ``isOpPermitted`` for a read (``IsRangePermitted``) or a write of a range."""
    if not state.enabled:
        return None
    if auth is None or auth.revision == 0:
        return ERROR_USER_EMPTY
    if auth.revision < state.revision:
        return ERROR_AUTH_OLD_REVISION
    if user_may(state, auth.username, key, range_end, write):
        return None
    return ERROR_PERMISSION_DENIED


# ---- applying auth requests ---------------------------------------------------------------------


def _changed(state: AuthState, **changes: object) -> AuthState:
    """A change that commits a new auth revision (and refreshes the merged permissions)."""
    changed = msgspec.structs.replace(state, revision=state.revision + 1, **changes)
    if "users" in changes or "roles" in changes:
        return with_permissions(changed)
    return changed


def _drop_tokens(tokens: immutables.Map[str, str], username: str) -> immutables.Map[str, str]:
    mutation = tokens.mutate()
    for token, name in tokens.items():
        if name == username:
            del mutation[token]
    return mutation.finish()


def _with_user(state: AuthState, user: User) -> immutables.Map[str, User]:
    return state.users.set(user.name, user)


def apply_auth(
    state: AuthState,
    request: AuthRequest,
    auth: AuthInfo | None,
    index: int,
    header: ResponseHeader,
) -> AuthResult:
    """Apply one auth request made as ``auth`` in log entry ``index``; an error leaves the state
    as it was. Admin requests need a root user once auth is on; UserGet is also allowed on
    oneself, RoleGet on one's own roles (etcd's ``authApplierV3``)."""
    if isinstance(request, ADMIN_REQUESTS):
        refused = check_admin(state, auth)
        if refused is not None:
            return state, refused
    elif isinstance(request, UserGetRequest):
        refused = check_admin(state, auth)
        if refused is not None and (auth is None or request.name != auth.username):
            return state, refused
    elif isinstance(request, RoleGetRequest):
        refused = check_admin(state, auth)
        user = state.users.get(auth.username) if auth is not None else None
        if refused is not None and (user is None or request.role not in user.roles):
            return state, refused
    return _apply(state, request, index, header)


def _apply(
    state: AuthState, request: AuthRequest, index: int, header: ResponseHeader
) -> AuthResult:
    done = AuthResponse(header=header)
    match request:
        case AuthEnableRequest():
            return _enable(state, done)
        case AuthDisableRequest():
            if not state.enabled:
                return state, done
            return _changed(state, enabled=False, tokens=immutables.Map()), done
        case AuthenticateRequest():
            return _authenticate(state, request, index, header)
        case UserAddRequest():
            return _user_add(state, request, done)
        case UserGetRequest():
            user = state.users.get(request.name)
            if user is None:
                return state, ERROR_USER_NOT_FOUND
            return state, AuthResponse(header=header, roles=user.roles)
        case UserListRequest():
            return state, AuthResponse(header=header, users=tuple(sorted(state.users.keys())))
        case UserDeleteRequest():
            return _user_delete(state, request, done)
        case UserChangePasswordRequest():
            user = state.users.get(request.name)
            if user is None:
                return state, ERROR_USER_NOT_FOUND
            changed = msgspec.structs.replace(user, hashed_password=request.hashed_password)
            tokens = _drop_tokens(state.tokens, request.name)
            return _changed(state, users=_with_user(state, changed), tokens=tokens), done
        case UserGrantRoleRequest():
            return _grant_role(state, request, done)
        case UserRevokeRoleRequest():
            return _revoke_role(state, request, done)
        case RoleAddRequest():
            if request.name == "":
                return state, ERROR_ROLE_EMPTY
            if request.name in state.roles:
                return state, ERROR_ROLE_ALREADY_EXIST
            roles = state.roles.set(request.name, Role(name=request.name))
            return _changed(state, roles=roles), done
        case RoleGetRequest():
            role = state.roles.get(request.role)
            if role is None:
                return state, ERROR_ROLE_NOT_FOUND
            return state, AuthResponse(header=header, perm=role.perms)
        case RoleListRequest():
            return state, AuthResponse(header=header, roles=tuple(sorted(state.roles.keys())))
        case RoleDeleteRequest():
            return _role_delete(state, request, done)
        case RoleGrantPermissionRequest():
            return _grant_permission(state, request, done)
        case RoleRevokePermissionRequest():
            return _revoke_permission(state, request, done)


def _enable(state: AuthState, done: AuthResponse) -> AuthResult:
    if state.enabled:
        return state, done
    root = state.users.get(ROOT_USER)
    if root is None:
        return state, ERROR_ROOT_USER_NOT_EXIST
    if not has_root_role(root):
        return state, ERROR_ROOT_ROLE_NOT_EXIST
    return msgspec.structs.replace(state, enabled=True), done


def _authenticate(
    state: AuthState, request: AuthenticateRequest, index: int, header: ResponseHeader
) -> AuthResult:
    """Assign ``<prefix>.<index>`` to the user (the password was checked before proposing)."""
    if not state.enabled:
        return state, ERROR_AUTH_NOT_ENABLED
    user = state.users.get(request.name)
    if user is None or user.no_password:
        return state, ERROR_AUTH_FAILED
    token = f"{request.simple_token}.{index}"
    tokens = state.tokens.set(token, request.name)
    return msgspec.structs.replace(state, tokens=tokens), AuthResponse(header=header, token=token)


def check_password_preconditions(state: AuthState, name: str) -> User | EtcdError:
    """What etcd's ``CheckPassword`` checks before comparing the hash: auth on, the user
    exists and has a password. The hash comparison is the serving member's (it is slow and
    needs the plaintext, which never enters the log)."""
    if not state.enabled:
        return ERROR_AUTH_NOT_ENABLED
    user = state.users.get(name)
    if user is None:
        return ERROR_AUTH_FAILED
    if user.no_password:
        return ERROR_NO_PASSWORD_USER
    return user


def _user_add(state: AuthState, request: UserAddRequest, done: AuthResponse) -> AuthResult:
    if request.name == "":
        return state, ERROR_USER_EMPTY
    if request.name in state.users:
        return state, ERROR_USER_ALREADY_EXIST
    no_password = request.options is not None and request.options.no_password
    user = User(
        name=request.name,
        hashed_password=b"" if no_password else request.hashed_password,
        no_password=no_password,
    )
    return _changed(state, users=_with_user(state, user)), done


def _user_delete(state: AuthState, request: UserDeleteRequest, done: AuthResponse) -> AuthResult:
    if state.enabled and request.name == ROOT_USER:
        return state, ERROR_INVALID_AUTH_MGMT
    if request.name not in state.users:
        return state, ERROR_USER_NOT_FOUND
    tokens = _drop_tokens(state.tokens, request.name)
    return _changed(state, users=state.users.delete(request.name), tokens=tokens), done


def _grant_role(state: AuthState, request: UserGrantRoleRequest, done: AuthResponse) -> AuthResult:
    user = state.users.get(request.user)
    if user is None:
        return state, ERROR_USER_NOT_FOUND
    if request.role != ROOT_ROLE and request.role not in state.roles:
        return state, ERROR_ROLE_NOT_FOUND
    if request.role in user.roles:
        return state, done
    granted = msgspec.structs.replace(user, roles=tuple(sorted((*user.roles, request.role))))
    return _changed(state, users=_with_user(state, granted)), done


def _revoke_role(
    state: AuthState, request: UserRevokeRoleRequest, done: AuthResponse
) -> AuthResult:
    if state.enabled and request.name == ROOT_USER and request.role == ROOT_ROLE:
        return state, ERROR_INVALID_AUTH_MGMT
    user = state.users.get(request.name)
    if user is None:
        return state, ERROR_USER_NOT_FOUND
    if request.role not in user.roles:
        return state, ERROR_ROLE_NOT_GRANTED
    kept = tuple(role for role in user.roles if role != request.role)
    revoked = msgspec.structs.replace(user, roles=kept)
    return _changed(state, users=_with_user(state, revoked)), done


def _role_delete(state: AuthState, request: RoleDeleteRequest, done: AuthResponse) -> AuthResult:
    if state.enabled and request.role == ROOT_ROLE:
        return state, ERROR_INVALID_AUTH_MGMT
    if request.role not in state.roles:
        return state, ERROR_ROLE_NOT_FOUND
    users = state.users
    for name, user in state.users.items():
        if request.role in user.roles:
            kept = tuple(role for role in user.roles if role != request.role)
            users = users.set(name, msgspec.structs.replace(user, roles=kept))
    return _changed(state, roles=state.roles.delete(request.role), users=users), done


def _grant_permission(
    state: AuthState, request: RoleGrantPermissionRequest, done: AuthResponse
) -> AuthResult:
    """Replace the type of a permission on the same key and range end (the first with a key
    not below the new one, as etcd's binary search finds it), or add it in key order."""
    role = state.roles.get(request.name)
    if role is None:
        return state, ERROR_ROLE_NOT_FOUND
    perm = request.perm if request.perm is not None else Permission()
    perms = list(role.perms)
    at = bisect.bisect_left([existing.key for existing in perms], perm.key)
    if at < len(perms) and perms[at].key == perm.key and perms[at].range_end == perm.range_end:
        perms[at] = msgspec.structs.replace(perms[at], perm_type=perm.perm_type)
    else:
        perms.append(perm)
        perms.sort(key=lambda existing: existing.key)
    granted = msgspec.structs.replace(role, perms=tuple(perms))
    return _changed(state, roles=state.roles.set(role.name, granted)), done


def _revoke_permission(
    state: AuthState, request: RoleRevokePermissionRequest, done: AuthResponse
) -> AuthResult:
    role = state.roles.get(request.role)
    if role is None:
        return state, ERROR_ROLE_NOT_FOUND
    kept = tuple(
        perm
        for perm in role.perms
        if perm.key != request.key or perm.range_end != request.range_end
    )
    if len(kept) == len(role.perms):
        return state, ERROR_PERMISSION_NOT_GRANTED
    revoked = msgspec.structs.replace(role, perms=kept)
    return _changed(state, roles=state.roles.set(role.name, revoked)), done
