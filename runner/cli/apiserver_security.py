"""``serve apiserver``'s security flags (kube-apiserver's names): the secure port and its
certificates, the static token file, anonymous requests, the authorization modes; and the admin
kubeconfig the secure port gets."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from models.apiserver.auth import AUTHORIZATION_MODES, AuthConfig
from runner.errors import InputError
from runner.input_files import read_bytes

if TYPE_CHECKING:
    from runner.apiserver.tls import SecureFiles


def _boolean(text: str) -> bool:
    if text.lower() in ("true", "1"):
        return True
    if text.lower() in ("false", "0"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--secure-port",
        type=int,
        default=None,
        help="serve HTTPS with authentication and authorization on this port (0 picks a free "
        "port; default: off)",
    )
    parser.add_argument(
        "--tls-cert-file",
        type=Path,
        help="the serving certificate (PEM); without it a CA, a serving certificate and an "
        "admin client certificate are generated in --cert-dir",
    )
    parser.add_argument("--tls-private-key-file", type=Path, help="the serving key (PEM)")
    parser.add_argument(
        "--client-ca-file",
        type=Path,
        help="CA bundle that signs client certificates (CN: user, O: groups)",
    )
    parser.add_argument(
        "--cert-dir",
        type=Path,
        help="where generated certificates go (default: a new temporary directory)",
    )
    parser.add_argument(
        "--token-auth-file",
        type=Path,
        help='static bearer tokens, CSV lines token,user,uid[,"group1,group2"]',
    )
    parser.add_argument(
        "--anonymous-auth",
        type=_boolean,
        default=True,
        metavar="true|false",
        help="requests with no credentials act as system:anonymous (default true)",
    )
    parser.add_argument(
        "--service-account-signing-key-file",
        type=Path,
        help="RSA private key (PEM) that signs and verifies ServiceAccount tokens (default: "
        "generated in --cert-dir)",
    )
    parser.add_argument(
        "--service-account-issuer",
        default="https://kubernetes.default.svc.cluster.local",
        help="the iss claim of ServiceAccount tokens",
    )
    parser.add_argument(
        "--api-audiences",
        default="",
        metavar="AUDIENCE,...",
        help="audiences a ServiceAccount token must name one of (default: the issuer)",
    )
    parser.add_argument(
        "--enable-admission-plugins",
        default="",
        metavar="PLUGIN,...",
        help="also run these admission plugins: ServiceAccount, Priority, "
        "DefaultTolerationSeconds, TaintNodesByCondition, NodeRestriction (NamespaceLifecycle, "
        "LimitRanger, PodSecurity and ResourceQuota always run)",
    )
    parser.add_argument(
        "--authorization-mode",
        default="RBAC",
        metavar="MODE,...",
        help="authorizers in order, from " + ", ".join(AUTHORIZATION_MODES) + " (default RBAC)",
    )


def auth_config(args: argparse.Namespace, files: SecureFiles | None) -> AuthConfig:
    """The authentication and authorization settings (``files``: the secure port's
    certificates, with the generated ServiceAccount key)."""
    modes = tuple(mode.strip() for mode in str(args.authorization_mode).split(","))
    for mode in modes:
        if mode not in AUTHORIZATION_MODES:
            raise InputError(
                f"unknown mode {mode!r}: expected one of {', '.join(AUTHORIZATION_MODES)}",
                field="--authorization-mode",
            )
    if len(set(modes)) != len(modes):
        raise InputError("a mode is given twice", field="--authorization-mode")
    from runner.apiserver.token_file import read_token_file

    tokens = read_token_file(args.token_auth_file) if args.token_auth_file else ()
    key_file = args.service_account_signing_key_file or (
        files.service_account_key if files is not None else None
    )
    key = read_bytes(key_file) if key_file is not None else b""
    if key and not _is_rsa_private_key(key):
        raise InputError(
            "not an RSA private key in PEM", field="--service-account-signing-key-file"
        )
    audiences = tuple(a.strip() for a in str(args.api_audiences).split(",") if a.strip())
    return AuthConfig(
        tokens=tokens,
        anonymous=args.anonymous_auth,
        modes=modes,
        service_account_issuer=args.service_account_issuer,
        api_audiences=audiences,
        service_account_signing_key=key,
    )


def _is_rsa_private_key(pem: bytes) -> bool:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        return False
    return isinstance(key, rsa.RSAPrivateKey)


def secure_files(args: argparse.Namespace, service_ip: str) -> SecureFiles | None:
    """The secure port's certificates (generated when no --tls-cert-file), or None when the
    secure port is off."""
    from runner.apiserver.tls import SecureFiles, generate, serving_hosts

    if args.secure_port is None:
        for flag in (
            "tls_cert_file",
            "tls_private_key_file",
            "client_ca_file",
            "token_auth_file",
            "service_account_signing_key_file",
        ):
            if getattr(args, flag) is not None:
                name = "--" + flag.replace("_", "-")
                raise InputError("needs --secure-port", field=name)
        return None
    if not 0 <= args.secure_port <= 65535:
        raise InputError("must be a port number (0-65535)", field="--secure-port")
    if (args.tls_cert_file is None) != (args.tls_private_key_file is None):
        raise InputError(
            "--tls-cert-file and --tls-private-key-file go together", field="--tls-cert-file"
        )
    for flag in ("tls_cert_file", "tls_private_key_file", "client_ca_file"):
        path = getattr(args, flag)
        if path is not None:
            read_bytes(path)  # a missing or unreadable file is named now, not at the handshake
    if args.tls_cert_file is not None:
        return SecureFiles(
            cert=args.tls_cert_file,
            key=args.tls_private_key_file,
            client_ca=args.client_ca_file,
            server_ca=args.tls_cert_file,
        )
    folder = args.cert_dir or Path(tempfile.mkdtemp(prefix="kubeoracle-pki-"))
    generated = generate(folder, serving_hosts(args.bind_address, service_ip))
    if args.client_ca_file is not None:
        return SecureFiles(
            cert=generated.cert,
            key=generated.key,
            client_ca=args.client_ca_file,
            server_ca=generated.server_ca,
            service_account_key=generated.service_account_key,
        )
    return generated


def admin_kubeconfig(url: str, files: SecureFiles) -> str:
    """A kubeconfig for the secure port: the server's CA, and the admin's client certificate
    when one was generated."""
    from runner.apiserver.kubeconfig import kubeconfig_text

    ca = read_bytes(files.server_ca) if files.server_ca is not None else None
    if files.admin_cert is not None and files.admin_key is not None:
        return kubeconfig_text(url, ca, read_bytes(files.admin_cert), read_bytes(files.admin_key))
    return kubeconfig_text(url, ca)


def admission_plugins(args: argparse.Namespace) -> tuple[str, ...]:
    from impl.apiserver.admission import OPTIONAL_PLUGINS as CHANGING
    from impl.apiserver.node_restriction import PLUGIN as NODE_RESTRICTION

    optional = (*CHANGING, NODE_RESTRICTION)
    always = ("NamespaceLifecycle", "LimitRanger", "PodSecurity", "ResourceQuota")
    names = tuple(n.strip() for n in str(args.enable_admission_plugins).split(",") if n.strip())
    for name in names:
        if name not in optional + always:
            raise InputError(
                f"unknown plugin {name!r}: expected one of {', '.join(optional + always)}",
                field="--enable-admission-plugins",
            )
    return tuple(name for name in optional if name in names)
