"""kubectl v1.32 and admission: ValidatingAdmissionPolicy (the documentation's replica-limit
policy and binding applied with ``kubectl apply``, a deployment refused with kube's exact
message, one that passes, a Warn binding's warning printed by kubectl, the policies listed),
PodSecurity's warn label, and object-count ResourceQuotas."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.apiserver.kubectl import Served, kubectl, require_kubectl, serve

pytestmark = pytest.mark.kubectl

POLICY = """\
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: demo-policy.example.com}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
    - apiGroups: [apps]
      apiVersions: [v1]
      operations: [CREATE, UPDATE]
      resources: [deployments]
  validations:
  - expression: object.spec.replicas <= 5
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: demo-binding-test.example.com}
spec:
  policyName: demo-policy.example.com
  validationActions: [Deny]
  matchResources:
    namespaceSelector:
      matchLabels: {environment: test}
---
apiVersion: v1
kind: Namespace
metadata:
  name: test
  labels: {environment: test}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: named-app}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE], resources: [deployments]}
  validations:
  - expression: "has(object.metadata.labels) && 'app' in object.metadata.labels"
    message: deployments should carry an app label
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: named-app-warn}
spec:
  policyName: named-app
  validationActions: [Warn]
"""


@pytest.fixture(autouse=True)
def _kubectl_installed() -> None:
    require_kubectl()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve(tmp_path_factory.mktemp("apiserver")) as running:
        applied = kubectl(running, "apply", "-f", "-", stdin=POLICY)
        assert applied.returncode == 0, applied.stderr
        yield running


def test_a_deployment_over_the_limit_is_refused_with_kubes_message(served: Served) -> None:
    done = kubectl(
        served, "create", "deployment", "nginx", "--image=nginx", "--replicas=7", "-n", "test"
    )
    assert done.returncode == 1
    assert done.stderr.strip() == (
        'error: failed to create deployment: deployments.apps "nginx" is forbidden: '
        "ValidatingAdmissionPolicy 'demo-policy.example.com' with binding "
        "'demo-binding-test.example.com' denied request: failed expression: "
        "object.spec.replicas <= 5"
    )


def test_a_deployment_within_the_limit_passes_with_a_warning(served: Served) -> None:
    done = kubectl(
        served, "create", "deployment", "ok", "--image=nginx", "--replicas=2", "-n", "test"
    )
    assert done.returncode == 0, done.stderr
    # kubectl create deployment labels it app=ok, so the Warn binding stays quiet.
    assert "Warning" not in done.stderr
    bare = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: bare, namespace: default}
spec:
  replicas: 7
  selector: {matchLabels: {run: bare}}
  template:
    metadata: {labels: {run: bare}}
    spec: {containers: [{name: c, image: nginx}]}
"""
    done = kubectl(served, "apply", "-f", "-", stdin=bare)
    assert done.returncode == 0, done.stderr  # not in namespace test: the Deny binding skips it
    assert done.stderr.strip() == (
        "Warning: Validation failed for ValidatingAdmissionPolicy 'named-app' with binding "
        "'named-app-warn': deployments should carry an app label"
    )


def test_an_update_over_the_limit_is_refused(served: Served) -> None:
    patch = '{"spec":{"replicas":9}}'
    done = kubectl(served, "patch", "deployment", "ok", "-n", "test", "-p", patch)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        'The deployments "ok" is invalid: : ValidatingAdmissionPolicy '
        "'demo-policy.example.com' with binding 'demo-binding-test.example.com' denied request: "
        "failed expression: object.spec.replicas <= 5"
    )
    # The scale subresource is another resource (deployments/scale), which the rule does not
    # name: kube admits it too.
    done = kubectl(served, "scale", "deployment", "ok", "--replicas=9", "-n", "test")
    assert done.returncode == 0, done.stderr


def test_the_policies_are_listed(served: Served) -> None:
    done = kubectl(served, "get", "validatingadmissionpolicies", "-o", "name")
    assert done.stdout.split() == [
        "validatingadmissionpolicy.admissionregistration.k8s.io/demo-policy.example.com",
        "validatingadmissionpolicy.admissionregistration.k8s.io/named-app",
    ]


def test_pod_security_warn_prints_kubes_warning(served: Served) -> None:
    done = kubectl(served, "create", "namespace", "warned")
    assert done.returncode == 0, done.stderr
    done = kubectl(
        served, "label", "namespace", "warned", "pod-security.kubernetes.io/warn=baseline"
    )
    assert done.returncode == 0, done.stderr
    pod = """\
apiVersion: v1
kind: Pod
metadata: {name: host, namespace: warned}
spec:
  hostNetwork: true
  containers: [{name: web, image: nginx, securityContext: {privileged: true}}]
"""
    done = kubectl(served, "apply", "-f", "-", stdin=pod)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == (
        'Warning: would violate PodSecurity "baseline:latest": host namespaces '
        '(hostNetwork=true), privileged (container "web" must not set '
        "securityContext.privileged=true)"
    )
    assert done.stdout.strip() == "pod/host created"


def test_an_object_count_quota_refuses_with_kubes_message(served: Served) -> None:
    assert kubectl(served, "create", "namespace", "counted").returncode == 0
    done = kubectl(
        served, "create", "quota", "objects", "-n", "counted", "--hard=count/configmaps=1,secrets=0"
    )
    assert done.returncode == 0, done.stderr
    assert kubectl(served, "create", "configmap", "one", "-n", "counted").returncode == 0
    done = kubectl(served, "create", "configmap", "two", "-n", "counted")
    assert (done.returncode, done.stderr.strip()) == (
        1,
        'error: failed to create configmap: configmaps "two" is forbidden: exceeded quota: '
        "objects, requested: count/configmaps=1, used: count/configmaps=1, limited: "
        "count/configmaps=1",
    )
    done = kubectl(served, "create", "secret", "generic", "s", "-n", "counted")
    assert done.returncode == 1
    assert done.stderr.strip().endswith(
        'secrets "s" is forbidden: exceeded quota: objects, requested: secrets=1, used: '
        "secrets=0, limited: secrets=0"
    )
