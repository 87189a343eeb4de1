"""etcd's auth in the pure reference (impl/etcd/auth.py through impl/etcd/apply.py).

Expected values come from etcd 3.4.23's source (auth/store.go, etcdserver/apply_auth.go,
auth/range_perm_cache.go) and from what real etcd answered in
tests/conformance/test_etcdctl_auth_transcript.py; the spec property of spec/etcd/auth.py is
checked on generated users, permissions and requests.
"""

from __future__ import annotations

from typing import Any

import hypothesis.strategies as st
from hypothesis import given

from impl.etcd.apply import ApplyContext, apply
from impl.etcd.auth import auth_info_from_token
from impl.etcd.store import EtcdState, decode_state, encode_state
from models.etcd import (
    Compare,
    DeleteRangeRequest,
    EtcdError,
    PutRequest,
    RangeRequest,
    RangeResponse,
    TxnRequest,
)
from models.etcd_auth import (
    ERROR_AUTH_NOT_ENABLED,
    ERROR_AUTH_OLD_REVISION,
    ERROR_INVALID_AUTH_TOKEN,
    ERROR_PERMISSION_DENIED,
    ERROR_ROOT_ROLE_NOT_EXIST,
    ERROR_ROOT_USER_NOT_EXIST,
    ERROR_USER_EMPTY,
    AnyRequest,
    AuthAttempt,
    AuthDisableRequest,
    AuthEnableRequest,
    AuthenticateRequest,
    AuthInfo,
    AuthResponse,
    Permission,
    PermissionType,
    RoleAddRequest,
    RoleGrantPermissionRequest,
    UserAddRequest,
    UserChangePasswordRequest,
    UserDeleteRequest,
    UserGrantRoleRequest,
)
from spec.etcd.auth import (
    PERMISSION_RESPECTED,
    PERMITTED_REQUEST_SUCCEEDED,
    REQUEST_DENIED,
    permitted,
)

ROOT = AuthInfo(username="root", revision=0)


class Store:
    """An etcd state applied to entry by entry, with log indexes."""

    def __init__(self) -> None:
        self.state = EtcdState()
        self.index = 0

    def do(self, request: AnyRequest, auth: AuthInfo | None = None) -> Any:
        self.index += 1
        if auth is not None and auth.revision == 0:
            auth = AuthInfo(username=auth.username, revision=self.state.auth.revision)
        self.state, answer = apply(self.state, request, ApplyContext(auth=auth, index=self.index))
        return answer

    def as_user(self, name: str) -> AuthInfo:
        return AuthInfo(username=name, revision=self.state.auth.revision)

    def login(self, name: str) -> str:
        answer = self.do(AuthenticateRequest(name=name, simple_token="prefix"))
        assert isinstance(answer, AuthResponse), answer
        return answer.token


def with_root_and_alice(perms: tuple[Permission, ...] = ()) -> Store:
    store = Store()
    store.do(UserAddRequest(name="root", hashed_password=b"h"))
    store.do(UserGrantRoleRequest(user="root", role="root"))
    store.do(UserAddRequest(name="alice", hashed_password=b"h"))
    store.do(RoleAddRequest(name="r"))
    for perm in perms:
        store.do(RoleGrantPermissionRequest(name="r", perm=perm))
    store.do(UserGrantRoleRequest(user="alice", role="r"))
    assert isinstance(store.do(AuthEnableRequest()), AuthResponse)
    return store


def test_auth_enable_needs_a_root_user_with_the_root_role() -> None:
    store = Store()
    assert store.do(AuthEnableRequest()) == ERROR_ROOT_USER_NOT_EXIST
    store.do(UserAddRequest(name="root", hashed_password=b"h"))
    assert store.do(AuthEnableRequest()) == ERROR_ROOT_ROLE_NOT_EXIST
    # The root role need not exist as a role to be granted (store.go UserGrantRole).
    assert isinstance(store.do(UserGrantRoleRequest(user="root", role="root")), AuthResponse)
    assert isinstance(store.do(AuthEnableRequest()), AuthResponse)
    assert store.state.auth.enabled


def test_the_auth_revision_moves_with_every_change_but_enabling() -> None:
    store = Store()
    assert store.state.auth.revision == 1  # NewAuthStore commits revision 1
    store.do(UserAddRequest(name="root", hashed_password=b"h"))
    store.do(UserGrantRoleRequest(user="root", role="root"))
    store.do(UserGrantRoleRequest(user="root", role="root"))  # already granted: no change
    store.do(RoleAddRequest(name="r"))
    store.do(RoleGrantPermissionRequest(name="r", perm=Permission(key=b"k")))
    assert store.state.auth.revision == 5
    store.do(AuthEnableRequest())
    assert store.state.auth.revision == 5
    store.do(AuthDisableRequest(), ROOT)
    assert store.state.auth.revision == 6
    store.do(AuthDisableRequest())  # already off: no change
    assert store.state.auth.revision == 6


def test_tokens_are_prefix_dot_index_and_die_with_password_changes_deletion_and_disable() -> None:
    store = with_root_and_alice()
    token = store.login("alice")
    assert token == f"prefix.{store.index}"
    assert auth_info_from_token(store.state.auth, token) == store.as_user("alice")
    store.do(UserChangePasswordRequest(name="alice", hashed_password=b"new"), ROOT)
    assert auth_info_from_token(store.state.auth, token) == ERROR_INVALID_AUTH_TOKEN
    token = store.login("alice")
    root_token = store.login("root")
    store.do(UserDeleteRequest(name="alice"), ROOT)
    assert auth_info_from_token(store.state.auth, token) == ERROR_INVALID_AUTH_TOKEN
    assert auth_info_from_token(store.state.auth, root_token) == store.as_user("root")
    store.do(AuthDisableRequest(), ROOT)
    assert auth_info_from_token(store.state.auth, root_token) == ERROR_INVALID_AUTH_TOKEN
    assert store.do(AuthenticateRequest(name="root", simple_token="p")) == ERROR_AUTH_NOT_ENABLED
    assert auth_info_from_token(store.state.auth, "no-dot") == ERROR_INVALID_AUTH_TOKEN


def test_requests_without_a_user_or_under_an_old_revision_are_refused() -> None:
    store = with_root_and_alice((Permission(perm_type="READWRITE", key=b"k"),))
    assert store.do(PutRequest(key=b"k", value=b"v")) == ERROR_USER_EMPTY
    old = store.as_user("alice")
    store.do(RoleAddRequest(name="other"), ROOT)
    assert store.do(PutRequest(key=b"k", value=b"v"), old) == ERROR_AUTH_OLD_REVISION
    assert not isinstance(
        store.do(PutRequest(key=b"k", value=b"v"), store.as_user("alice")), EtcdError
    )


def test_a_range_is_covered_by_contiguous_permissions_only() -> None:
    contiguous = (
        Permission(key=b"a", range_end=b"c"),
        Permission(key=b"c", range_end=b"e"),
    )
    store = with_root_and_alice(contiguous)
    alice = store.as_user("alice")
    assert isinstance(store.do(RangeRequest(key=b"a", range_end=b"e"), alice), RangeResponse)
    assert store.do(RangeRequest(key=b"a", range_end=b"f"), alice) == ERROR_PERMISSION_DENIED
    assert store.do(RangeRequest(key=b"a", range_end=b"\x00"), alice) == ERROR_PERMISSION_DENIED
    gap = with_root_and_alice((contiguous[0], Permission(key=b"d", range_end=b"e")))
    bob = gap.as_user("alice")
    assert gap.do(RangeRequest(key=b"a", range_end=b"e"), bob) == ERROR_PERMISSION_DENIED
    assert isinstance(gap.do(RangeRequest(key=b"d"), bob), RangeResponse)


def test_granting_the_same_key_and_range_replaces_the_permission_type() -> None:
    # Seen on real etcd 3.4.23: read on foo, then write on foo, leaves write only.
    store = with_root_and_alice(
        (Permission(perm_type="READ", key=b"foo"), Permission(perm_type="WRITE", key=b"foo"))
    )
    alice = store.as_user("alice")
    assert store.do(RangeRequest(key=b"foo"), alice) == ERROR_PERMISSION_DENIED
    assert not isinstance(store.do(PutRequest(key=b"foo", value=b"v"), alice), EtcdError)


def test_nested_txns_are_checked() -> None:
    """etcd 3.4.23's checkTxnAuth does not look into nested txns; the reference does."""
    store = with_root_and_alice((Permission(perm_type="READWRITE", key=b"mine"),))
    nested = TxnRequest(success=(TxnRequest(success=(PutRequest(key=b"theirs", value=b"x"),)),))
    assert store.do(nested, store.as_user("alice")) == ERROR_PERMISSION_DENIED
    allowed = TxnRequest(success=(TxnRequest(success=(PutRequest(key=b"mine", value=b"x"),)),))
    assert not isinstance(store.do(allowed, store.as_user("alice")), EtcdError)


def test_the_auth_store_survives_a_snapshot() -> None:
    store = with_root_and_alice((Permission(perm_type="WRITE", key=b"a", range_end=b"\x00"),))
    token = store.login("alice")
    assert decode_state(encode_state(store.state)) == store.state
    assert decode_state(encode_state(store.state)).auth.tokens[token] == "alice"


# ---- the spec property on generated cases ----------------------------------------------------

KEYS = (b"a", b"ab", b"b", b"c")
PERM_TYPES: tuple[PermissionType, ...] = ("READ", "WRITE", "READWRITE")
keys = st.sampled_from(KEYS)
range_ends = st.sampled_from((b"", b"b", b"c", b"d", b"\x00"))
permissions = st.builds(
    Permission, perm_type=st.sampled_from(PERM_TYPES), key=keys, range_end=range_ends
)
simple_ops = st.one_of(
    st.builds(RangeRequest, key=keys, range_end=range_ends),
    st.builds(PutRequest, key=keys, value=st.just(b"v"), prev_kv=st.booleans()),
    st.builds(DeleteRangeRequest, key=keys, range_end=range_ends, prev_kv=st.booleans()),
)
txns = st.builds(
    TxnRequest,
    compare=st.lists(st.builds(Compare, key=keys, range_end=range_ends), max_size=2).map(tuple),
    success=st.lists(simple_ops, max_size=2).map(tuple),
    failure=st.lists(
        st.one_of(simple_ops, st.builds(TxnRequest, success=st.tuples(simple_ops))), max_size=2
    ).map(tuple),
)
kv_requests = st.one_of(simple_ops, txns)


def attempt(perms: tuple[Permission, ...], request: Any) -> AuthAttempt:
    store = with_root_and_alice(perms)
    answer = store.do(request, store.as_user("alice"))
    role = store.state.auth.roles["r"]
    return AuthAttempt(
        auth_enabled=store.state.auth.enabled,
        root=False,
        permissions=role.perms,
        request=request,
        succeeded=not isinstance(answer, EtcdError),
    )


@given(st.lists(permissions, max_size=4).map(tuple), kv_requests)
def test_no_request_succeeds_without_its_permissions(
    perms: tuple[Permission, ...], request: Any
) -> None:
    assert PERMISSION_RESPECTED.holds(attempt(perms, request))


def test_the_permission_property_is_not_vacuous() -> None:
    """The companions: requests of a non-root user both succeed and get refused, and the
    property refuses a success without permission."""
    allowed = attempt((Permission(perm_type="READWRITE", key=b"a"),), PutRequest(key=b"a"))
    denied = attempt((Permission(perm_type="READ", key=b"a"),), PutRequest(key=b"a"))
    assert PERMITTED_REQUEST_SUCCEEDED.holds(allowed)
    assert PERMISSION_RESPECTED.holds(allowed)
    assert REQUEST_DENIED.holds(denied)
    assert PERMISSION_RESPECTED.holds(denied)
    forged = AuthAttempt(
        auth_enabled=True,
        root=False,
        permissions=(Permission(perm_type="READ", key=b"a"),),
        request=TxnRequest(success=(TxnRequest(success=(PutRequest(key=b"a"),)),)),
        succeeded=True,
    )
    assert not PERMISSION_RESPECTED.holds(forged)


def _has_empty_range(request: Any) -> bool:
    """A range ``[k, e)`` with ``e <= k`` touches no key: etcd decides it by ``k`` alone."""
    if isinstance(request, TxnRequest):
        ops = (*request.compare, *request.success, *request.failure)
        return any(_has_empty_range(op) for op in ops)
    range_end = getattr(request, "range_end", b"")
    return range_end not in (b"", b"\x00") and range_end <= request.key


@given(st.lists(permissions, max_size=4).map(tuple), kv_requests)
def test_every_permitted_request_is_allowed(perms: tuple[Permission, ...], request: Any) -> None:
    """The other direction: a request the spec permits is not refused for permissions (it may
    still fail on its own, e.g. a key put twice in one txn)."""
    judged = attempt(perms, request)
    if permitted(judged) and not _has_empty_range(request):
        store = with_root_and_alice(perms)
        assert store.do(request, store.as_user("alice")) != ERROR_PERMISSION_DENIED
