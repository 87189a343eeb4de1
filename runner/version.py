"""The installed kubeoracle version, shown by ``--version`` and written into trace headers."""

from importlib import metadata


def version_text() -> str:
    """The installed distribution's version, or ``unknown`` when run from a bare checkout."""
    try:
        return metadata.version("kubeoracle")
    except metadata.PackageNotFoundError:
        return "unknown"
