"""Print what the secure port's checks cost: requests/s over HTTPS with a client certificate
(pyOpenSSL's TLS, the certificate verified per request) next to plain HTTP; creates/s of the
in-process machine with 0, 1 and 5 ValidatingAdmissionPolicy bindings (CEL compiled and
evaluated per request); and a node's secret reads/s under the Node authorizer with 10, 100 and
1000 pods in the namespace spread over 10 nodes (the graph questions decode the node's pods).

Run: ``python -m benchmarks.apiserver_security``. Each HTTP figure is one client on one
keep-alive connection for 2 seconds; each machine figure is 300 requests.
"""

from __future__ import annotations

import http.client
import ssl
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec

from impl.apiserver.context import Config, builtin_config
from models.apiserver.auth import AuthConfig, Credentials
from runner.apiserver.local import LocalApiServer
from runner.apiserver.server import ApiHttpServer, start_in_thread
from runner.apiserver.tls import generate, serving_hosts

SECONDS = 2.0
REQUESTS = 300
ADMIN = Credentials(certificate_user="admin", certificate_groups=("system:masters",))
PATH = "/api/v1/namespaces/default/configmaps"


def _rate(connection: http.client.HTTPConnection, path: str) -> float:
    count, deadline = 0, time.perf_counter() + SECONDS
    started = time.perf_counter()
    while time.perf_counter() < deadline:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        assert response.status == 200, response.status
        count += 1
    return count / (time.perf_counter() - started)


def http_rates() -> tuple[float, float]:
    """(HTTP, HTTPS with the admin's client certificate) GETs per second."""
    with tempfile.TemporaryDirectory() as folder:
        files = generate(Path(folder), serving_hosts("127.0.0.1", "10.96.0.1"))
        config: Config = msgspec.structs.replace(builtin_config(), auth=AuthConfig(modes=("RBAC",)))
        server = ApiHttpServer(("127.0.0.1", 0), config, secure=(("127.0.0.1", 0), files))
        start_in_thread(server)
        try:
            host, port = server.server_address
            plain = _rate(http.client.HTTPConnection(host, port, timeout=10), PATH)
            assert files.admin_cert is not None
            assert files.admin_key is not None
            context = ssl.create_default_context(cafile=str(files.server_ca))
            context.load_cert_chain(files.admin_cert, files.admin_key)
            assert server.secure_address is not None
            secure_host, secure_port = server.secure_address
            secure = _rate(
                http.client.HTTPSConnection(secure_host, secure_port, context=context, timeout=10),
                PATH,
            )
        finally:
            server.close()
    return plain, secure


def _deployment(name: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "x"}},
            "template": {
                "metadata": {"labels": {"app": "x"}},
                "spec": {"containers": [{"name": "c", "image": "i"}]},
            },
        },
    }


def policy_rate(bindings: int) -> float:
    """Deployment creates per second with ``bindings`` bound policies (each one validation)."""
    server = LocalApiServer()
    base = "/apis/admissionregistration.k8s.io/v1"
    rule = {"apiGroups": ["apps"], "apiVersions": ["v1"], "operations": ["CREATE"]}
    for index in range(bindings):
        policy = {
            "metadata": {"name": f"p{index}"},
            "spec": {
                "matchConstraints": {"resourceRules": [{**rule, "resources": ["deployments"]}]},
                "validations": [{"expression": "object.spec.replicas <= 5"}],
            },
        }
        server.call("POST", f"{base}/validatingadmissionpolicies", policy)
        binding = {
            "metadata": {"name": f"b{index}"},
            "spec": {"policyName": f"p{index}", "validationActions": ["Deny"]},
        }
        server.call("POST", f"{base}/validatingadmissionpolicybindings", binding)
    started = time.perf_counter()
    for index in range(REQUESTS):
        answer = server.call(
            "POST", "/apis/apps/v1/namespaces/default/deployments", _deployment(f"d{index}")
        )
        assert answer.status == 201, answer.body
    return REQUESTS / (time.perf_counter() - started)


def node_read_rate(pods: int) -> float:
    """A node's gets of a secret its pod uses, per second, with ``pods`` pods over 10 nodes."""
    config: Config = msgspec.structs.replace(
        builtin_config(), auth=AuthConfig(modes=("Node", "RBAC"))
    )
    server = LocalApiServer(config=config)
    server.call(
        "POST", f"{PATH.rsplit('/', 1)[0]}/secrets", {"metadata": {"name": "s"}}, credentials=ADMIN
    )
    for index in range(pods):
        container: dict[str, Any] = {"name": "c", "image": "i"}
        if index == 1:
            container["envFrom"] = [{"secretRef": {"name": "s"}}]
        pod = {
            "metadata": {"name": f"p{index}"},
            "spec": {"nodeName": f"n{index % 10}", "containers": [container]},
        }
        server.call("POST", "/api/v1/namespaces/default/pods", pod, credentials=ADMIN)
    node = Credentials(certificate_user="system:node:n1", certificate_groups=("system:nodes",))
    started = time.perf_counter()
    for _ in range(REQUESTS):
        answer = server.call("GET", "/api/v1/namespaces/default/secrets/s", credentials=node)
        assert answer.status == 200, answer.body
    return REQUESTS / (time.perf_counter() - started)


def main() -> None:
    plain, secure = http_rates()
    print(f"GET over HTTP                    {plain:8.0f} req/s")
    print(f"GET over HTTPS + client cert     {secure:8.0f} req/s  ({secure / plain:.2f}x)")
    for bindings in (0, 1, 5):
        print(f"creates, {bindings} VAP bindings          {policy_rate(bindings):8.0f} req/s")
    for pods in (10, 100, 1000):
        print(f"node secret gets, {pods:4d} pods      {node_read_rate(pods):8.0f} req/s")


if __name__ == "__main__":
    main()
