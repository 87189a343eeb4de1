"""``--write-kubeconfig``: a kubeconfig that points kubectl (and client libraries) at the server.

Over plain HTTP kubectl sends no credentials (client-go drops them on insecure transports), so
the user entry is empty. Over HTTPS the file trusts the server's CA and, as kubeadm's
``admin.conf``, authenticates with the admin's client certificate
(``CN=kubernetes-admin, O=system:masters``). The file is written with owner-only permissions.
"""

from __future__ import annotations

import base64
from pathlib import Path

import yaml

CLUSTER = "kubeoracle"
CONTEXT = "kubeoracle"
USER = "kubeoracle"


def _data(pem: bytes) -> str:
    return base64.b64encode(pem).decode("ascii")


def kubeconfig_text(
    server_url: str,
    ca_pem: bytes | None = None,
    client_cert_pem: bytes | None = None,
    client_key_pem: bytes | None = None,
    token: str | None = None,
) -> str:
    cluster: dict[str, str] = {"server": server_url}
    if ca_pem is not None:
        cluster["certificate-authority-data"] = _data(ca_pem)
    user: dict[str, str] = {}
    if client_cert_pem is not None and client_key_pem is not None:
        user["client-certificate-data"] = _data(client_cert_pem)
        user["client-key-data"] = _data(client_key_pem)
    if token is not None:
        user["token"] = token
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CLUSTER, "cluster": cluster}],
        "users": [{"name": USER, "user": user}],
        "contexts": [
            {
                "name": CONTEXT,
                "context": {"cluster": CLUSTER, "user": USER, "namespace": "default"},
            }
        ],
        "current-context": CONTEXT,
        "preferences": {},
    }
    return yaml.safe_dump(document, sort_keys=False)


def write_kubeconfig(path: Path, server_url: str) -> None:
    path.write_text(kubeconfig_text(server_url), encoding="utf-8")
    path.chmod(0o600)
