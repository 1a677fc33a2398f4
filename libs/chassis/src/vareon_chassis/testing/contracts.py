"""Contract tests, both directions (docs/contracts.md, "Contract tests"): ``ServiceContracts``,
what each service's tests/test_contracts.py calls. The checks themselves are in
``producer_checks`` (outbox rows against the committed schemas and SERVICES) and
``consumer_checks`` (the real ConsumerRuntime on generated examples).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Table
from vareon_contracts import CATALOGUE
from vareon_contracts.services import SERVICES

from vareon_chassis.db import create_engine, create_sessionmaker
from vareon_chassis.messaging.consumer import EventConsumer
from vareon_chassis.messaging.outbox import Outbox
from vareon_chassis.testing.consumer_checks import (
    assert_consumer_accepts_examples,
    assert_handles_declared,
    assert_unknown_version_dead_lettered,
    contract_database,
    dead_letter_producer,
    examples,
)
from vareon_chassis.testing.producer_checks import check_outbox


@dataclass(frozen=True)
class ServiceContracts:
    """One service's side of its contracts; its tests/test_contracts.py calls these."""

    service: str
    alembic_ini: str | Path
    outbox: Outbox | None = None
    inbox: Table | None = None
    may_reject: frozenset[str] = frozenset()
    """Types whose handler documents a deliberate DeadLetter for some valid payloads."""
    count: int = 3
    seed: int = 0

    async def assert_publishes_declared(self, infrastructure: Any) -> None:
        """Examples of every type the service declares, staged by its own Outbox, pass
        the producer-side checks; and it has an outbox if it declares anything."""
        declared = sorted(SERVICES[self.service].publishes)
        assert self.outbox is not None or not declared, f"{self.service} has no outbox"
        if self.outbox is None:
            return
        url = await infrastructure.migrated_database(self.service, self.alembic_ini)
        problems, before = check_outbox(url, self.service)  # rows the migrations staged
        assert not problems, "\n".join(problems)
        engine = create_engine(url)
        try:
            async with create_sessionmaker(engine).begin() as session:
                for event_type in declared:
                    for payload in examples(CATALOGUE[event_type], self.count, self.seed):
                        await self.outbox.publish(session, payload)
        finally:
            await engine.dispose()
        problems, last = check_outbox(url, self.service, before)
        assert not problems, "\n".join(problems)
        assert last - before == len(declared) * self.count

    def assert_declared(self, consumers: Sequence[EventConsumer]) -> None:
        assert_handles_declared(self.service, consumers)

    async def assert_accepts_examples(
        self, infrastructure: Any, consumers: Sequence[EventConsumer]
    ) -> None:
        assert self.inbox is not None, f"{self.service} consumes without an inbox"
        async with (
            contract_database(infrastructure, self.service, self.alembic_ini) as sessions,
            dead_letter_producer(infrastructure.kafka_bootstrap) as producer,
        ):
            for consumer in consumers:
                await assert_consumer_accepts_examples(
                    sessions,
                    self.inbox,
                    consumer,
                    producer,
                    may_reject=self.may_reject,
                    count=self.count,
                    seed=self.seed,
                )

    async def assert_unknown_versions_dead_lettered(
        self, infrastructure: Any, consumers: Sequence[EventConsumer]
    ) -> None:
        assert self.inbox is not None, f"{self.service} consumes without an inbox"
        inbox = self.inbox
        async with (
            contract_database(infrastructure, self.service, self.alembic_ini) as sessions,
            dead_letter_producer(infrastructure.kafka_bootstrap) as producer,
        ):
            await asyncio.gather(
                *(
                    assert_unknown_version_dead_lettered(
                        sessions, inbox, c, producer, infrastructure.kafka_bootstrap
                    )
                    for c in consumers
                )
            )
