"""Walking the fallback list against a real OpenAI-compatible server (the fake), through the
SDK: next target on 5xx/429, one wait-and-retry on a short Retry-After, final after text."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from vareon_arcana import tokens
from vareon_arcana.fallback import Broken, Unanswered, answer
from vareon_arcana.providers import OFFLINE, Finish, Options, Providers, Text, Usage
from vareon_arcana.settings import ArcanaSettings, ProviderSettings
from vareon_chassis.testing.fake_openai import PROMPT_TOKENS, FakeOpenAI

from .conftest import target

MESSAGES = [{"role": "user", "content": "hi"}]
CAP_S = 0.2


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def providers(fake: tuple[FakeOpenAI, str]) -> AsyncIterator[Providers]:
    _, url = fake
    settings = ArcanaSettings(
        providers={
            "fake": ProviderSettings(base_url=url + "/v1", api_key="k"),
            "elsewhere": ProviderSettings(base_url=url + "/not-an-api", api_key="k"),
            "keyless": ProviderSettings(base_url=url + "/v1"),
        },
        provider_timeout_s=1.5,
    )
    found = Providers(settings)
    yield found
    await found.close()


def _name(server: FakeOpenAI, kind: str = "answer", **behaviour: Any) -> str:
    return server.behave(f"{kind}-{uuid.uuid4().hex[:8]}", kind=kind, **behaviour)


async def _answer(
    providers: Providers, targets: list[Any], options: Options = Options(max_tokens=50)
) -> AsyncIterator[tuple[str, Any]]:
    async for answering, piece in answer(
        providers, targets, MESSAGES, options, retry_after_cap_s=CAP_S
    ):
        yield answering.model, piece


async def _walk(providers: Providers, *models: str) -> list[Any]:
    return [piece async for piece in _answer(providers, [target(m) for m in models])]


async def test_the_first_target_answers_with_text_then_usage(providers, fake) -> None:
    server, _ = fake
    first, second = _name(server, words=["a", "b"]), _name(server)
    pieces = await _walk(providers, first, second)
    assert pieces == [
        (first, Text("a")),
        (first, Text(" b")),
        (first, Finish("stop")),
        (first, Usage(PROMPT_TOKENS, 2)),
    ]
    assert second not in server.calls


async def test_a_server_error_moves_to_the_next_target(providers, fake) -> None:
    server, _ = fake
    broken, spare = _name(server, "error"), _name(server, words=["ok"])
    pieces = await _walk(providers, broken, spare)
    assert {model for model, _ in pieces} == {spare}
    assert [p.text for _, p in pieces if isinstance(p, Text)] == ["ok"]
    assert server.calls.count(broken) == 1


async def test_a_short_retry_after_is_waited_for_once_on_the_same_target(providers, fake) -> None:
    server, _ = fake
    limited = _name(server, "rate-limit", retry_after=CAP_S / 2, times=1, words=["late"])
    spare = _name(server)
    pieces = await _walk(providers, limited, spare)
    assert {model for model, _ in pieces} == {limited}
    assert server.calls.count(limited) == 2 and spare not in server.calls


@pytest.mark.parametrize(
    ("retry_after", "times", "attempts"),
    [(CAP_S * 10, 1, 1), (CAP_S / 2, None, 2)],
    ids=["a long Retry-After moves on at once", "a short one is retried only once"],
)
async def test_a_rate_limited_target_gives_way(
    providers, fake, retry_after: float, times: int | None, attempts: int
) -> None:
    server, _ = fake
    limited = _name(server, "rate-limit", retry_after=retry_after, times=times)
    spare = _name(server, words=["ok"])
    pieces = await _walk(providers, limited, spare)
    assert {model for model, _ in pieces} == {spare}
    assert server.calls.count(limited) == attempts


async def test_a_failure_after_text_is_final(providers, fake) -> None:
    server, _ = fake
    dying, spare = _name(server, "die", die_after=2), _name(server)
    seen: list[str] = []
    with pytest.raises(Broken):
        async for _, piece in _answer(providers, [target(dying), target(spare)]):
            if isinstance(piece, Text):
                seen.append(piece.text)
    assert seen == ["w0", " w1"]
    assert spare not in server.calls


async def test_nobody_answering_names_every_failure(providers, fake) -> None:
    server, _ = fake
    first, second = _name(server, "error"), _name(server, "rate-limit")
    targets = [target(first), target("m", provider="keyless"), target(second)]
    with pytest.raises(Unanswered) as raised:
        await _walk_targets(providers, targets)
    detail = str(raised.value)
    assert f"fake/{first}" in detail and f"fake/{second}" in detail
    assert "keyless/m: not configured" in detail


async def test_a_rejected_request_is_not_tried_elsewhere(providers, fake) -> None:
    """A 4xx other than 429 (here a 404) is the request's fault: no other target would
    answer it differently."""
    server, _ = fake
    spare = _name(server)
    with pytest.raises(Unanswered, match="HTTP 404"):
        await _walk_targets(providers, [target("m", provider="elsewhere"), target(spare)])
    assert spare not in server.calls


async def _walk_targets(providers: Providers, targets: list[Any]) -> None:
    async for _ in _answer(providers, targets):
        pass


async def test_options_reach_the_provider(providers, fake) -> None:
    server, _ = fake
    model = _name(server)
    options = Options(max_tokens=7, json_mode=True, temperature=0.3, stop=("\n\n",))
    async for _ in _answer(providers, [target(model)], options):
        pass
    sent = next(r for r in server.requests if r["model"] == model)
    assert sent["max_tokens"] == 7 and sent["temperature"] == 0.3 and sent["stop"] == ["\n\n"]
    assert sent["response_format"] == {"type": "json_object"}
    plain = _name(server)
    await _walk(providers, plain)
    sent = next(r for r in server.requests if r["model"] == plain)
    assert "temperature" not in sent and "stop" not in sent and "response_format" not in sent


async def test_the_offline_model_says_why_it_stopped(providers) -> None:
    cut = [p async for _, p in _answer(providers, [OFFLINE], Options(max_tokens=3))]
    assert [p for p in cut if isinstance(p, Finish)] == [Finish("length")]
    assert tokens.count("".join(p.text for p in cut if isinstance(p, Text))) == 3
    whole = [p async for _, p in _answer(providers, [OFFLINE], Options(max_tokens=500))]
    assert [p for p in whole if isinstance(p, Finish)] == [Finish("stop")]
