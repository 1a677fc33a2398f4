"""Identity's signing key for local runs: made once into .vareon/keys/ (never in the repo)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def ensure_signing_key(directory: Path) -> Path | None:
    """Write a new Ed25519 key if ``directory`` holds none; returns the new file or None."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    if any(directory.glob("*.pem")):
        return None
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path = directory / (datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ") + ".pem")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    return path
