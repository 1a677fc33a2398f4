"""What the edge counts besides requests and their latency (the chassis' HTTP metrics)."""

from __future__ import annotations

from prometheus_client import Counter

UPSTREAM_ERRORS = Counter(
    "vareon_gateway_upstream_errors_total",
    "Proxied requests the edge answered itself because the service failed (503/504/502)",
    ["service", "problem"],
)
RATE_LIMITED = Counter(
    "vareon_gateway_rate_limited_total",
    "Requests refused with 429 at the edge, by route class",
    ["policy"],
)
