"""Wallet's contracts: what it publishes, and every version of what it consumes."""

from pathlib import Path
from typing import Any

from vareon_chassis.testing.contracts import ServiceContracts
from vareon_wallet.accounts import Policy
from vareon_wallet.consumers import build_consumers
from vareon_wallet.models import OUTBOX, inbox_table

CONTRACTS = ServiceContracts(
    "wallet",
    Path(__file__).resolve().parents[1] / "alembic.ini",
    outbox=OUTBOX,
    inbox=inbox_table,
    # usage_recorded dead-letters a negative cost: a bug upstream that no retry can fix.
    may_reject=frozenset(
        {"vareon.arcana.usage.recorded.v1", "vareon.neosyntis.training-job.usage-recorded.v1"}
    ),
)


def consumers() -> list[Any]:
    return build_consumers(Policy(signup_bonus=1_000, low_balance_threshold=100, hold_ttl_s=60))


async def test_publishes_what_it_declares(infrastructure: Any) -> None:
    await CONTRACTS.assert_publishes_declared(infrastructure)


def test_handles_exactly_what_it_declares() -> None:
    CONTRACTS.assert_declared(consumers())


async def test_accepts_every_version_it_consumes(infrastructure: Any) -> None:
    await CONTRACTS.assert_accepts_examples(infrastructure, consumers())


async def test_dead_letters_an_unknown_future_version(infrastructure: Any) -> None:
    await CONTRACTS.assert_unknown_versions_dead_lettered(infrastructure, consumers())
