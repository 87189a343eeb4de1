"""PodSecurity's warn and audit modes and version labels (v1.35): the policy each mode gets
from the namespace labels (warn following a stricter enforce level), the ``would violate
PodSecurity`` Warning on admitted pods and on workloads' pod templates, the audit annotations,
and the warnings about existing pods when a namespace's enforce level changes; then the same
through the real kubectl."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from impl.apiserver.context import warning_header
from impl.apiserver.pod_security import Policy, evaluate, policy
from runner.apiserver.local import LocalApiServer
from tests.apiserver.kubectl import kubectl, require_kubectl, serve

P = "pod-security.kubernetes.io/"
RESTRICTED_REASONS = (
    "allowPrivilegeEscalation != false, unrestricted capabilities, runAsNonRoot != true, "
    "seccompProfile"
)
RESTRICTED_DETAIL = (
    'allowPrivilegeEscalation != false (container "c" must set '
    "securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "
    '"c" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or '
    'container "c" must set securityContext.runAsNonRoot=true), seccompProfile (pod or '
    'container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or '
    '"Localhost")'
)


def ns(labels: dict[str, str], name: str = "team") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def pod(name: str = "p", **container: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "nginx", **container}]},
    }


def test_each_mode_reads_its_labels_with_kubes_defaults() -> None:
    assert policy(None) == Policy("privileged:latest", "privileged:latest", "privileged:latest")
    assert policy(ns({P + "warn": "baseline", P + "warn-version": "v1.30"})) == Policy(
        "privileged:latest", "privileged:latest", "baseline:v1.30"
    )
    # warn follows a stricter enforce level (and its version) unless warn is set
    assert policy(ns({P + "enforce": "restricted", P + "enforce-version": "v1.29"})) == Policy(
        "restricted:v1.29", "privileged:latest", "restricted:v1.29"
    )
    assert policy(ns({P + "enforce": "baseline", P + "warn": "privileged"})) == Policy(
        "baseline:latest", "privileged:latest", "privileged:latest"
    )
    # an invalid enforce level is restricted (fail closed), an invalid warn or audit level
    # privileged (fail open), an invalid version latest
    assert policy(ns({P + "audit": "tight", P + "audit-version": "1.30"})) == Policy(
        "privileged:latest", "privileged:latest", "privileged:latest"
    )
    assert policy(ns({P + "enforce": "tight", P + "warn": "loose"})) == Policy(
        "restricted:latest", "privileged:latest", "privileged:latest"
    )


def test_evaluate_gives_enforce_audit_and_warn() -> None:
    labels = {P + "enforce": "baseline", P + "audit": "restricted", P + "warn": "restricted"}
    result = evaluate(ns(labels), pod(), "p", enforce=True)
    assert result.refusal is None
    assert result.warnings == (
        f'would violate PodSecurity "restricted:latest": {RESTRICTED_DETAIL}',
    )
    assert result.audit_annotations == (
        (
            P + "audit-violations",
            f'would violate PodSecurity "restricted:latest": {RESTRICTED_DETAIL}',
        ),
        (P + "enforce-policy", "baseline:latest"),
    )
    refused = evaluate(ns({P + "enforce": "restricted"}), pod(), "p", enforce=True)
    assert refused.refusal is not None
    assert refused.warnings == ()  # no warning on a refusal


def test_an_admitted_pod_gets_the_warning(server: LocalApiServer) -> None:
    labels = {P + "warn": "restricted", P + "warn-version": "v1.33"}
    assert server.call("POST", "/api/v1/namespaces", ns(labels)).status == 201
    answer = server.call("POST", "/api/v1/namespaces/team/pods", pod())
    assert answer.status == 201
    assert answer.warnings == (
        warning_header(f'would violate PodSecurity "restricted:v1.33": {RESTRICTED_DETAIL}'),
    )
    fine = pod(
        "ok",
        securityContext={
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "runAsNonRoot": True,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    )
    assert server.call("POST", "/api/v1/namespaces/team/pods", fine).warnings == ()


def test_workloads_are_warned_about_their_templates(server: LocalApiServer) -> None:
    assert (
        server.call("POST", "/api/v1/namespaces", ns({P + "enforce": "restricted"})).status == 201
    )
    template = {"metadata": {"labels": {"app": "w"}}, "spec": pod()["spec"]}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "w"},
        "spec": {"selector": {"matchLabels": {"app": "w"}}, "template": template},
    }
    created = server.call("POST", "/apis/apps/v1/namespaces/team/deployments", deployment)
    expected = (
        warning_header(f'would violate PodSecurity "restricted:latest": {RESTRICTED_DETAIL}'),
    )
    assert (created.status, created.warnings) == (201, expected)
    body = created.body
    body["spec"]["replicas"] = 3
    updated = server.call("PUT", "/apis/apps/v1/namespaces/team/deployments/w", body)
    assert (updated.status, updated.warnings) == (200, expected)
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "once"},
        "spec": {"template": {"spec": {**pod()["spec"], "restartPolicy": "Never"}}},
    }
    assert server.call("POST", "/apis/batch/v1/namespaces/team/jobs", job).warnings == expected
    # the same workload in an unlabelled namespace: no warning
    assert (
        server.call("POST", "/apis/apps/v1/namespaces/default/deployments", deployment).warnings
        == ()
    )


def test_a_stricter_enforce_level_warns_about_existing_pods(server: LocalApiServer) -> None:
    assert server.call("POST", "/api/v1/namespaces", ns({})).status == 201
    for name in ("b", "a", "c"):
        assert server.call("POST", "/api/v1/namespaces/team/pods", pod(name)).status == 201
    privileged = pod("x", securityContext={"privileged": True})
    assert server.call("POST", "/api/v1/namespaces/team/pods", privileged).status == 201
    patch = {"metadata": {"labels": {P + "enforce": "restricted"}}}
    answer = server.call(
        "PATCH", "/api/v1/namespaces/team", patch, content_type="application/merge-patch+json"
    )
    assert answer.status == 200
    assert answer.warnings == tuple(
        warning_header(text)
        for text in (
            'existing pods in namespace "team" violate the new PodSecurity enforce level '
            '"restricted:latest"',
            f"a (and 2 other pods): {RESTRICTED_REASONS}",
            # kube orders the checks by ID: capabilities_restricted before privileged
            "x: allowPrivilegeEscalation != false, unrestricted capabilities, privileged, "
            "runAsNonRoot != true, seccompProfile",
        )
    )
    # relabelling to the same level, or only changing warn, checks nothing
    again = {"metadata": {"labels": {P + "enforce": "restricted", P + "warn": "baseline"}}}
    unchanged = server.call(
        "PATCH", "/api/v1/namespaces/team", again, content_type="application/merge-patch+json"
    )
    assert (unchanged.status, unchanged.warnings) == (200, ())


@pytest.mark.kubectl
def test_kubectl_shows_pod_security_warnings(tmp_path: Path) -> None:
    require_kubectl()
    with serve(tmp_path) as served:
        assert kubectl(served, "create", "namespace", "team").returncode == 0
        ran = kubectl(served, "run", "web", "--image=nginx", "-n", "team")
        assert ran.returncode == 0, ran.stderr
        labelled = kubectl(
            served, "label", "ns", "team", "pod-security.kubernetes.io/enforce=restricted"
        )
        assert labelled.returncode == 0, labelled.stderr
        assert labelled.stderr.splitlines() == [
            'Warning: existing pods in namespace "team" violate the new PodSecurity enforce '
            'level "restricted:latest"',
            f"Warning: web: {RESTRICTED_REASONS}",
        ]
        assert labelled.stdout.strip() == "namespace/team labeled"
        made = kubectl(served, "create", "deployment", "api", "--image=nginx", "-n", "team")
        assert made.returncode == 0, made.stderr
        assert made.stderr.splitlines() == [
            'Warning: would violate PodSecurity "restricted:latest": '
            + RESTRICTED_DETAIL.replace('"c"', '"nginx"')
        ]
        assert made.stdout.strip() == "deployment.apps/api created"


def test_a_server_dry_run_warns_and_changes_nothing(server: LocalApiServer) -> None:
    """``kubectl label --dry-run=server``, the documented way to preview an enforce level: the
    warnings come back, the namespace keeps its labels."""
    assert server.call("POST", "/api/v1/namespaces", ns({})).status == 201
    assert server.call("POST", "/api/v1/namespaces/team/pods", pod("web")).status == 201
    before = server.call("GET", "/api/v1/namespaces/team").body
    patch = {"metadata": {"labels": {P + "enforce": "restricted"}}}
    answer = server.call(
        "PATCH",
        "/api/v1/namespaces/team",
        patch,
        query={"dryRun": "All"},
        content_type="application/merge-patch+json",
    )
    assert answer.status == 200
    assert answer.body["metadata"]["labels"][P + "enforce"] == "restricted"
    assert answer.body["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert answer.warnings == (
        warning_header(
            'existing pods in namespace "team" violate the new PodSecurity enforce level '
            '"restricted:latest"'
        ),
        warning_header(f"web: {RESTRICTED_REASONS}"),
    )
    assert server.call("GET", "/api/v1/namespaces/team").body == before
    created = server.call(
        "POST", "/api/v1/namespaces/team/pods", pod("dry"), query={"dryRun": "All"}
    )
    assert created.status == 201
    assert "resourceVersion" not in created.body["metadata"]
    assert server.call("GET", "/api/v1/namespaces/team/pods/dry").status == 404
    deleted = server.call("DELETE", "/api/v1/namespaces/team/pods/web", query={"dryRun": "All"})
    assert deleted.status == 200
    assert server.call("GET", "/api/v1/namespaces/team/pods/web").status == 200


@pytest.mark.kubectl
def test_kubectl_label_dry_run_server_previews_the_level(tmp_path: Path) -> None:
    require_kubectl()
    with serve(tmp_path) as served:
        assert kubectl(served, "create", "namespace", "team").returncode == 0
        assert kubectl(served, "run", "web", "--image=nginx", "-n", "team").returncode == 0
        previewed = kubectl(
            served,
            "label",
            "--dry-run=server",
            "--overwrite",
            "ns",
            "team",
            "pod-security.kubernetes.io/enforce=restricted",
        )
        assert previewed.returncode == 0, previewed.stderr
        assert previewed.stdout.strip() == "namespace/team labeled (server dry run)"
        assert previewed.stderr.splitlines() == [
            'Warning: existing pods in namespace "team" violate the new PodSecurity enforce '
            'level "restricted:latest"',
            f"Warning: web: {RESTRICTED_REASONS}",
        ]
        labels = kubectl(served, "get", "ns", "team", "-o", "jsonpath={.metadata.labels}")
        assert "pod-security" not in labels.stdout


def test_invalid_labels_are_refused_on_namespace_writes(server: LocalApiServer) -> None:
    bad = ns({P + "enforce": "tight", P + "warn-version": "1.30"}, "bad")
    answer = server.call("POST", "/api/v1/namespaces", bad)
    assert (answer.status, answer.body["message"]) == (
        422,
        'Namespace "bad" is invalid: [metadata.labels[pod-security.kubernetes.io/enforce]: '
        'Invalid value: "tight": must be one of privileged, baseline, restricted, '
        'metadata.labels[pod-security.kubernetes.io/warn-version]: Invalid value: "1.30": '
        'must be "latest" or "v1.x"]',
    )
    assert server.call("POST", "/api/v1/namespaces", ns({}, "ok")).status == 201
    patch = {"metadata": {"labels": {P + "audit": "all"}}}
    refused = server.call(
        "PATCH", "/api/v1/namespaces/ok", patch, content_type="application/merge-patch+json"
    )
    assert (refused.status, refused.body["message"]) == (
        422,
        'Namespace "ok" is invalid: metadata.labels[pod-security.kubernetes.io/audit]: '
        'Invalid value: "all": must be one of privileged, baseline, restricted',
    )


def test_relaxing_the_enforce_level_checks_no_pods(server: LocalApiServer) -> None:
    assert server.call("POST", "/api/v1/namespaces", ns({})).status == 201
    privileged = pod("x", securityContext={"privileged": True})
    assert server.call("POST", "/api/v1/namespaces/team/pods", privileged).status == 201
    merge = "application/merge-patch+json"

    def relabel(labels: dict[str, str]) -> tuple[str, ...]:
        patch = {"metadata": {"labels": labels}}
        answer = server.call("PATCH", "/api/v1/namespaces/team", patch, content_type=merge)
        assert answer.status == 200
        return answer.warnings

    header = 'existing pods in namespace "team" violate the new PodSecurity enforce level '
    strict = relabel({P + "enforce": "restricted", P + "enforce-version": "v1.30"})
    assert strict[0] == warning_header(header + '"restricted:v1.30"')
    # x violates baseline too, but baseline at the same version is a relaxation: not checked
    assert relabel({P + "enforce": "baseline"}) == ()
    # a new version is checked even at the same level
    assert relabel({P + "enforce-version": "v1.31"}) == (
        warning_header(header + '"baseline:v1.31"'),
        warning_header("x: privileged"),
    )
