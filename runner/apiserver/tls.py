"""The secure port's TLS: the certificates it serves with (given, or generated as kubeadm makes
them), the ``ssl`` context that asks clients for a certificate signed by the client CA, and the
uvicorn protocol that hands a connection's verified client certificate to the application (as
the ASGI TLS extension's ``client_cert_chain``).

Python's ``ssl`` verifies a client certificate during the handshake, so a certificate the client
CA did not sign, or an expired one, ends the connection with a TLS alert (kube-apiserver
requests the certificate without verifying it in the handshake and answers 401 instead). Either
way the request gets no access.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from models.strict_input import InputError
from runner import pki

ADMIN_USER = "kubernetes-admin"
ADMIN_GROUP = "system:masters"

Scope = MutableMapping[str, Any]
App = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Any]


@dataclass(frozen=True)
class SecureFiles:
    """Where the secure port's certificates are: the serving pair, the client CA, and (when
    generated) the CA key that can sign client certificates and the admin's pair."""

    cert: Path
    key: Path
    client_ca: Path | None
    ca_key: Path | None = None
    admin_cert: Path | None = None
    admin_key: Path | None = None
    server_ca: Path | None = None
    """What a client trusts to verify the serving certificate (the generated CA, or the serving
    certificate itself when given)."""
    service_account_key: Path | None = None
    """The generated RSA key that signs ServiceAccount tokens."""


def serving_hosts(bind_address: str, service_ip: str) -> tuple[str, ...]:
    """The names and addresses kubeadm puts in the API server's certificate."""
    hosts = [
        "localhost",
        "127.0.0.1",
        socket.gethostname(),
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
        service_ip,
    ]
    if bind_address not in ("", "0.0.0.0", "::") and bind_address not in hosts:
        hosts.append(bind_address)
    return tuple(hosts)


def generate(folder: Path, hosts: tuple[str, ...]) -> SecureFiles:
    """A CA, a serving certificate for ``hosts``, the admin's client certificate
    (``CN=kubernetes-admin, O=system:masters``) and a ServiceAccount signing key under
    ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    ca = pki.new_ca("kubernetes")
    ca.write(folder / "ca.crt", folder / "ca.key")
    pki.issue(ca, "kube-apiserver", hosts=hosts).write(
        folder / "apiserver.crt", folder / "apiserver.key"
    )
    pki.issue(ca, ADMIN_USER, organizations=(ADMIN_GROUP,), client=True).write(
        folder / "admin.crt", folder / "admin.key"
    )
    (folder / "sa.key").write_bytes(pki.new_rsa_key_pem())
    (folder / "sa.key").chmod(0o600)
    return SecureFiles(
        cert=folder / "apiserver.crt",
        key=folder / "apiserver.key",
        client_ca=folder / "ca.crt",
        ca_key=folder / "ca.key",
        admin_cert=folder / "admin.crt",
        admin_key=folder / "admin.key",
        server_ca=folder / "ca.crt",
        service_account_key=folder / "sa.key",
    )


def server_context(files: SecureFiles) -> ssl.SSLContext:
    """The secure port's context; InputError names the flag of a file that does not load."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(files.cert, files.key)
    except (OSError, ssl.SSLError) as error:
        raise InputError(
            f"cannot load the serving certificate and key: {error}", field="--tls-cert-file"
        ) from None
    if files.client_ca is not None:
        try:
            context.load_verify_locations(cafile=str(files.client_ca))
        except (OSError, ssl.SSLError) as error:
            raise InputError(
                f"cannot load the client CA: {error}", field="--client-ca-file"
            ) from None
        context.verify_mode = ssl.CERT_OPTIONAL
    return context


def client_identity(scope: Scope) -> tuple[str, tuple[str, ...]] | None:
    """The verified client certificate's CN and Os, from the ASGI TLS extension."""
    tls = scope.get("extensions", {}).get("tls")
    if not isinstance(tls, dict):
        return None
    chain = tls.get("client_cert_chain") or []
    if not chain:
        return None
    certificate = x509.load_pem_x509_certificate(chain[0].encode("ascii"))
    return pki.identity(certificate)


def _with_client_chain(transport: asyncio.BaseTransport, inner: Any) -> Any:
    """``inner`` with the connection's client certificate in each scope it is called with."""
    ssl_object = transport.get_extra_info("ssl_object")
    der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    chain = [ssl.DER_cert_to_PEM_cert(der)] if der else []

    async def with_tls(scope: Scope, receive: Any, send: Any) -> None:
        extensions = dict(scope.get("extensions") or {})
        extensions["tls"] = {"client_cert_chain": chain, "server_cert": None}
        scope["extensions"] = extensions
        await inner(scope, receive, send)

    return with_tls


class TlsH11Protocol(H11Protocol):
    """uvicorn's h11 protocol that puts the connection's client certificate in each request's
    scope (``extensions.tls.client_cert_chain``, PEM)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.app = _with_client_chain(transport, self.app)


class TlsWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol (an upgraded connection) that does the same for the
    WebSocket scope."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.app = _with_client_chain(transport, self.app)
