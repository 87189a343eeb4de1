"""A self-signed serving certificate, as kube-controller-manager and kube-scheduler make one in
``--cert-dir`` when no ``--tls-cert-file`` is given (valid for localhost, 127.0.0.1 and the host
name)."""

from __future__ import annotations

import socket
from pathlib import Path

from runner import pki


def self_signed(folder: Path, component: str) -> tuple[Path, Path]:
    """Write ``<component>.crt``/``.key`` under ``folder``; their paths."""
    host = socket.gethostname()
    issued = pki.self_signed(f"{host}@kubeoracle", ("localhost", host, "127.0.0.1"))
    cert_path = folder / f"{component}.crt"
    key_path = folder / f"{component}.key"
    issued.write(cert_path, key_path)
    return cert_path, key_path
