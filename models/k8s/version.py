"""The Kubernetes release every kubeoracle component follows, stated once.

The API server reports it at ``/version``; defaulting, validation and controller behaviour
follow this release's sources.
"""

from typing import Final

KUBERNETES_VERSION: Final = "v1.35.0"
KUBERNETES_MAJOR: Final = "1"
KUBERNETES_MINOR: Final = "35"
