"""The secrets of etcd auth that the serving member makes: password hashes and token prefixes.

etcd 3.4 hashes passwords with bcrypt at cost 10 (``bcrypt.DefaultCost``) and draws a simple
token's prefix as 16 random ASCII letters (``crypto/rand``). bcrypt is not among kubeoracle's
dependencies, so passwords are hashed with scrypt from ``cryptography`` (N = 2^14, r = 8,
p = 1, a 16-byte random salt; about as slow as bcrypt at cost 10). The hash never leaves the
server (etcd's UserGet answers roles only), so clients see the same behaviour.
"""

from __future__ import annotations

import hmac
import secrets
import string
from typing import Final

from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

SALT_BYTES: Final = 16
HASH_BYTES: Final = 32
SCRYPT_N: Final = 2**14
SCRYPT_R: Final = 8
SCRYPT_P: Final = 1
TOKEN_PREFIX_LETTERS: Final = 16
"""etcd's ``defaultSimpleTokenLength``."""


def _derive(password: str, salt: bytes) -> bytes:
    kdf = Scrypt(salt=salt, length=HASH_BYTES, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    return kdf.derive(password.encode())


def hash_password(password: str) -> bytes:
    """A salted hash of ``password`` (salt followed by the derived key)."""
    salt = secrets.token_bytes(SALT_BYTES)
    return salt + _derive(password, salt)


def password_matches(password: str, hashed: bytes) -> bool:
    """Whether ``password`` is the one ``hashed`` was made from (constant-time comparison)."""
    if len(hashed) != SALT_BYTES + HASH_BYTES:
        return False
    salt, expected = hashed[:SALT_BYTES], hashed[SALT_BYTES:]
    return hmac.compare_digest(_derive(password, salt), expected)


def token_prefix() -> str:
    """A simple token's random part: 16 ASCII letters, as etcd draws it."""
    letters = string.ascii_letters
    return "".join(secrets.choice(letters) for _ in range(TOKEN_PREFIX_LETTERS))
