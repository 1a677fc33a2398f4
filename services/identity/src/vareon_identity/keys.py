"""Ed25519 signing keys kept as PEM files in one directory; every key is published in JWKS.

The newest file name (sorted) signs; older keys stay published so that rotation never
invalidates a token that is still within its lifetime.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vareon_identity.errors import SigningKeysMissing

KEYS_DIR_VARIABLE = "IDENTITY_SIGNING_KEYS_DIR"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: Ed25519PrivateKey
    path: Path

    def public_jwk(self) -> dict[str, str]:
        return {**_okp_members(self.private_key), "kid": self.kid, "alg": "EdDSA", "use": "sig"}


def _okp_members(key: Ed25519PrivateKey) -> dict[str, str]:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"crv": "Ed25519", "kty": "OKP", "x": _b64url(raw)}


def thumbprint(key: Ed25519PrivateKey) -> str:
    """RFC 7638 JWK thumbprint: SHA-256 of the required members, sorted, no whitespace."""
    canonical = json.dumps(_okp_members(key), sort_keys=True, separators=(",", ":"))
    return _b64url(hashlib.sha256(canonical.encode()).digest())


def generate_signing_key(directory: Path | str) -> Path:
    """Write a new Ed25519 key (mode 0600) named to sort after the others: it becomes active."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = directory / f"{stamp}-{thumbprint(key)[:8]}.pem"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    return path


def _load(path: Path) -> SigningKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise SigningKeysMissing(f"{path}: not an unencrypted PEM private key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeysMissing(f"{path}: not an Ed25519 key")
    return SigningKey(thumbprint(key), key, path)


class KeyRing:
    """The keys in a directory, reloaded when the directory changes (a key added or retired)."""

    def __init__(self, directory: Path | str | None) -> None:
        if directory is None:
            raise SigningKeysMissing(
                f"{KEYS_DIR_VARIABLE} is not set: point it at a directory of Ed25519 PEM keys "
                "(create one with `python -m vareon_identity.keys <dir>`)"
            )
        self.directory = Path(directory)
        self._stamp: int | None = None
        self._keys: list[SigningKey] = []
        self._jwks: jwt.PyJWKSet | None = None
        self._reload_if_changed()

    def _reload_if_changed(self) -> None:
        try:
            stamp = self.directory.stat().st_mtime_ns
        except FileNotFoundError:
            stamp = None
        if stamp is not None and stamp == self._stamp:
            return
        paths = sorted(self.directory.glob("*.pem")) if stamp is not None else []
        if not paths:
            raise SigningKeysMissing(
                f"{KEYS_DIR_VARIABLE}={self.directory} holds no *.pem signing key "
                "(create one with `python -m vareon_identity.keys <dir>`)"
            )
        self._keys = [_load(p) for p in paths]
        self._jwks = jwt.PyJWKSet.from_dict(self.jwks())
        self._stamp = stamp

    @property
    def active(self) -> SigningKey:
        self._reload_if_changed()
        return self._keys[-1]

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.public_jwk() for k in self._keys]}

    def public_jwks(self) -> dict[str, Any]:
        self._reload_if_changed()
        return self.jwks()

    async def __call__(self, force: bool = False) -> jwt.PyJWKSet:
        """Key source for the chassis TokenVerifier: identity verifies without calling itself."""
        self._reload_if_changed()
        assert self._jwks is not None
        return self._jwks


if __name__ == "__main__":
    import sys

    if len(sys.argv) != 2:
        sys.exit("usage: python -m vareon_identity.keys <directory>")
    print(generate_signing_key(sys.argv[1]))
