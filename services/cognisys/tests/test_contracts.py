"""Cognisys' contracts: what it publishes (it consumes nothing)."""

from pathlib import Path
from typing import Any

from vareon_chassis.testing.contracts import ServiceContracts
from vareon_cognisys.models import OUTBOX

CONTRACTS = ServiceContracts(
    "cognisys", Path(__file__).resolve().parents[1] / "alembic.ini", outbox=OUTBOX
)


async def test_publishes_what_it_declares(infrastructure: Any) -> None:
    await CONTRACTS.assert_publishes_declared(infrastructure)
