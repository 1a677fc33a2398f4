"""Brute-force protection for passwords, and per-key limits of costly actions.

Counters live in this process's memory: each replica counts on its own, so N replicas allow
up to N times the limit. A shared storage (Redis) would fix that.

Every login attempt is counted as a failure *before* the password is verified (one
synchronous step on the event loop, so a concurrent burst cannot all pass a check that is
only counted afterwards) and taken back when the password was right.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from limits import parse, storage, strategies

from vareon_identity.errors import TooManyAttempts

SWEEP_EVERY = 1024


@dataclass
class _Failures:
    count: int = 0
    last_at: float = 0.0


@dataclass
class _Window:
    started_at: float
    count: int = 0


@dataclass(frozen=True)
class Attempt:
    account_key: tuple[str, str]
    ip_key: str


class LoginThrottle:
    """Per (account, client IP): progressive delay; per client IP: a hard limit.

    After ``free_failures`` failures of one account from one client, each further attempt
    must wait ``base_delay_s`` times 1, 2, 4 ... (at most ``max_delay_s``) after the previous
    one. There is no per-account lockout: a guesser elsewhere delays only themselves, never
    the owner. Failures are forgotten after ``forget_after_s`` of quiet, or at a successful login.
    """

    def __init__(
        self,
        *,
        free_failures: int,
        max_delay_s: float,
        per_ip: str,
        base_delay_s: float = 1.0,
        forget_after_s: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free_failures = free_failures
        self.max_delay_s = max_delay_s
        self.base_delay_s = base_delay_s
        limit = parse(per_ip)
        self.ip_limit, self.ip_window_s = limit.amount, float(limit.get_expiry())
        self.forget_after_s = forget_after_s
        self.clock = clock
        self._accounts: dict[tuple[str, str], _Failures] = {}
        self._ips: dict[str, _Window] = {}
        self._since_sweep = 0

    def delay_s(self, failures: int) -> float:
        if failures < self.free_failures:
            return 0.0
        return min(self.max_delay_s, self.base_delay_s * 2.0 ** (failures - self.free_failures))

    def attempt(self, email: str, ip: str | None) -> Attempt:
        """Count an attempt for a normalised email, or raise TooManyAttempts."""
        now = self.clock()
        self._sweep(now)
        ip_key = ip or "unknown"
        key = (email, ip_key)
        failures = self._accounts.get(key)
        if failures is not None and now - failures.last_at > self.forget_after_s:
            failures = None
        window = self._ips.get(ip_key)
        if window is None or now - window.started_at >= self.ip_window_s:
            window = _Window(started_at=now)
        if failures is not None:
            wait = failures.last_at + self.delay_s(failures.count) - now
            if wait > 0:
                raise TooManyAttempts(max(1, math.ceil(wait)))
        if window.count >= self.ip_limit:
            raise TooManyAttempts(max(1, math.ceil(window.started_at + self.ip_window_s - now)))
        failures = failures or _Failures()
        failures.count += 1
        failures.last_at = now
        window.count += 1
        self._accounts[key] = failures
        self._ips[ip_key] = window
        return Attempt(key, ip_key)

    def succeeded(self, attempt: Attempt) -> None:
        self._accounts.pop(attempt.account_key, None)
        window = self._ips.get(attempt.ip_key)
        if window is not None and window.count > 0:
            window.count -= 1

    def _sweep(self, now: float) -> None:
        self._since_sweep += 1
        if self._since_sweep < SWEEP_EVERY:
            return
        self._since_sweep = 0
        for key in [k for k, f in self._accounts.items() if now - f.last_at > self.forget_after_s]:
            del self._accounts[key]
        for ip in [k for k, w in self._ips.items() if now - w.started_at >= self.ip_window_s]:
            del self._ips[ip]


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
