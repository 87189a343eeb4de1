"""``--write-kubeconfig``: a kubeconfig that points kubectl (and client libraries) at the server.

Over plain HTTP kubectl sends no credentials (client-go drops them on insecure transports), so
the user entry is empty. The file is written with owner-only permissions, as kubeconfigs hold
credentials in general.
"""

from __future__ import annotations

from pathlib import Path

import yaml

CLUSTER = "kubeoracle"
CONTEXT = "kubeoracle"
USER = "kubeoracle"


def kubeconfig_text(server_url: str) -> str:
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CLUSTER, "cluster": {"server": server_url}}],
        "users": [{"name": USER, "user": {}}],
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
