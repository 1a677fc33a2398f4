"""Time to first token, tokens and fallbacks are measured per model target as calls flow."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest_asyncio
from prometheus_client import REGISTRY
from vareon_arcana.fallback import answer
from vareon_arcana.providers import Options, Providers
from vareon_arcana.settings import ArcanaSettings, ProviderSettings
from vareon_chassis.testing.fake_openai import PROMPT_TOKENS, FakeOpenAI

from .conftest import target


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def providers(fake: tuple[FakeOpenAI, str]) -> AsyncIterator[Providers]:
    _, url = fake
    found = Providers(
        ArcanaSettings(providers={"fake": ProviderSettings(base_url=url + "/v1", api_key="k")})
    )
    yield found
    await found.close()


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_ttft_tokens_and_fallbacks_per_model(providers, fake) -> None:
    server, _ = fake
    broken = server.behave(f"error-{uuid.uuid4().hex[:8]}", kind="error")
    spare = server.behave(f"answer-{uuid.uuid4().hex[:8]}", kind="answer", words=["a", "b"])
    async for _ in answer(
        providers,
        [target(broken), target(spare)],
        [{"role": "user", "content": "hi"}],
        Options(max_tokens=20),
        retry_after_cap_s=0.1,
    ):
        pass
    assert sample("vareon_arcana_fallbacks_total", model=broken) == 1
    assert sample("vareon_arcana_fallbacks_total", model=spare) == 0
    assert sample("vareon_arcana_ttft_seconds_count", model=spare) == 1
    assert sample("vareon_arcana_ttft_seconds_count", model=broken) == 0
    prompt = sample("vareon_arcana_tokens_total", model=spare, direction="prompt")
    assert prompt == PROMPT_TOKENS
    assert sample("vareon_arcana_tokens_total", model=spare, direction="completion") == 2
