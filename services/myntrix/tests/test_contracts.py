"""Myntrix' contracts: what it publishes, and every version of what it consumes."""

from pathlib import Path
from typing import Any

from vareon_chassis.testing.contracts import ServiceContracts
from vareon_myntrix.consumers import build_consumers
from vareon_myntrix.models import OUTBOX, inbox_table

CONTRACTS = ServiceContracts(
    "myntrix", Path(__file__).resolve().parents[1] / "alembic.ini", outbox=OUTBOX, inbox=inbox_table
)


def consumers() -> list[Any]:
    return build_consumers()


async def test_publishes_what_it_declares(infrastructure: Any) -> None:
    await CONTRACTS.assert_publishes_declared(infrastructure)


def test_handles_exactly_what_it_declares() -> None:
    CONTRACTS.assert_declared(consumers())


async def test_accepts_every_version_it_consumes(infrastructure: Any) -> None:
    await CONTRACTS.assert_accepts_examples(infrastructure, consumers())


async def test_dead_letters_an_unknown_future_version(infrastructure: Any) -> None:
    await CONTRACTS.assert_unknown_versions_dead_lettered(infrastructure, consumers())
