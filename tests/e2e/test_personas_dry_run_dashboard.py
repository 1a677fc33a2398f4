"""Issue 20 through the gateway: a persona chat leaves a routing sample, a scenario of the
persona runs (uncharged, no samples) with a failing expectation, an admin dry-runs a price
change over the sample, the dashboard answers, and erasure takes persona, scenario, sample."""

import asyncio
import time
import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from vareon_contracts import topics

from .conftest import PASSWORD
from .test_chat_flow import CHEAP, admin_tokens, create_rule, rule_known, verified_user

DEAR = {**CHEAP, "model": "e2e-dear", "input_price_per_1k": 50_000, "output_price_per_1k": 90_000}


def rule_report(dry_run, rule_id):
    return next(r for r in dry_run["rules"] if r["rule_id"] == rule_id)


async def scenario_run(gw, me, persona: str) -> dict:
    """A scenario of the persona, run (uncharged) until it completes; its run with results."""
    body = {
        "name": "review",
        "persona": persona,
        "expect": {"model": "e2e-cheap"},
        "conversations": [
            {"name": "greet", "turns": ["hello"]},
            {"name": "strict", "turns": ["review this"], "expect": {"contains": ["LGTM"]}},
        ],
    }
    scenario = await gw.post("/api/v1/arcana/scenarios", headers=me, json=body)
    assert scenario.status_code == 201, scenario.text
    runs = f"/api/v1/arcana/scenarios/{scenario.json()['id']}/runs"
    started = await gw.post(runs, headers=me, json={})
    assert started.status_code == 202, started.text
    deadline = time.monotonic() + 60
    while True:
        run = (await gw.get(f"{runs}/{started.json()['id']}", headers=me)).json()
        if run["status"] == "completed" or time.monotonic() > deadline:
            assert (run["status"], run["done"], run["passed"]) == ("completed", 2, 1), run
            return run
        await asyncio.sleep(0.1)


async def test_persona_chat_dry_run_dashboard_and_erasure(platform, event_log):
    gw = platform.gateway
    category = f"e2e-{uuid.uuid4().hex[:6]}"
    admin = await admin_tokens(platform)
    rule = await create_rule(platform, admin, category, CHEAP)
    user, tokens = await verified_user(platform, event_log)
    me = platform.bearer(tokens)
    await rule_known(platform, event_log, rule["id"])

    persona = await gw.post(
        "/api/v1/arcana/personas",
        headers=me,
        json={
            "slug": "reviewer",
            "name": "Reviewer",
            "system_prompt": "You review code.",
            "category": category,
        },
    )
    assert persona.status_code == 201, persona.text
    started = await gw.post(
        f"/api/v1/arcana/personas/{persona.json()['id']}/sessions", headers=me, json={}
    )
    assert started.status_code == 201, started.text
    reply = await gw.post(
        f"/api/v1/arcana/sessions/{started.json()['session_id']}/messages",
        headers=me,
        json={"content": "please review this", "stream": False},
    )
    assert reply.status_code == 200, reply.text
    receipt = reply.json()["receipt"]
    assert receipt["model"] == "e2e-cheap"
    sent = [r for r in platform.provider.requests if r["model"] == "e2e-cheap"][-1]
    assert sent["messages"][0]["content"].startswith("You review code.")

    run = await scenario_run(gw, me, "reviewer")
    greet, strict = run["results"]
    assert greet["passed"] and greet["model"] == "e2e-cheap" and greet["cost"] > 0
    why = next(c for c in strict["checks"] if not c["passed"])
    assert why["expectation"] == "contains:LGTM" and "not found" in why["reason"]

    await event_log.consumed(
        platform.groups + "cognisys.routing-samples",
        topics.ARCANA_ROUTING_SAMPLE,
        lambda e: e.data.get("user_id") == user["id"],
    )
    body = {"changes": [{"op": "update", "rule_id": rule["id"], "changes": {"targets": [DEAR]}}]}
    dry = await gw.post(
        "/api/v1/cognisys/routing-rules/dry-run", json=body, headers=platform.bearer(admin)
    )
    assert dry.status_code == 200, dry.text
    mine = rule_report(dry.json(), rule["id"])
    assert mine["current"]["calls"] == 1 and mine["retargeted"] == 1
    assert mine["current"]["cost"] == receipt["cost"]
    tokens_in, tokens_out = receipt["tokens_in"], receipt["tokens_out"]
    dear = -(-(tokens_in * 50_000 + tokens_out * 90_000) // 1000)
    assert mine["proposed"]["cost"] == dear > receipt["cost"]
    assert (
        await gw.post("/api/v1/cognisys/routing-rules/dry-run", json=body, headers=me)
    ).status_code == 403

    board = await gw.get("/api/v1/dashboard", headers=me)
    assert board.status_code == 200, board.text
    sections = board.json()["sections"]
    assert set(sections) == {"arcana", "wallet", "myntrix", "neosyntis"}
    assert sections["arcana"]["status"] == "ok", sections
    assert sections["arcana"]["data"]["personas"] == 1
    assert sections["arcana"]["data"]["messages_this_month"] == 2
    assert sections["wallet"]["status"] == "ok"
    assert board.json()["recent_activity"][0]["id"] == started.json()["session_id"]
    admin_board = await gw.get(
        "/api/v1/dashboard", params={"view": "admin"}, headers=platform.bearer(admin)
    )
    cognisys = admin_board.json()["sections"]["cognisys"]
    assert cognisys["status"] == "ok", admin_board.json()
    assert cognisys["data"]["samples_last_7_days"] >= 1

    gone = await gw.request("DELETE", "/api/v1/auth/me", headers=me, json={"password": PASSWORD})
    assert gone.status_code == 204, gone.text
    for group in ("cognisys.users", "arcana.users"):
        await event_log.consumed(
            platform.groups + group,
            topics.IDENTITY_USER,
            lambda e: e.type.endswith("user.deleted.v1") and e.data.get("user_id") == user["id"],
        )
    after = await gw.post(
        "/api/v1/cognisys/routing-rules/dry-run", json=body, headers=platform.bearer(admin)
    )
    assert rule_report(after.json(), rule["id"])["current"]["calls"] == 0
    engine = create_async_engine(platform.arcana_db)
    async with engine.connect() as conn:
        left = await conn.scalar(
            text(
                "SELECT (SELECT count(*) FROM personas WHERE owner_id = :u)"
                " + (SELECT count(*) FROM routing_samples WHERE user_id = :u)"
                " + (SELECT count(*) FROM scenarios WHERE owner_id = :u)"
            ),
            {"u": user["id"]},
        )
    await engine.dispose()
    assert left == 0


async def test_a_quick_action_through_the_gateway_replays_with_its_key(platform):
    """Item 7, "top up my test wallet" through the gateway: the key goes in, the replay's
    ``Idempotent-Replayed`` comes back, another body is the service's 409 problem. (This
    platform runs no myntrix or neosyntis: their quick actions are tested in their services,
    their routes in the gateway's upstream test.)"""
    gw = platform.gateway
    admin = platform.bearer(await admin_tokens(platform))
    keyed = {**admin, "Idempotency-Key": f"top-{uuid.uuid4()}"}
    first = await gw.post("/api/v1/wallet/top-up", headers=keyed, json={})
    assert first.status_code == 201, first.text
    again = await gw.post("/api/v1/wallet/top-up", headers=keyed)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["transfer_id"] == first.json()["transfer_id"]
    refused = await gw.post("/api/v1/wallet/top-up", headers=keyed, json={"amount_micro": 3})
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    user = await platform.register()
    plain = platform.bearer(await platform.login(user["email"]))
    denied = await gw.post("/api/v1/wallet/top-up", headers={**plain, "Idempotency-Key": "k"})
    assert denied.status_code == 403, denied.text
