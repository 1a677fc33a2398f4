"""API keys as every service sees them: ``vk-`` and 256 random bits, known by their hash.

Identity makes them; the gateway only recognises the shape (a key is not a JWT, so the edge
lets it through to the service that checks it); arcana checks the hash against its replica.
SHA-256 and not a password hash: the secret has 256 bits of entropy, so there is nothing a
slow hash would protect against, and the check runs on every request (docs/architecture.md
D31).
"""

from __future__ import annotations

import hashlib
import secrets

PREFIX = "vk-"
PREFIX_SHOWN = 11
"""Characters of a key kept in the clear for lists: ``vk-`` and 8 of the secret."""
MAX_LENGTH = 100


def looks_like_api_key(token: str) -> bool:
    return token.startswith(PREFIX) and len(token) <= MAX_LENGTH


def new_api_key() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
