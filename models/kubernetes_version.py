"""The Kubernetes release every kubeoracle component follows, stated once.

Components cite this constant wherever behaviour depends on the release (reason strings,
default plugins, feature gate defaults); documents name the same release. Changing it is a
deliberate act: each component's docs list what it adopted from this release.
"""

from __future__ import annotations

from typing import Final

KUBERNETES_MAJOR: Final = 1
KUBERNETES_MINOR: Final = 35
KUBERNETES_VERSION: Final = f"v{KUBERNETES_MAJOR}.{KUBERNETES_MINOR}"
"""``v1.35``: the release whose semantics kubeoracle reproduces."""

STAGING_TAG: Final = f"v0.{KUBERNETES_MINOR}.0"
"""The matching tag of the staging repositories (k8s.io/api, component-helpers, ...)."""
