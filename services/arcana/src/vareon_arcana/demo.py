"""The unauthenticated demo: offline model only (never charged), limited per client IP."""

from __future__ import annotations

import math
import time

from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter


class DemoLimiter:
    """Counted in this process (several replicas each allow the limit: documented)."""

    def __init__(self, limit: str) -> None:
        self.limit = parse(limit)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    def retry_after(self, client: str) -> int | None:
        """None when the call may go ahead (and counts it); else seconds to wait."""
        if self.limiter.hit(self.limit, client):
            return None
        reset, _ = self.limiter.get_window_stats(self.limit, client)
        return max(1, math.ceil(reset - time.time()))
