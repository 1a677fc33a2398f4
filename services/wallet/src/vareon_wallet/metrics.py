"""What the wallet counts for the dashboards (counted when the transaction commits)."""

from __future__ import annotations

from prometheus_client import Counter

TRANSFERS = Counter(
    "vareon_wallet_transfers_total", "Transfers posted (committed), by kind", ["kind"]
)
TRANSFERRED_MICRO = Counter(
    "vareon_wallet_transferred_micro_total",
    "Amount moved by committed transfers, in micro-credits, by kind",
    ["kind"],
)
