"""The secure port's TLS: the certificates it serves with (given, or generated as kubeadm makes
them), the pyOpenSSL context that asks clients for a certificate without judging it in the
handshake, the check of that certificate kube-apiserver's x509 authenticator makes, and the
uvicorn protocol that hands each request the certificate and the check's verdict.

As in kube-apiserver, the handshake accepts any client certificate (the server names the client
CA's subjects as acceptable issuers); each request then verifies it against ``--client-ca-file``
at the request's time, for client authentication. A request whose certificate does not verify
(expired, not yet valid, signed by another CA, not for client authentication) is authenticated
by its bearer token if it has a valid one and gets 401 otherwise, never anonymous access.
"""

from __future__ import annotations

import asyncio
import datetime
import functools
import socket
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, cast

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import verification
from cryptography.x509.oid import ExtendedKeyUsageOID
from OpenSSL import SSL
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from models.strict_input import InputError
from runner import pki
from runner.apiserver.openssl_transport import TlsServerProtocol

ADMIN_USER = "kubernetes-admin"
ADMIN_GROUP = "system:masters"

CLIENT_CERTIFICATE: Final = "kubeoracle.client_certificate"
"""The scope extension with the verdict on the request's client certificate: absent (none was
presented), ``(user, groups)`` (it verified), or a string saying why it did not."""

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


@dataclass(frozen=True)
class ServerTls:
    """The secure port's TLS context and the client CA's certificates that verify clients."""

    context: SSL.Context
    client_roots: tuple[x509.Certificate, ...]


def _accept_any(
    _connection: SSL.Connection, _certificate: Any, _error: int, _depth: int, _ok: int
) -> bool:
    """The handshake's verify callback: every certificate passes; requests verify it."""
    return True


def server_context(files: SecureFiles) -> ServerTls:
    """The secure port's context; InputError names the flag of a file that does not load."""
    context = SSL.Context(SSL.TLS_SERVER_METHOD)
    context.set_min_proto_version(SSL.TLS1_2_VERSION)
    try:
        context.use_certificate_chain_file(str(files.cert))
        context.use_privatekey_file(str(files.key))
        context.check_privatekey()
    except (OSError, SSL.Error) as error:
        raise InputError(
            f"cannot load the serving certificate and key: {error}", field="--tls-cert-file"
        ) from None
    roots: tuple[x509.Certificate, ...] = ()
    if files.client_ca is not None:
        try:
            roots = tuple(x509.load_pem_x509_certificates(files.client_ca.read_bytes()))
        except (OSError, ValueError) as error:
            raise InputError(
                f"cannot load the client CA: {error}", field="--client-ca-file"
            ) from None
        for root in roots:
            context.add_client_ca(root)
        context.set_verify(SSL.VERIFY_PEER, _accept_any)
    return ServerTls(context=context, client_roots=roots)


def _client_auth_policy() -> verification.ExtensionPolicy:
    """What a leaf needs (Go's x509 with ``KeyUsages: ClientAuth``): if it has an extended key
    usage, clientAuth or anyExtendedKeyUsage among them; no subjectAltName required."""

    def usages(
        _policy: verification.Policy, _leaf: x509.Certificate, value: x509.ExtendedKeyUsage | None
    ) -> None:
        if value is None:
            return
        if ExtendedKeyUsageOID.CLIENT_AUTH in value or (
            ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in value
        ):
            return
        raise ValueError("certificate specifies an incompatible key usage")

    return verification.ExtensionPolicy.permit_all().may_be_present(
        x509.ExtendedKeyUsage, verification.Criticality.AGNOSTIC, usages
    )


def verify_client(
    chain: list[x509.Certificate],
    roots: tuple[x509.Certificate, ...],
    now: datetime.datetime,
) -> tuple[str, tuple[str, ...]] | str | None:
    """kube's x509 authenticator on a presented chain (leaf first): None when nothing was
    presented or the CN is empty (the request falls through to the other authenticators), the
    CN and Os when it verifies against ``roots`` at ``now``, else why it does not."""
    if not chain:
        return None
    leaf, intermediates = chain[0], chain[1:]
    if not roots:
        return "no client CA is configured"
    verifier = (
        verification.PolicyBuilder()
        .store(verification.Store(list(roots)))
        .time(now)
        .extension_policies(
            ca_policy=verification.ExtensionPolicy.webpki_defaults_ca(),
            ee_policy=_client_auth_policy(),
        )
        .build_client_verifier()
    )
    try:
        verifier.verify(leaf, intermediates)
    except verification.VerificationError as error:
        return f"verifying certificate {leaf.subject.rfc4514_string()} failed: {error}"
    user, groups = pki.identity(leaf)
    return (user, groups) if user else None


def _peer_chain(connection: SSL.Connection) -> list[x509.Certificate]:
    """The client's certificates, leaf first."""
    leaf = connection.get_peer_certificate(as_cryptography=True)
    if leaf is None:
        return []
    rest = connection.get_peer_cert_chain(as_cryptography=True) or []
    return [leaf, *(c for c in rest if c != leaf)]


class ClientCertH11Protocol(H11Protocol):
    """uvicorn's h11 protocol on a TLS connection: each request's scope gets the client's
    chain (the ASGI TLS extension's ``client_cert_chain``, PEM) and, under
    ``CLIENT_CERTIFICATE``, the verdict on it at the request's time. A WebSocket upgrade
    (``kubectl exec``) goes on as :class:`ClientCertWebSocketProtocol`, whose scope gets the
    same."""

    def __init__(
        self, chain: list[x509.Certificate], roots: tuple[x509.Certificate, ...], **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.chain = chain
        self.roots = roots
        if self.ws_protocol_class is not None:
            self.ws_protocol_class = cast(
                "type[asyncio.Protocol]",
                functools.partial(ClientCertWebSocketProtocol, self.with_tls),
            )

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.app = self.with_tls(self.app)

    def with_tls(self, inner: Any) -> Any:
        """``inner`` with the client's chain and its verdict in every scope."""
        chain, roots = self.chain, self.roots
        pems = [c.public_bytes(Encoding.PEM).decode("ascii") for c in chain]

        async def with_tls(scope: Scope, receive: Any, send: Any) -> None:
            extensions = dict(scope.get("extensions") or {})
            extensions["tls"] = {"client_cert_chain": pems, "server_cert": None}
            verdict = verify_client(chain, roots, datetime.datetime.now(datetime.UTC))
            if verdict is not None:
                extensions[CLIENT_CERTIFICATE] = verdict
            scope["extensions"] = extensions
            await inner(scope, receive, send)

        return with_tls


class ClientCertWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol after an upgrade on a TLS connection, its application
    wrapped by ``wrap`` (:meth:`ClientCertH11Protocol.with_tls`)."""

    def __init__(self, wrap: Callable[[Any], Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.app = wrap(self.app)


def protocol_factory(tls: ServerTls) -> Callable[..., asyncio.Protocol]:
    """What uvicorn's ``http`` setting takes: per connection, the TLS protocol whose inner
    protocol, made once the handshake is done, is :class:`ClientCertH11Protocol`."""

    def make(**kwargs: Any) -> asyncio.Protocol:
        def inner(connection: SSL.Connection) -> asyncio.Protocol:
            return ClientCertH11Protocol(_peer_chain(connection), tls.client_roots, **kwargs)

        return TlsServerProtocol(tls.context, inner)

    return make


def client_identity(scope: Scope) -> tuple[str, tuple[str, ...]] | str | None:
    """The verdict on the request's client certificate (see ``CLIENT_CERTIFICATE``)."""
    extensions = scope.get("extensions") or {}
    verdict = extensions.get(CLIENT_CERTIFICATE)
    if isinstance(verdict, (tuple, str)):
        return verdict
    return None
