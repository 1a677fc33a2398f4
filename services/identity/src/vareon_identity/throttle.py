"""Brute-force protection for login: failed attempts counted per account and per client IP.

Counters live in this process's memory (`limits` MemoryStorage): each replica counts on its
own, so N replicas allow up to N times the limit. A shared storage (Redis) would fix that.
"""

from __future__ import annotations

import math
import time

from limits import parse, storage, strategies

from vareon_identity.errors import TooManyAttempts


class LoginThrottle:
    def __init__(self, *, per_account: str, per_ip: str) -> None:
        self.limiter = strategies.MovingWindowRateLimiter(storage.MemoryStorage())
        self.rules = (("account", parse(per_account)), ("ip", parse(per_ip)))

    def _keys(self, email: str, ip: str | None) -> list[tuple[str, str]]:
        return [("account", email.lower()), ("ip", ip or "unknown")]

    def check(self, email: str, ip: str | None) -> None:
        """Raise TooManyAttempts while either counter is exhausted."""
        keys = dict(self._keys(email, ip))
        for kind, rule in self.rules:
            if not self.limiter.test(rule, "login", kind, keys[kind]):
                stats = self.limiter.get_window_stats(rule, "login", kind, keys[kind])
                raise TooManyAttempts(max(1, math.ceil(stats.reset_time - time.time())))

    def failed(self, email: str, ip: str | None) -> None:
        keys = dict(self._keys(email, ip))
        for kind, rule in self.rules:
            self.limiter.hit(rule, "login", kind, keys[kind])


class ActionLimit:
    """At most ``rule`` (the `limits` notation) uses of one action per key, in this process."""

    def __init__(self, action: str, rule: str) -> None:
        self.limiter = strategies.MovingWindowRateLimiter(storage.MemoryStorage())
        self.action = action
        self.rule = parse(rule)

    def hit(self, key: str) -> None:
        if not self.limiter.hit(self.rule, self.action, key):
            stats = self.limiter.get_window_stats(self.rule, self.action, key)
            retry_after_s = max(1, math.ceil(stats.reset_time - time.time()))
            raise TooManyAttempts(retry_after_s, what=f"{self.action} requests")
