"""Session titles asked of a model (issue 21): the first free target of the rules open to the
user answers, the title is its answer trimmed, free to the user, in the background; a failure
leaves the session untitled, a title the user set meanwhile is kept; the shell's ask too."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from prometheus_client import REGISTRY
from vareon_arcana import titles
from vareon_arcana.models import RoutingRuleReplica
from vareon_arcana.providers import OFFLINE, Providers
from vareon_arcana.settings import ArcanaSettings
from vareon_contracts.events.cognisys import RoutingRuleChangedV1, RuleConditions
from vareon_routing import RoutingRule
from websockets.asyncio.client import connect

from .conftest import eventually, target
from .test_chat import PRICE_IN, PRICE_OUT, new_session, seed, usage_published
from .test_shell import receive, shell_url

BASE = "/api/v1/arcana/sessions"


@pytest.fixture(scope="module")
def settings(settings: ArcanaSettings) -> ArcanaSettings:
    return settings.model_copy(update={"title_model": None})  # the default: a free model


def titled_by(model: str, outcome: str) -> float:
    value = REGISTRY.get_sample_value(
        "vareon_arcana_titles_total", {"model": model, "outcome": outcome}
    )
    return value or 0.0


async def titling_user(publish, db, server, **titler):
    """A user whose rules' first free target is a new title model behaving as ``titler``
    (a paid target before it in the same rule), and a category a paid chat model answers."""
    user, role = uuid.uuid4(), f"titles-{uuid.uuid4().hex[:6]}"
    titler_model = server.behave(f"titler-{uuid.uuid4().hex[:6]}", **titler)
    paid_titler = server.behave(f"paid-titler-{uuid.uuid4().hex[:6]}")
    chat_model = server.behave(f"chat-{uuid.uuid4().hex[:6]}", words=["Foxes", "dig", "dens"])
    paid = {"price_in": PRICE_IN, "price_out": PRICE_OUT}
    titling = RoutingRuleChangedV1(
        rule_id=uuid.uuid4(),
        revision=1,
        name=f"rule-{role}",
        priority=1_000,  # the highest: evaluated before every other test's rules
        enabled=True,
        is_default=False,
        conditions=RuleConditions(categories=[f"unused-{role}"], roles=[role]),
        targets=[target(paid_titler, **paid), target(titler_model)],
        changed_at=datetime.now(UTC),
    )
    await publish(titling)

    async def seen():
        async with db() as s:
            return await s.get(RoutingRuleReplica, titling.rule_id)

    await eventually(seen)
    category = await seed(
        publish, db, user_id=user, available=10_000_000, targets=[target(chat_model, **paid)]
    )
    return user, role, titler_model, paid_titler, category


async def title_of(client, me, sid) -> str:
    return (await client.get(f"{BASE}/{sid}", headers=me)).json()["title"]


async def send(client, me, sid, content):
    reply = await client.post(
        f"{BASE}/{sid}/messages", headers=me, json={"content": content, "stream": False}
    )
    assert reply.status_code == 200, reply.text
    return reply.json()


async def test_the_title_is_the_free_models_answer_trimmed_and_free_to_the_user(
    client, signing_key, publish, db, fake
):
    server, _ = fake
    user, role, titler, paid_titler, category = await titling_user(
        publish, db, server, replies=['Title: "Foxes and Their Dens."\nI chose it because...']
    )
    me = signing_key.headers(user, roles=["user", role])
    sid = await new_session(client, me, category)
    await send(client, me, sid, "How do foxes build their homes?")

    async def generated():
        return titled_by(titler, "generated") == 1

    await eventually(generated, timeout_s=30)
    assert await title_of(client, me, sid) == "Foxes and Their Dens"
    asked = [r for r in server.requests if r["model"] == titler]
    assert len(asked) == 1 and asked[0]["max_tokens"] == titles.MAX_TOKENS
    sent = "\n".join(m["content"] for m in asked[0]["messages"])
    assert "How do foxes build their homes?" in sent and "Foxes dig dens" in sent
    assert paid_titler not in server.calls  # only a free model titles
    assert await usage_published(db, user) == 1  # the reply is charged, the title is not

    await send(client, me, sid, "And badgers?")
    renamed = await client.put(f"{BASE}/{sid}/title", headers=me, json={"title": "Mine"})
    assert renamed.status_code == 200 and await title_of(client, me, sid) == "Mine"


async def test_a_failed_title_leaves_the_session_untitled_and_the_next_exchange_tries_again(
    client, signing_key, publish, db, fake
):
    server, _ = fake
    user, role, titler, _, category = await titling_user(
        publish, db, server, kind="malformed", die_after=0, times=1, words=["Second", "try"]
    )
    me = signing_key.headers(user, roles=["user", role])
    sid = await new_session(client, me, category)
    await send(client, me, sid, "First question")  # the reply is unaffected (200)

    async def failed():
        return titled_by(titler, "failed") == 1

    await eventually(failed, timeout_s=30)
    assert await title_of(client, me, sid) == titles.DEFAULT
    await send(client, me, sid, "Second question")

    async def generated():
        return titled_by(titler, "generated") == 1

    await eventually(generated, timeout_s=30)
    assert await title_of(client, me, sid) == "Second try"


async def test_a_title_you_set_while_the_model_answers_is_kept(
    client, signing_key, publish, db, fake
):
    server, _ = fake
    user, role, titler, _, category = await titling_user(
        publish, db, server, words="A slow title from the model word by word".split(), delay_s=0.3
    )  # ~2 s from its first word to its last: the rename lands in between
    me = signing_key.headers(user, roles=["user", role])
    sid = await new_session(client, me, category)
    await send(client, me, sid, "Anything")

    async def answering():
        return any(s.model == titler and s.sent >= 1 for s in server.streams)

    await eventually(answering, timeout_s=30)
    renamed = await client.put(f"{BASE}/{sid}/title", headers=me, json={"title": "Mine"})
    assert renamed.status_code == 200

    async def kept():
        return titled_by(titler, "kept") == 1

    await eventually(kept, timeout_s=30)
    assert await title_of(client, me, sid) == "Mine"


async def test_the_shells_ask_titles_the_session_as_chat_does(
    arcana_url, client, signing_key, publish, db, fake
):
    server, _ = fake
    user, role, titler, _, category = await titling_user(
        publish, db, server, replies=["Shell Title"]
    )
    me = signing_key.headers(user, roles=["user", role])
    sid = await new_session(client, me, category)
    token = signing_key.token(user, roles=["user", role])
    async with connect(shell_url(arcana_url, sid)) as ws:
        await ws.send(json.dumps({"type": "auth", "token": token}))
        assert (await receive(ws))["type"] == "ready"
        await ws.send("ask how do foxes dig")
        while (frame := await receive(ws))["type"] == "chunk":
            pass
        assert frame["type"] == "done" and frame["status"] == "completed"

    async def generated():
        return titled_by(titler, "generated") == 1

    await eventually(generated, timeout_s=30)
    assert await title_of(client, me, sid) == "Shell Title"


def rule_of(targets, *, roles=(), priority=100, enabled=True) -> RoutingRule:
    return RoutingRule.from_event(
        RoutingRuleChangedV1(
            rule_id=uuid.uuid4(),
            revision=1,
            name=f"rule-{uuid.uuid4().hex[:6]}",
            priority=priority,
            enabled=enabled,
            is_default=False,
            conditions=RuleConditions(roles=list(roles)),
            targets=targets,
            changed_at=datetime.now(UTC),
        )
    )


def test_who_titles(settings):
    providers = Providers(settings)
    free, other, paid = target("free-a"), target("free-b"), target("paid", price_in=1)
    unconfigured = target("gpt-x", provider="openai")
    staff_only = rule_of([target("staff-free")], roles=["staff"], priority=500)
    rules = [rule_of([paid, free]), rule_of([unconfigured, other], priority=50), staff_only]
    user = frozenset({"user"})
    assert titles.targets(rules, user, providers, None) == [free, other]
    assert titles.targets(rules, frozenset({"staff"}), providers, None)[0].model == "staff-free"
    assert titles.targets(rules, user, providers, "paid") == [paid]  # configured: even paid
    assert titles.targets(rules, user, providers, "gpt-x") == [free, other]  # not usable
    assert titles.targets(rules, user, providers, OFFLINE.model) == [OFFLINE]
    assert titles.targets([rule_of([paid])], user, providers, None) == [OFFLINE]


def test_a_models_answer_is_trimmed_to_a_short_title():
    assert titles.cleaned('  **Title:** "Foxes at Night."  \nbecause') == "Foxes at Night"
    assert titles.cleaned("\n\n«Les renards»\n") == "Les renards"
    long = titles.cleaned(" ".join(["word"] * 40))
    assert long is not None and len(long) <= titles.MAX_CHARS and long.endswith("word")
    assert titles.cleaned('"..."') is None and titles.cleaned("") is None
