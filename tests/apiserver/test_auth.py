"""Authentication, RBAC authorization, the review APIs and escalation prevention, on the machine
(secure-port requests carry ``Credentials``). Expected answers are kube-apiserver's: the 401
Status, the 403 wording of ``forbiddenMessage``, the RBAC documentation's evaluation rules."""

from __future__ import annotations

import base64
import json
from typing import Any

import msgspec
import pytest

from impl.apiserver.context import Config
from models.apiserver.auth import AuthConfig, Credentials, StaticToken
from runner.apiserver.local import Answer, LocalApiServer
from runner.pki import new_rsa_key_pem
from tests.apiserver.helpers import pod

RBAC = "/apis/rbac.authorization.k8s.io/v1"
ADMIN = Credentials(certificate_user="kubernetes-admin", certificate_groups=("system:masters",))
TOKENS = (
    StaticToken(token="alice-token", user="alice", uid="1001", groups=("devs",)),
    StaticToken(token="bob-token", user="bob", uid="1002"),
)


def bearer(token: str) -> Credentials:
    return Credentials(authorization=f"Bearer {token}")


ALICE = bearer("alice-token")
BOB = bearer("bob-token")


@pytest.fixture
def secure(config: Config) -> LocalApiServer:
    auth = AuthConfig(tokens=TOKENS, anonymous=True, modes=("RBAC",))
    return LocalApiServer(config=msgspec.structs.replace(config, auth=auth))


def as_admin(server: LocalApiServer, method: str, path: str, body: Any = None) -> Answer:
    answer = server.call(method, path, body, credentials=ADMIN)
    assert answer.status < 300, answer.body
    return answer


def role(name: str, rules: list[dict[str, Any]], namespace: str = "") -> dict[str, Any]:
    kind = "Role" if namespace else "ClusterRole"
    metadata = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": metadata,
        "rules": rules,
    }


def binding(
    name: str, role_kind: str, role_name: str, subjects: list[dict[str, Any]], namespace: str = ""
) -> dict[str, Any]:
    kind = "RoleBinding" if namespace else "ClusterRoleBinding"
    metadata = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": metadata,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role_name},
        "subjects": subjects,
    }


def user(name: str) -> dict[str, str]:
    return {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": name}


def grant(
    server: LocalApiServer, who: str, rules: list[dict[str, Any]], namespace: str = "default"
) -> None:
    """A Role in ``namespace`` with ``rules``, bound to the user ``who``."""
    as_admin(
        server,
        "POST",
        f"{RBAC}/namespaces/{namespace}/roles",
        role(f"{who}-role", rules, namespace),
    )
    as_admin(
        server,
        "POST",
        f"{RBAC}/namespaces/{namespace}/rolebindings",
        binding(f"{who}-binding", "Role", f"{who}-role", [user(who)], namespace),
    )


def whoami(server: LocalApiServer, credentials: Credentials) -> Answer:
    return server.call(
        "POST",
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
        credentials=credentials,
    )


def can(server: LocalApiServer, credentials: Credentials, **attributes: str) -> bool:
    answer = server.call(
        "POST",
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        {"spec": {"resourceAttributes": attributes}},
        credentials=credentials,
    )
    assert answer.status == 201, answer.body
    return bool(answer.body["status"]["allowed"])


# Authentication ----------------------------------------------------------------------------


def test_a_client_certificate_names_the_user_and_groups(secure: LocalApiServer) -> None:
    answer = whoami(secure, Credentials(certificate_user="carol", certificate_groups=("ops", "qa")))
    assert answer.status == 201
    assert answer.body["status"]["userInfo"] == {
        "username": "carol",
        "groups": ["ops", "qa", "system:authenticated"],
    }


def test_a_static_token_names_user_uid_and_groups(secure: LocalApiServer) -> None:
    info = whoami(secure, ALICE).body["status"]["userInfo"]
    assert info == {"username": "alice", "uid": "1001", "groups": ["devs", "system:authenticated"]}


def test_an_unknown_token_is_401_even_with_anonymous_on(secure: LocalApiServer) -> None:
    answer = secure.call("GET", "/api/v1/namespaces/default/pods", credentials=bearer("forged"))
    assert answer.status == 401
    assert answer.body == {
        "apiVersion": "v1",
        "kind": "Status",
        "metadata": {},
        "status": "Failure",
        "message": "Unauthorized",
        "reason": "Unauthorized",
        "code": 401,
    }


def test_a_certificate_that_did_not_verify_is_401_even_with_anonymous_on(
    secure: LocalApiServer,
) -> None:
    bad = Credentials(certificate_error="verifying certificate CN=x failed: expired")
    answer = secure.call("GET", "/version", credentials=bad)  # anonymous may read /version
    assert (answer.status, answer.body["reason"]) == (401, "Unauthorized")
    assert secure.call("GET", "/version", credentials=Credentials()).status == 200


def test_a_certificate_that_did_not_verify_leaves_the_token_to_decide(
    secure: LocalApiServer,
) -> None:
    with_token = Credentials(
        certificate_error="unknown authority", authorization="Bearer bob-token"
    )
    assert whoami(secure, with_token).body["status"]["userInfo"]["username"] == "bob"
    forged = Credentials(certificate_error="unknown authority", authorization="Bearer forged")
    assert secure.call("GET", "/version", credentials=forged).status == 401


def test_an_empty_bearer_token_is_401(secure: LocalApiServer) -> None:
    # kube splits "Bearer  x" on single spaces: the token is the empty second word.
    empty = Credentials(authorization="Bearer  alice-token")
    assert secure.call("GET", "/version", credentials=empty).status == 401


@pytest.mark.parametrize("header", ["Basic YWxpY2U6cHc=", "Bearer", "Bearer ", "alice-token", ""])
def test_a_header_that_is_not_a_bearer_token_is_anonymous(
    secure: LocalApiServer, header: str
) -> None:
    answer = whoami(secure, Credentials(authorization=header))
    # system:basic-user is not bound to system:unauthenticated: the anonymous review is refused.
    assert answer.status == 403
    assert answer.body["message"] == (
        'selfsubjectreviews.authentication.k8s.io is forbidden: User "system:anonymous" cannot '
        'create resource "selfsubjectreviews" in API group "authentication.k8s.io" at the '
        "cluster scope"
    )


def test_anonymous_may_read_version_and_health_only(secure: LocalApiServer) -> None:
    anonymous = Credentials()
    assert secure.call("GET", "/version", credentials=anonymous).status == 200
    assert secure.call("GET", "/healthz", credentials=anonymous).status == 200
    answer = secure.call("GET", "/api", credentials=anonymous)
    assert answer.status == 403
    assert answer.body["message"] == 'forbidden: User "system:anonymous" cannot get path "/api"'
    assert answer.body["details"] == {}


def test_anonymous_off_gives_401(config: Config) -> None:
    auth = AuthConfig(tokens=TOKENS, anonymous=False, modes=("RBAC",))
    server = LocalApiServer(config=msgspec.structs.replace(config, auth=auth))
    assert server.call("GET", "/version", credentials=Credentials()).status == 401
    assert server.call("GET", "/version", credentials=ALICE).status == 200


def test_the_insecure_port_is_neither_authenticated_nor_authorized(secure: LocalApiServer) -> None:
    assert secure.call("GET", "/api/v1/namespaces/default/pods").status == 200


# RBAC ----------------------------------------------------------------------------------------


def test_a_user_without_bindings_is_refused_with_kubes_message(secure: LocalApiServer) -> None:
    answer = secure.call("GET", "/api/v1/namespaces/default/pods", credentials=ALICE)
    assert answer.status == 403
    assert answer.body["reason"] == "Forbidden"
    assert answer.body["message"] == (
        'pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the '
        'namespace "default"'
    )
    assert answer.body["details"] == {"kind": "pods"}


def test_a_named_refusal_names_the_object_and_the_subresource(secure: LocalApiServer) -> None:
    answer = secure.call(
        "GET", "/apis/apps/v1/namespaces/ns1/deployments/web/scale", credentials=ALICE
    )
    assert answer.body["message"] == (
        'deployments.apps "web" is forbidden: User "alice" cannot get resource '
        '"deployments/scale" in API group "apps" in the namespace "ns1"'
    )
    assert answer.body["details"] == {"name": "web", "group": "apps", "kind": "deployments"}


def test_a_role_grants_in_its_namespace_only(secure: LocalApiServer) -> None:
    as_admin(secure, "POST", "/api/v1/namespaces", {"metadata": {"name": "other"}})
    grant(
        secure,
        "alice",
        [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "create"]}],
    )
    assert secure.call("GET", "/api/v1/namespaces/default/pods", credentials=ALICE).status == 200
    created = secure.call("POST", "/api/v1/namespaces/default/pods", pod("p"), credentials=ALICE)
    assert created.status == 201
    assert (
        secure.call("DELETE", "/api/v1/namespaces/default/pods/p", credentials=ALICE).status == 403
    )
    assert secure.call("GET", "/api/v1/namespaces/other/pods", credentials=ALICE).status == 403
    assert secure.call("GET", "/api/v1/pods", credentials=ALICE).status == 403
    assert secure.call("GET", "/api/v1/namespaces/default/pods", credentials=BOB).status == 403


def test_resource_names_restrict_named_verbs(secure: LocalApiServer) -> None:
    rules = [
        {
            "apiGroups": [""],
            "resources": ["configmaps"],
            "resourceNames": ["mine"],
            "verbs": ["get", "list"],
        }
    ]
    grant(secure, "alice", rules)
    assert can(secure, ALICE, namespace="default", verb="get", resource="configmaps", name="mine")
    assert not can(
        secure, ALICE, namespace="default", verb="get", resource="configmaps", name="yours"
    )
    # A list has no name: resourceNames never match it.
    assert not can(secure, ALICE, namespace="default", verb="list", resource="configmaps")


def test_subresources_are_separate_unless_the_rule_says_star(secure: LocalApiServer) -> None:
    rules = [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
        {"apiGroups": ["apps"], "resources": ["*/scale"], "verbs": ["get"]},
    ]
    grant(secure, "alice", rules)
    assert can(secure, ALICE, namespace="default", verb="get", resource="pods")
    assert not can(
        secure, ALICE, namespace="default", verb="get", resource="pods", subresource="log"
    )
    assert can(
        secure,
        ALICE,
        namespace="default",
        verb="get",
        group="apps",
        resource="deployments",
        subresource="scale",
    )
    assert not can(
        secure, ALICE, namespace="default", verb="get", group="apps", resource="deployments"
    )


def test_a_rolebinding_to_a_clusterrole_grants_in_the_binding_namespace(
    secure: LocalApiServer,
) -> None:
    as_admin(
        secure,
        "POST",
        f"{RBAC}/namespaces/default/rolebindings",
        binding("alice-view", "ClusterRole", "view", [user("alice")], "default"),
    )
    # view aggregates system:aggregate-to-view, which grants get/list/watch on pods.
    assert can(secure, ALICE, namespace="default", verb="list", resource="pods")
    assert not can(secure, ALICE, namespace="kube-system", verb="list", resource="pods")
    assert not can(secure, ALICE, namespace="default", verb="get", resource="secrets")
    assert not can(secure, ALICE, namespace="default", verb="create", resource="pods")


def test_edit_and_admin_aggregate_what_view_grants(secure: LocalApiServer) -> None:
    as_admin(
        secure,
        "POST",
        f"{RBAC}/clusterrolebindings",
        binding("bob-admin", "ClusterRole", "admin", [user("bob")]),
    )
    assert can(secure, BOB, namespace="x", verb="list", resource="pods")  # from view
    assert can(secure, BOB, namespace="x", verb="delete", resource="pods")  # from edit
    assert can(
        secure,
        BOB,
        namespace="x",
        verb="create",
        group="rbac.authorization.k8s.io",
        resource="roles",
    )
    assert not can(secure, BOB, verb="list", resource="nodes")


def test_a_new_aggregated_part_joins_the_aggregating_role(secure: LocalApiServer) -> None:
    as_admin(
        secure,
        "POST",
        f"{RBAC}/clusterrolebindings",
        binding("a", "ClusterRole", "view", [user("alice")]),
    )
    assert not can(secure, ALICE, verb="list", group="example.com", resource="widgets")
    part = role(
        "widget-viewer",
        [{"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["list"]}],
    )
    part["metadata"]["labels"] = {"rbac.authorization.k8s.io/aggregate-to-view": "true"}
    as_admin(secure, "POST", f"{RBAC}/clusterroles", part)
    assert can(secure, ALICE, verb="list", group="example.com", resource="widgets")


def test_non_resource_urls_match_exactly_or_by_prefix_star(secure: LocalApiServer) -> None:
    as_admin(
        secure,
        "POST",
        f"{RBAC}/clusterroles",
        {
            **role("logs", []),
            "rules": [{"nonResourceURLs": ["/logs/*", "/metrics"], "verbs": ["get"]}],
        },
    )
    as_admin(
        secure,
        "POST",
        f"{RBAC}/clusterrolebindings",
        binding("logs", "ClusterRole", "logs", [user("alice")]),
    )

    def can_get(path: str) -> bool:
        answer = secure.call(
            "POST",
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            {"spec": {"nonResourceAttributes": {"path": path, "verb": "get"}}},
            credentials=ALICE,
        )
        return bool(answer.body["status"]["allowed"])

    assert can_get("/logs/a/b")
    assert can_get("/metrics")
    assert not can_get("/metrics/slis")
    assert not can_get("/logs")


def test_service_account_subjects(secure: LocalApiServer) -> None:
    sa_binding = binding(
        "sa", "ClusterRole", "view", [{"kind": "ServiceAccount", "name": "robot"}], "default"
    )
    as_admin(secure, "POST", f"{RBAC}/namespaces/default/rolebindings", sa_binding)
    review = {
        "spec": {
            "user": "system:serviceaccount:default:robot",
            "groups": ["system:serviceaccounts", "system:serviceaccounts:default"],
            "resourceAttributes": {"namespace": "default", "verb": "list", "resource": "pods"},
        }
    }
    answer = secure.call(
        "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", review, credentials=ADMIN
    )
    assert answer.status == 201
    assert answer.body["status"] == {
        "allowed": True,
        "reason": 'RBAC: allowed by RoleBinding "sa/default" of ClusterRole "view" to '
        'ServiceAccount "default/robot"',
    }


def test_system_masters_may_do_anything(secure: LocalApiServer) -> None:
    assert can(secure, ADMIN, verb="delete", resource="nodes", name="n1")
    assert secure.call("GET", "/api/v1/nodes", credentials=ADMIN).status == 200


def test_rules_review_lists_the_rules_of_the_namespace(secure: LocalApiServer) -> None:
    grant(secure, "alice", [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}])
    answer = secure.call(
        "POST",
        "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
        {"spec": {"namespace": "default"}},
        credentials=ALICE,
    )
    assert answer.status == 201
    rules = answer.body["status"]["resourceRules"]
    assert {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]} in rules
    assert {
        "verbs": ["create"],
        "apiGroups": ["authentication.k8s.io"],
        "resources": ["selfsubjectreviews"],
    } in rules
    elsewhere = secure.call(
        "POST",
        "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
        {"spec": {"namespace": "kube-system"}},
        credentials=ALICE,
    )
    assert {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]} not in elsewhere.body[
        "status"
    ]["resourceRules"]


def test_always_allow_after_rbac_allows_what_rbac_does_not(config: Config) -> None:
    auth = AuthConfig(tokens=TOKENS, modes=("RBAC", "AlwaysAllow"))
    server = LocalApiServer(config=msgspec.structs.replace(config, auth=auth))
    assert server.call("GET", "/api/v1/namespaces/default/pods", credentials=ALICE).status == 200


# Escalation prevention -----------------------------------------------------------------------

ROLE_WRITER = [
    {
        "apiGroups": ["rbac.authorization.k8s.io"],
        "resources": ["roles", "rolebindings"],
        "verbs": ["create", "update", "patch"],
    },
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
]


def test_a_role_granting_only_held_permissions_may_be_written(secure: LocalApiServer) -> None:
    grant(secure, "alice", ROLE_WRITER)
    held = role("reader", [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}], "default")
    assert (
        secure.call("POST", f"{RBAC}/namespaces/default/roles", held, credentials=ALICE).status
        == 201
    )


def test_a_role_granting_more_is_refused_with_the_missing_rules(secure: LocalApiServer) -> None:
    grant(secure, "alice", ROLE_WRITER)
    more = role(
        "deleter",
        [{"apiGroups": [""], "resources": ["pods", "secrets"], "verbs": ["get", "delete"]}],
        "default",
    )
    answer = secure.call("POST", f"{RBAC}/namespaces/default/roles", more, credentials=ALICE)
    assert answer.status == 403
    assert answer.body["message"] == (
        'roles.rbac.authorization.k8s.io "deleter" is forbidden: user "alice" '
        '(groups=["devs" "system:authenticated"]) is attempting to grant RBAC permissions not '
        "currently held:\n"
        '{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}\n'
        '{APIGroups:[""], Resources:["secrets"], Verbs:["get" "delete"]}'
    )
    assert (
        secure.call("GET", f"{RBAC}/namespaces/default/roles/deleter", credentials=ADMIN).status
        == 404
    )


def test_a_wildcard_is_only_covered_by_a_wildcard(secure: LocalApiServer) -> None:
    grant(secure, "alice", ROLE_WRITER)
    star = role("star", [{"apiGroups": [""], "resources": ["pods"], "verbs": ["*"]}], "default")
    assert (
        secure.call("POST", f"{RBAC}/namespaces/default/roles", star, credentials=ALICE).status
        == 403
    )


def test_escalate_lets_a_user_write_any_role(secure: LocalApiServer) -> None:
    grant(
        secure,
        "alice",
        [
            *ROLE_WRITER,
            {
                "apiGroups": ["rbac.authorization.k8s.io"],
                "resources": ["roles"],
                "verbs": ["escalate"],
            },
        ],
    )
    star = role("star", [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}], "default")
    assert (
        secure.call("POST", f"{RBAC}/namespaces/default/roles", star, credentials=ALICE).status
        == 201
    )


def test_binding_needs_the_roles_permissions_or_bind(secure: LocalApiServer) -> None:
    grant(secure, "alice", ROLE_WRITER)
    to_view = binding("bob-view", "ClusterRole", "view", [user("bob")], "default")
    answer = secure.call(
        "POST", f"{RBAC}/namespaces/default/rolebindings", to_view, credentials=ALICE
    )
    assert answer.status == 403
    assert answer.body["message"].startswith(
        'rolebindings.rbac.authorization.k8s.io "bob-view" is forbidden: user "alice" '
    )
    as_admin(
        secure,
        "POST",
        f"{RBAC}/namespaces/default/roles",
        role(
            "binder",
            [
                {
                    "apiGroups": ["rbac.authorization.k8s.io"],
                    "resources": ["clusterroles"],
                    "verbs": ["bind"],
                    "resourceNames": ["view"],
                }
            ],
            "default",
        ),
    )
    as_admin(
        secure,
        "POST",
        f"{RBAC}/namespaces/default/rolebindings",
        binding("alice-binder", "Role", "binder", [user("alice")], "default"),
    )
    assert (
        secure.call(
            "POST", f"{RBAC}/namespaces/default/rolebindings", to_view, credentials=ALICE
        ).status
        == 201
    )
    to_edit = binding("bob-edit", "ClusterRole", "edit", [user("bob")], "default")
    assert (
        secure.call(
            "POST", f"{RBAC}/namespaces/default/rolebindings", to_edit, credentials=ALICE
        ).status
        == 403
    )


def test_binding_a_held_role_is_allowed(secure: LocalApiServer) -> None:
    grant(secure, "alice", ROLE_WRITER)
    to_own = binding("bob-too", "Role", "alice-role", [user("bob")], "default")
    assert (
        secure.call(
            "POST", f"{RBAC}/namespaces/default/rolebindings", to_own, credentials=ALICE
        ).status
        == 201
    )
    assert can(secure, BOB, namespace="default", verb="list", resource="pods")


def test_a_patch_that_escalates_is_refused(secure: LocalApiServer) -> None:
    grant(secure, "alice", ROLE_WRITER)
    answer = secure.call(
        "PATCH",
        f"{RBAC}/namespaces/default/roles/alice-role",
        b'{"rules":[{"apiGroups":["*"],"resources":["*"],"verbs":["*"]}]}',
        content_type="application/merge-patch+json",
        credentials=ALICE,
    )
    assert answer.status == 403
    assert "is attempting to grant RBAC permissions not currently held" in answer.body["message"]


# ServiceAccount tokens -----------------------------------------------------------------------

SIGNING_KEY = new_rsa_key_pem()


@pytest.fixture
def issuing(config: Config) -> LocalApiServer:
    auth = AuthConfig(tokens=TOKENS, modes=("RBAC",), service_account_signing_key=SIGNING_KEY)
    server = LocalApiServer(config=msgspec.structs.replace(config, auth=auth))
    as_admin(
        server,
        "POST",
        "/api/v1/namespaces/default/serviceaccounts",
        {"metadata": {"name": "robot"}},
    )
    return server


def token_for(
    server: LocalApiServer, spec: dict[str, Any] | None = None, name: str = "robot"
) -> Answer:
    return server.call(
        "POST",
        f"/api/v1/namespaces/default/serviceaccounts/{name}/token",
        {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec or {}},
        credentials=ADMIN,
    )


def test_a_token_request_answers_a_signed_token_with_kubes_claims(issuing: LocalApiServer) -> None:
    answer = token_for(issuing)
    assert answer.status == 201
    assert answer.body["kind"] == "TokenRequest"
    assert answer.body["spec"]["expirationSeconds"] == 3600
    assert answer.body["spec"]["audiences"] == ["https://kubernetes.default.svc.cluster.local"]
    # SeededEntropy's clock starts at 2026-01-01T00:00:00Z; the token lives an hour.
    assert answer.body["status"]["expirationTimestamp"] == "2026-01-01T01:00:00Z"
    token = answer.body["status"]["token"]
    header, claims, _ = token.split(".")
    assert json.loads(base64.urlsafe_b64decode(header + "=="))["alg"] == "RS256"
    payload = json.loads(base64.urlsafe_b64decode(claims + "=="))
    assert payload["sub"] == "system:serviceaccount:default:robot"
    assert payload["exp"] - payload["iat"] == 3600
    assert payload["kubernetes.io"]["serviceaccount"]["name"] == "robot"
    info = whoami(issuing, bearer(token)).body["status"]["userInfo"]
    assert info["username"] == "system:serviceaccount:default:robot"
    assert info["groups"] == [
        "system:serviceaccounts",
        "system:serviceaccounts:default",
        "system:authenticated",
    ]


def test_a_token_stops_working_when_it_expires(issuing: LocalApiServer) -> None:
    token = token_for(issuing, {"expirationSeconds": 600}).body["status"]["token"]
    assert whoami(issuing, bearer(token)).status == 201
    issuing.tick(599)
    assert whoami(issuing, bearer(token)).status == 201
    issuing.tick(1)
    assert whoami(issuing, bearer(token)).status == 401


def test_a_token_for_another_audience_is_401(issuing: LocalApiServer) -> None:
    token = token_for(issuing, {"audiences": ["vault"]}).body["status"]["token"]
    assert whoami(issuing, bearer(token)).status == 401


def test_a_forged_token_is_401(issuing: LocalApiServer) -> None:
    token = token_for(issuing).body["status"]["token"]
    header, claims, signature = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(claims + "=="))
    payload["sub"] = "system:serviceaccount:kube-system:admin"
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    assert whoami(issuing, bearer(f"{header}.{forged}.{signature}")).status == 401
    other_key = msgspec.structs.replace(
        issuing.config.auth, service_account_signing_key=new_rsa_key_pem()
    )
    stranger = LocalApiServer(config=msgspec.structs.replace(issuing.config, auth=other_key))
    as_admin(
        stranger,
        "POST",
        "/api/v1/namespaces/default/serviceaccounts",
        {"metadata": {"name": "robot"}},
    )
    foreign = token_for(stranger).body["status"]["token"]
    assert whoami(stranger, bearer(foreign)).status == 201
    assert whoami(issuing, bearer(foreign)).status == 401  # signed by another key
    for garbage in ("a.b.c", "x.y", "...", "eyJhbGciOiJub25lIn0.e30."):
        assert whoami(issuing, bearer(garbage)).status == 401


def test_a_token_of_a_deleted_service_account_is_401(issuing: LocalApiServer) -> None:
    token = token_for(issuing).body["status"]["token"]
    as_admin(issuing, "DELETE", "/api/v1/namespaces/default/serviceaccounts/robot")
    assert whoami(issuing, bearer(token)).status == 401
    as_admin(
        issuing,
        "POST",
        "/api/v1/namespaces/default/serviceaccounts",
        {"metadata": {"name": "robot"}},
    )
    # A new ServiceAccount of the same name has a new uid: the old token stays refused.
    assert whoami(issuing, bearer(token)).status == 401


def test_token_request_refusals(issuing: LocalApiServer) -> None:
    short = token_for(issuing, {"expirationSeconds": 60})
    assert short.status == 422
    assert short.body["message"] == (
        'TokenRequest.authentication.k8s.io "robot" is invalid: spec.expirationSeconds: '
        "Invalid value: 60: may not specify a duration less than 10 minutes"
    )
    missing = token_for(issuing, name="nobody")
    assert (missing.status, missing.body["message"]) == (404, 'serviceaccounts "nobody" not found')
    refused = issuing.call(
        "POST", "/api/v1/namespaces/default/serviceaccounts/robot/token", {}, credentials=ALICE
    )
    assert refused.status == 403
    assert refused.body["message"] == (
        'serviceaccounts "robot" is forbidden: User "alice" cannot create resource '
        '"serviceaccounts/token" in API group "" in the namespace "default"'
    )


# Impersonation -------------------------------------------------------------------------------


def test_the_admin_may_act_as_another_user(secure: LocalApiServer) -> None:
    grant(secure, "alice", [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}])
    as_alice = msgspec.structs.replace(
        ADMIN, impersonate_user="alice", impersonate_groups=("devs",)
    )
    info = whoami(secure, as_alice).body["status"]["userInfo"]
    assert info == {"username": "alice", "groups": ["devs", "system:authenticated"]}
    assert secure.call("GET", "/api/v1/namespaces/default/pods", credentials=as_alice).status == 200
    answer = secure.call("GET", "/api/v1/nodes", credentials=as_alice)
    assert answer.body["message"] == (
        'nodes is forbidden: User "alice" cannot list resource "nodes" in API group "" at the '
        "cluster scope"
    )


def test_impersonating_needs_the_impersonate_verb(secure: LocalApiServer) -> None:
    answer = whoami(secure, msgspec.structs.replace(BOB, impersonate_user="alice"))
    assert answer.status == 403
    assert answer.body["message"] == (
        'users "alice" is forbidden: User "bob" cannot impersonate resource "users" in API '
        'group "" at the cluster scope'
    )
    grant(
        secure,
        "bob",
        [{"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["impersonate"]}],
    )
    robot = msgspec.structs.replace(BOB, impersonate_user="system:serviceaccount:default:robot")
    info = whoami(secure, robot).body["status"]["userInfo"]
    assert info["groups"] == [
        "system:serviceaccounts",
        "system:serviceaccounts:default",
        "system:authenticated",
    ]
    elsewhere = msgspec.structs.replace(BOB, impersonate_user="system:serviceaccount:other:robot")
    assert whoami(secure, elsewhere).status == 403
    with_group = msgspec.structs.replace(robot, impersonate_groups=("system:masters",))
    refused = whoami(secure, with_group)
    assert refused.body["message"] == (
        'groups "system:masters" is forbidden: User "bob" cannot impersonate resource "groups" '
        'in API group "" at the cluster scope'
    )


def test_groups_without_a_user_is_a_bad_request(secure: LocalApiServer) -> None:
    answer = whoami(secure, msgspec.structs.replace(ADMIN, impersonate_groups=("devs",)))
    assert answer.status == 400
    assert answer.body["reason"] == "BadRequest"
