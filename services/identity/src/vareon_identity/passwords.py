"""Password policy and Argon2id hashing (argon2-cffi); rehash when parameters change."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from functools import cache
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from vareon_chassis.errors import Overloaded

from vareon_identity.errors import WeakPassword

MIN_LENGTH = 10
MAX_LENGTH = 1024


@cache
def common_passwords() -> frozenset[str]:
    text = resources.files("vareon_identity").joinpath("common_passwords.txt").read_text()
    return frozenset(
        line.strip().lower()
        for line in text.splitlines()
        if line.strip() and not line.startswith("#")
    )


def check_policy(password: str, *, email: str | None = None) -> None:
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"the password must have at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"the password must have at most {MAX_LENGTH} characters")
    lowered = password.lower()
    if lowered in common_passwords():
        raise WeakPassword("this password is too common; choose another")
    if email and lowered == email.lower():
        raise WeakPassword("the password must not be the email address")


class Passwords:
    """Hashes and verifies; unknown users are verified against a dummy hash to keep timing even.

    The async methods run Argon2 on worker threads, at most ``max_concurrent`` at a time with
    at most ``max_waiting`` queued behind them; beyond that they raise Overloaded (503 with
    Retry-After) at once, so a storm is shed instead of queueing into pool timeouts.
    """

    def __init__(
        self,
        *,
        time_cost: int,
        memory_cost_kib: int,
        parallelism: int,
        max_concurrent: int = 4,
        max_waiting: int = 32,
    ) -> None:
        self.hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_cost_kib, parallelism=parallelism
        )
        self._dummy = self.hasher.hash("not a real password: evens out timing")
        self._slots = asyncio.Semaphore(max_concurrent)
        self._max_queued = max_concurrent + max_waiting
        self._queued = 0

    @contextlib.asynccontextmanager
    async def _slot(self) -> AsyncIterator[None]:
        if self._queued >= self._max_queued:
            raise Overloaded("too many password checks in progress; retry shortly")
        self._queued += 1
        try:
            async with self._slots:
                yield
        finally:
            self._queued -= 1

    async def hash_async(self, password: str) -> str:
        async with self._slot():
            return await asyncio.to_thread(self.hash, password)

    async def verify_async(self, password_hash: str | None, password: str) -> bool:
        async with self._slot():
            return await asyncio.to_thread(self.verify, password_hash, password)

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        try:
            return self.hasher.verify(password_hash or self._dummy, password) and (
                password_hash is not None
            )
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self.hasher.check_needs_rehash(password_hash)
