"""gRPC fuzz tier for etcd's auth against ``serve etcd``: hypothesis-generated sequences of Auth
requests (users, roles, permissions with arbitrary types and ranges, enable, disable,
authenticate with right and wrong passwords) and key-value requests carrying valid, stale and
garbage tokens always get one of etcd's status codes, never break the server, and never let a
non-root user's key-value request succeed without its permissions (the property of
``spec/etcd/auth.py``, judged with the permissions the server reports through RoleGet).

Each sequence starts from users whose requests are checked (auth on, two users with
permissions), so the property is judged on real successes: the last test requires that it was.
Marked ``grpc_fuzz``; at most 12 sequences (each authentication and password change hashes a
password, about 0.1 s)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.etcd import DeleteRangeRequest, PutRequest, RangeRequest
from models.etcd_auth import AuthAttempt, Permission, PermissionType
from runner.etcd.etcdpb import auth_pb2, rpc_pb2, rpc_pb2_grpc
from spec.etcd.auth import PERMISSION_RESPECTED
from tests.etcd.grpc_client import Stubs, served

pytestmark = pytest.mark.grpc_fuzz

TIMEOUT = 10.0
ROOT_PASSWORD = "rootpw"
ETCD_CODES = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.OUT_OF_RANGE,
    }
)
NO_PASSWORD_USER = "auth: authentication failed, password was given for no password user"
"""etcd 3.4's one auth error without a gRPC status of its own: it answers Unknown."""
PERM_TYPES: tuple[PermissionType, ...] = ("READ", "WRITE", "READWRITE")
FUZZ_SETTINGS = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])

names = st.sampled_from(["u1", "u2", "", "nobody"])
roles = st.sampled_from(["r1", "r2", "root", ""])
passwords = st.sampled_from(["pw", "other", ""])
keys = st.sampled_from([b"a", b"b", b"ab", b"c", b"\x00", b""])
range_ends = st.sampled_from([b"", b"b", b"c", b"\x00", b"a"])
perm_types = st.integers(min_value=-1, max_value=3)

auth_calls: st.SearchStrategy[tuple[str, Any]] = st.one_of(
    st.builds(
        rpc_pb2.AuthUserAddRequest,
        name=names,
        password=passwords,
        options=st.builds(auth_pb2.UserAddOptions, no_password=st.booleans()),
    ).map(lambda request: ("UserAdd", request)),
    st.builds(rpc_pb2.AuthUserDeleteRequest, name=names).map(lambda r: ("UserDelete", r)),
    st.builds(rpc_pb2.AuthUserChangePasswordRequest, name=names, password=passwords).map(
        lambda request: ("UserChangePassword", request)
    ),
    st.builds(rpc_pb2.AuthUserGrantRoleRequest, user=names, role=roles).map(
        lambda request: ("UserGrantRole", request)
    ),
    st.builds(rpc_pb2.AuthUserRevokeRoleRequest, name=names, role=roles).map(
        lambda request: ("UserRevokeRole", request)
    ),
    st.builds(rpc_pb2.AuthUserGetRequest, name=names).map(lambda r: ("UserGet", r)),
    st.builds(rpc_pb2.AuthRoleAddRequest, name=roles).map(lambda r: ("RoleAdd", r)),
    st.builds(rpc_pb2.AuthRoleDeleteRequest, role=roles).map(lambda r: ("RoleDelete", r)),
    st.builds(rpc_pb2.AuthRoleGetRequest, role=roles).map(lambda r: ("RoleGet", r)),
    st.builds(
        rpc_pb2.AuthRoleGrantPermissionRequest,
        name=roles,
        perm=st.builds(auth_pb2.Permission, permType=perm_types, key=keys, range_end=range_ends),
    ).map(lambda request: ("RoleGrantPermission", request)),
    st.builds(
        rpc_pb2.AuthRoleRevokePermissionRequest, role=roles, key=keys, range_end=range_ends
    ).map(lambda request: ("RoleRevokePermission", request)),
    st.just(("UserList", rpc_pb2.AuthUserListRequest())),
    st.just(("RoleList", rpc_pb2.AuthRoleListRequest())),
    st.just(("AuthEnable", rpc_pb2.AuthEnableRequest())),
    st.just(("AuthDisable", rpc_pb2.AuthDisableRequest())),
    st.builds(rpc_pb2.AuthenticateRequest, name=names, password=passwords).map(
        lambda request: ("Authenticate", request)
    ),
)
kv_calls: st.SearchStrategy[tuple[str, Any]] = st.one_of(
    st.builds(rpc_pb2.RangeRequest, key=keys, range_end=range_ends).map(lambda r: ("Range", r)),
    st.builds(rpc_pb2.PutRequest, key=keys, value=st.just(b"v"), prev_kv=st.booleans()).map(
        lambda request: ("Put", request)
    ),
    st.builds(
        rpc_pb2.DeleteRangeRequest, key=keys, range_end=range_ends, prev_kv=st.booleans()
    ).map(lambda request: ("DeleteRange", request)),
)
who = st.sampled_from(["u1", "u2", "root", "none", "garbage", "stale"])
steps = st.lists(st.tuples(st.one_of(kv_calls, auth_calls), who), min_size=2, max_size=8)


@dataclass
class Client:
    stubs: Stubs
    auth: rpc_pb2_grpc.AuthStub
    tokens: dict[str, str] = field(default_factory=dict)
    checked: int = 0

    def token(self, user: str) -> str | None:
        """A fresh token for ``user`` (None if it cannot log in), or a broken one."""
        if user == "none":
            return None
        if user == "garbage":
            return "not-a-token"
        if user == "stale":
            return self.tokens.get("stale", "abcdefghijklmnop.1")
        password = ROOT_PASSWORD if user == "root" else "pw"
        try:
            answer = self.auth.Authenticate(
                rpc_pb2.AuthenticateRequest(name=user, password=password), timeout=TIMEOUT
            )
        except grpc.RpcError:
            return None
        self.tokens["stale"] = answer.token
        token: str = answer.token
        return token


def code_of(error: grpc.RpcError) -> grpc.StatusCode:
    assert isinstance(error, grpc.Call)
    assert error.details(), "an etcd error always says what is wrong"
    if error.code() == grpc.StatusCode.UNKNOWN:
        assert error.details() == NO_PASSWORD_USER
    code: grpc.StatusCode = error.code()
    return code


def _ignoring_errors(call: Any, request: Any, metadata: tuple[tuple[str, str], ...] = ()) -> None:
    with contextlib.suppress(grpc.RpcError):
        call(request, metadata=metadata, timeout=TIMEOUT)


def reset(client: Client) -> None:
    """Back to the starting point, whatever the last sequence did: auth on, root (the root
    role), u1 with READWRITE on [a, c), u2 with READ on b, all with known passwords."""
    auth = client.auth
    root = client.token("root")
    if root is not None:
        _ignoring_errors(auth.AuthDisable, rpc_pb2.AuthDisableRequest(), (("token", root),))
    readwrite = auth_pb2.Permission(permType=auth_pb2.Permission.READWRITE, key=b"a")
    readwrite.range_end = b"c"
    read = auth_pb2.Permission(permType=auth_pb2.Permission.READ, key=b"b")
    for user, password in (("root", ROOT_PASSWORD), ("u1", "pw"), ("u2", "pw")):
        _ignoring_errors(auth.UserAdd, rpc_pb2.AuthUserAddRequest(name=user, password=password))
        _ignoring_errors(
            auth.UserChangePassword,
            rpc_pb2.AuthUserChangePasswordRequest(name=user, password=password),
        )
    _ignoring_errors(auth.UserGrantRole, rpc_pb2.AuthUserGrantRoleRequest(user="root", role="root"))
    for user, role, perm in (("u1", "r1", readwrite), ("u2", "r2", read)):
        _ignoring_errors(auth.RoleAdd, rpc_pb2.AuthRoleAddRequest(name=role))
        grant = rpc_pb2.AuthRoleGrantPermissionRequest(name=role, perm=perm)
        _ignoring_errors(auth.RoleGrantPermission, grant)
        _ignoring_errors(auth.UserGrantRole, rpc_pb2.AuthUserGrantRoleRequest(user=user, role=role))
    auth.AuthEnable(rpc_pb2.AuthEnableRequest(), timeout=TIMEOUT)


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with served() as stubs:
        yield Client(stubs=stubs, auth=rpc_pb2_grpc.AuthStub(stubs.channel))


def _permissions(
    client: Client, user: str, root: str | None
) -> tuple[bool, tuple[Permission, ...]]:
    """Whether ``user`` has the root role, and its roles' permissions (asked as root)."""
    metadata = () if root is None else (("token", root),)
    got = client.auth.UserGet(rpc_pb2.AuthUserGetRequest(name=user), metadata=metadata)
    perms: list[Permission] = []
    for role in got.roles:
        if role == "root":
            continue
        answer = client.auth.RoleGet(rpc_pb2.AuthRoleGetRequest(role=role), metadata=metadata)
        perms.extend(
            Permission(perm_type=PERM_TYPES[perm.permType], key=perm.key, range_end=perm.range_end)
            for perm in answer.perm
        )
    return "root" in got.roles, tuple(perms)


def _record(message: Any) -> RangeRequest | PutRequest | DeleteRangeRequest:
    if isinstance(message, rpc_pb2.RangeRequest):
        return RangeRequest(key=message.key, range_end=message.range_end)
    if isinstance(message, rpc_pb2.PutRequest):
        return PutRequest(key=message.key, value=message.value, prev_kv=message.prev_kv)
    return DeleteRangeRequest(key=message.key, range_end=message.range_end, prev_kv=message.prev_kv)


def _check_kv_success(client: Client, user: str, message: Any) -> None:
    """A key-value request that succeeded for ``user`` was permitted (spec/etcd/auth.py)."""
    root = client.token("root")
    enabled = root is not None
    if not enabled or user not in ("u1", "u2"):
        return
    root_role, perms = _permissions(client, user, root)
    attempt = AuthAttempt(
        auth_enabled=True, root=root_role, permissions=perms, request=_record(message),
        succeeded=True,
    )  # fmt: skip
    assert PERMISSION_RESPECTED.holds(attempt), attempt
    client.checked += 1


def still_serves(client: Client) -> None:
    """Root (or anyone, with auth off) can still write."""
    token = client.token("root")
    metadata = () if token is None else (("token", token),)
    kv = client.stubs.kv
    before = kv.Range(rpc_pb2.RangeRequest(key=b"alive"), metadata=metadata, timeout=TIMEOUT)
    after = kv.Put(rpc_pb2.PutRequest(key=b"alive", value=b"v"), metadata=metadata)
    assert after.header.revision == before.header.revision + 1


@settings(FUZZ_SETTINGS, max_examples=min(12, settings().max_examples))
@given(calls=steps)
def test_auth_requests_and_tokens_get_etcd_answers(
    client: Client, calls: list[tuple[tuple[str, Any], str]]
) -> None:
    reset(client)
    # Each sequence ends with a read the starting point permits (unless the sequence took the
    # permission away), so successes of a non-root user are judged in every run.
    last = (("Range", rpc_pb2.RangeRequest(key=b"a", range_end=b"c")), "u1")
    for (method, message), user in [*calls, last]:
        token = client.token(user)
        metadata = () if token is None else (("token", token),)
        if isinstance(
            message, rpc_pb2.RangeRequest | rpc_pb2.PutRequest | rpc_pb2.DeleteRangeRequest
        ):
            call = getattr(client.stubs.kv, method)
        else:
            call = getattr(client.auth, method)
        failure: grpc.RpcError | None = None
        try:
            call(message, metadata=metadata, timeout=TIMEOUT)
        except grpc.RpcError as error:
            failure = error
        if failure is not None:
            assert code_of(failure) in ETCD_CODES
        elif method in ("Range", "Put", "DeleteRange"):
            _check_kv_success(client, user, message)
    still_serves(client)


def test_the_fuzzed_sequences_judged_successes(client: Client) -> None:
    """Not vacuous: the sequences above (same module, run before this test) made key-value
    requests that succeeded for non-root users with auth on, and each was judged."""
    assert client.checked > 0
