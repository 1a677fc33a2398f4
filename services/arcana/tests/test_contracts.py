"""Arcana's contracts: what it publishes, and every version of what it consumes."""

from pathlib import Path
from typing import Any

from vareon_arcana import api_keys
from vareon_arcana.consumers import build_consumers
from vareon_arcana.models import INBOX, OUTBOX
from vareon_chassis.testing.contracts import ServiceContracts

CONTRACTS = ServiceContracts(
    "arcana",
    Path(__file__).resolve().parents[1] / "alembic.ini",
    outbox=OUTBOX,
    inbox=INBOX,
    # rule_changed dead-letters a rule the routing library cannot evaluate (InvalidRule).
    may_reject=frozenset({"vareon.cognisys.routing-rule.changed.v1"}),
)


def consumers() -> list[Any]:
    return [*build_consumers(), *api_keys.build_consumers()]


async def test_publishes_what_it_declares(infrastructure: Any) -> None:
    await CONTRACTS.assert_publishes_declared(infrastructure)


def test_handles_exactly_what_it_declares() -> None:
    CONTRACTS.assert_declared(consumers())


async def test_accepts_every_version_it_consumes(infrastructure: Any) -> None:
    await CONTRACTS.assert_accepts_examples(infrastructure, consumers())


async def test_dead_letters_an_unknown_future_version(infrastructure: Any) -> None:
    await CONTRACTS.assert_unknown_versions_dead_lettered(infrastructure, consumers())
