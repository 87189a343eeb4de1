"""ServiceAccount tokens: kube-apiserver's signed JWTs (RS256), issued by the TokenRequest
subresource (``POST .../serviceaccounts/NAME/token``, what ``kubectl create token`` sends) and
checked when presented as a bearer token.

A token's claims are kube's: ``iss`` (``--service-account-issuer``), ``sub``
(``system:serviceaccount:NS:NAME``), ``aud`` (the request's audiences, default
``--api-audiences``), ``iat``/``nbf`` (the time of the request), ``exp`` (``expirationSeconds``
later, default 3600, at least 600), ``jti``, and ``kubernetes.io`` naming the namespace and the
ServiceAccount with its uid. A presented token authenticates when its signature verifies
against the server's key, its issuer is the server's, one of its audiences is an API audience,
the time is within ``nbf``..``exp``, and the ServiceAccount still exists with the same uid. The
user is ``system:serviceaccount:NS:NAME`` in ``system:serviceaccounts`` and
``system:serviceaccounts:NS``. RSA PKCS#1 v1.5 signing is deterministic, so issuing stays a
function of the request and the drawn entropy.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Any, Final

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from impl.apiserver.bodies import parse_body
from impl.apiserver.context import Context, Decision, Reply, json_response, object_json, reply
from impl.apiserver.writes import Current
from models.apiserver.auth import (
    SERVICE_ACCOUNTS_GROUP,
    AuthConfig,
    UserInfo,
    service_account_user,
)
from models.apiserver.clock import rfc3339
from models.apiserver.status import failure, not_found
from models.k8s.meta_ops import Status

DEFAULT_EXPIRATION_SECONDS: Final = 3600
MIN_EXPIRATION_SECONDS: Final = 600


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _private_key(pem: bytes) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey), "the signing key is RSA"
    return key


def key_id(public_der: bytes) -> str:
    """kube's ``kid``: the unpadded base64url SHA-256 of the DER public key."""
    return _b64(hashlib.sha256(public_der).digest())


def sign(claims: dict[str, Any], private_pem: bytes) -> str:
    key = _private_key(private_pem)
    public_der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "RS256", "kid": key_id(public_der)}
    signing_input = (
        _b64(msgspec.json.encode(header)) + "." + _b64(msgspec.json.encode(claims, order="sorted"))
    )
    signature = key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return signing_input + "." + _b64(signature)


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2


def verified_claims(token: str, private_pem: bytes) -> dict[str, Any] | None:
    """The claims of a token whose RS256 signature the server's key verifies; None otherwise
    (malformed, another algorithm, another key, a changed byte)."""
    parts = token.split(".")
    if len(parts) != 3 or not private_pem:
        return None
    try:
        header = msgspec.json.decode(_unb64(parts[0]))
        claims = msgspec.json.decode(_unb64(parts[1]))
        signature = _unb64(parts[2])
    except (ValueError, msgspec.DecodeError):
        return None
    if not isinstance(header, dict) or header.get("alg") != "RS256":
        return None
    if not isinstance(claims, dict):
        return None
    try:
        _private_key(private_pem).public_key().verify(
            signature, f"{parts[0]}.{parts[1]}".encode("ascii"), padding.PKCS1v15(), hashes.SHA256()
        )
    except (InvalidSignature, ValueError):
        return None
    return claims


def audiences(config: AuthConfig) -> tuple[str, ...]:
    return config.api_audiences or (config.service_account_issuer,)


def token_user(
    config: AuthConfig,
    token: str,
    now_seconds: int,
    account_uid: Callable[[str, str], str | None],
) -> UserInfo | None:
    """The ServiceAccount a token authenticates as; None when it does not (``account_uid``
    gives a ServiceAccount's uid, None when it does not exist)."""
    claims = verified_claims(token, config.service_account_signing_key)
    if claims is None or claims.get("iss") != config.service_account_issuer:
        return None
    aud = claims.get("aud")
    token_audiences = aud if isinstance(aud, list) else [aud]
    if not any(a in audiences(config) for a in token_audiences):
        return None
    exp, nbf = claims.get("exp"), claims.get("nbf", 0)
    if not isinstance(exp, int) or not isinstance(nbf, int):
        return None
    if not nbf <= now_seconds < exp:
        return None
    private = claims.get("kubernetes.io")
    account = private.get("serviceaccount") if isinstance(private, dict) else None
    if not isinstance(private, dict) or not isinstance(account, dict):
        return None
    namespace, name, uid = private.get("namespace"), account.get("name"), account.get("uid")
    if not isinstance(namespace, str) or not isinstance(name, str):
        return None
    if claims.get("sub") != service_account_user(namespace, name):
        return None
    if account_uid(namespace, name) != uid:
        return None
    return UserInfo(
        name=service_account_user(namespace, name),
        uid=str(uid),
        groups=(SERVICE_ACCOUNTS_GROUP, f"{SERVICE_ACCOUNTS_GROUP}:{namespace}"),
    )


def issue_claims(
    config: AuthConfig,
    namespace: str,
    name: str,
    uid: str,
    token_audiences: tuple[str, ...],
    now_seconds: int,
    expiration_seconds: int,
    jti: str,
) -> dict[str, Any]:
    return {
        "aud": list(token_audiences or audiences(config)),
        "exp": now_seconds + expiration_seconds,
        "iat": now_seconds,
        "iss": config.service_account_issuer,
        "jti": jti,
        "kubernetes.io": {"namespace": namespace, "serviceaccount": {"name": name, "uid": uid}},
        "nbf": now_seconds,
        "sub": service_account_user(namespace, name),
    }


def token_request_answer(
    config: AuthConfig,
    namespace: str,
    account: dict[str, Any],
    body: Any,
    now_seconds: int,
    jti: str,
) -> tuple[int, dict[str, Any]] | str:
    """The TokenRequest kube answers for ``body`` on ``account`` (201 and the object), or why
    ``spec.expirationSeconds`` is invalid."""
    spec = body.get("spec") if isinstance(body, dict) else None
    spec = spec if isinstance(spec, dict) else {}
    expiration = spec.get("expirationSeconds", DEFAULT_EXPIRATION_SECONDS)
    if not isinstance(expiration, int) or isinstance(expiration, bool):
        return f"Invalid value: {msgspec.json.encode(expiration).decode()}: must be an integer"
    if expiration < MIN_EXPIRATION_SECONDS:
        return f"Invalid value: {expiration}: may not specify a duration less than 10 minutes"
    if expiration > 2**32:
        return f"Invalid value: {expiration}: may not specify a duration larger than 2^32 seconds"
    raw = spec.get("audiences")
    wanted = tuple(a for a in raw if isinstance(a, str)) if isinstance(raw, list) else ()
    metadata = account.get("metadata") or {}
    name, uid = str(metadata.get("name", "")), str(metadata.get("uid", ""))
    claims = issue_claims(config, namespace, name, uid, wanted, now_seconds, expiration, jti)
    token = sign(claims, config.service_account_signing_key)
    answer = {
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": None},
        "spec": {
            "audiences": claims["aud"],
            "expirationSeconds": expiration,
            "boundObjectRef": spec.get("boundObjectRef"),
        },
        "status": {"token": token, "expirationTimestamp": rfc3339(now_seconds + expiration)},
    }
    return 201, answer


def decide_token(ctx: Context, current: Current | None) -> Decision:
    """``POST .../serviceaccounts/NAME/token``: a signed ServiceAccount token."""
    auth = ctx.config.auth
    if not auth.service_account_signing_key:
        return reply(failure(404, "NotFound", "the server could not find the requested resource"))
    if current is None:
        return reply(not_found("serviceaccounts", ctx.info.name))
    body = parse_body(ctx.request.body, ctx.request.content_type) if ctx.request.body else {}
    if isinstance(body, Status):
        return reply(body)
    answer = token_request_answer(
        auth, ctx.info.namespace, current.obj, body, ctx.entropy.now_seconds, ctx.entropy.uid
    )
    if isinstance(answer, str):
        message = (
            f'TokenRequest.authentication.k8s.io "{ctx.info.name}" is invalid: '
            f"spec.expirationSeconds: {answer}"
        )
        return reply(failure(422, "Invalid", message))
    code, obj = answer
    return Reply(response=json_response(code, object_json(obj)))
