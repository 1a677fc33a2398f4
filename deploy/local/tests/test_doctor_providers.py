"""`vareon doctor --providers` (issue 19 item 6): keys, answers, and targets nobody can serve."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import psycopg
from vareon_arcana.settings import ProviderSettings
from vareon_chassis.testing.fake_openai import FakeOpenAI
from vareon_chassis.testing.plugin import serve
from vareon_local.doctor_providers import provider_checks, run_provider_checks

ARCANA_INI = Path(__file__).resolve().parents[3] / "services/arcana/alembic.ini"


def rows(checks: list[Any]) -> dict[str, tuple[str, str]]:
    return {c.name: ("ok" if c.ok else "warn" if c.warning else "FAIL", c.detail) for c in checks}


async def test_each_provider_its_key_its_answer_and_unserved_targets() -> None:
    fake = FakeOpenAI()
    fake.behave("fake-small", words=["pong"])
    async with serve(fake.app) as url:
        providers = {
            "fake": ProviderSettings(base_url=f"{url}/v1", api_key="test-key"),
            "openai": ProviderSettings(),
        }
        targets = [
            ("cheap", "fake", "fake-small"),
            ("smart", "openai", "some-model"),
            ("odd", "nowhere", "x"),
        ]
        found = rows(await asyncio.to_thread(provider_checks, providers, targets, live=True))
    assert found["provider offline"][0] == "ok"
    assert found["provider fake"][0] == "ok"
    assert found["provider fake answers"] == (
        "ok",
        "GET /models: 1 models; 1-token call on fake-small: ok",
    )
    assert fake.requests[-1]["max_tokens"] == 1
    assert found["provider openai"] == ("warn", "no api key set")
    assert found["target smart: openai/some-model"] == ("FAIL", "provider not configured")
    assert found["target odd: nowhere/x"] == ("FAIL", "provider unknown to arcana")


async def test_the_rules_come_from_arcanas_replica(infrastructure: Any, monkeypatch: Any) -> None:
    url = await infrastructure.migrated_database("arcana", ARCANA_INI)
    payload = {
        "name": "only-offline",
        "targets": [{"provider": "offline", "model": "vareon-offline-1"}],
    }
    async with await psycopg.AsyncConnection.connect(
        url.replace("postgresql+psycopg://", "postgresql://", 1), autocommit=True
    ) as db:
        await db.execute(
            "INSERT INTO routing_rules (rule_id, revision, deleted, payload)"
            " VALUES (%s, 1, false, %s)",
            (uuid.uuid4(), json.dumps(payload)),
        )
    monkeypatch.setenv("ARCANA_PROVIDERS", json.dumps({"openai": {}}))
    found = rows(await asyncio.to_thread(run_provider_checks, url))
    assert found["routing targets"] == ("ok", "1 targets, all configured")
    assert found["provider openai"][0] == "warn"
    unread = rows(await asyncio.to_thread(run_provider_checks, None))
    assert unread["routing targets"][0] == "warn"
