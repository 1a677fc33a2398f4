"""Neosyntis' contracts: what it publishes, and every version of what it consumes."""

from pathlib import Path
from typing import Any

from vareon_chassis.testing.contracts import ServiceContracts
from vareon_neosyntis.consumers import build_consumers
from vareon_neosyntis.db import OUTBOX, inbox_table
from vareon_neosyntis.settings import NeosyntisSettings
from vareon_neosyntis.storage import LocalStorage

CONTRACTS = ServiceContracts(
    "neosyntis",
    Path(__file__).resolve().parents[1] / "alembic.ini",
    outbox=OUTBOX,
    inbox=inbox_table,
)


def consumers(tmp: Path) -> list[Any]:
    return build_consumers(LocalStorage(tmp), NeosyntisSettings(storage_dir=tmp))


async def test_publishes_what_it_declares(infrastructure: Any) -> None:
    await CONTRACTS.assert_publishes_declared(infrastructure)


def test_handles_exactly_what_it_declares(tmp_path: Path) -> None:
    CONTRACTS.assert_declared(consumers(tmp_path))


async def test_accepts_every_version_it_consumes(infrastructure: Any, tmp_path: Path) -> None:
    await CONTRACTS.assert_accepts_examples(infrastructure, consumers(tmp_path))


async def test_dead_letters_an_unknown_future_version(infrastructure: Any, tmp_path: Path) -> None:
    await CONTRACTS.assert_unknown_versions_dead_lettered(infrastructure, consumers(tmp_path))
