from __future__ import annotations

from .conftest import DEFAULT_RULE_ID, EVALUATE, RULES, rule_body


async def test_evaluate_explains_the_chosen_rule_and_the_ones_passed_over(client, admin, auth):
    coding = (await client.post(RULES, json=rule_body(), headers=admin)).json()
    night = (
        await client.post(
            RULES,
            json=rule_body(
                name="night shift",
                priority=900,
                conditions={"active_from": "22:00:00", "active_until": "06:00:00"},
            ),
            headers=admin,
        )
    ).json()

    body = {"text": "Write RUST please", "category": "coding", "now": "2026-11-26T12:00:00Z"}
    result = (await client.post(EVALUATE, json=body, headers=auth())).json()
    assert result["rule"]["id"] == coding["id"]
    assert result["used_default"] is False
    assert [t["model"] for t in result["targets"]] == ["gpt-big", "vareon-offline-1"]
    assert [(r["condition"], r["held"]) for r in result["reasons"]] == [
        ("category", True),
        ("keywords", True),
    ]
    assert "'RUST'" in result["reasons"][1]["detail"]
    [passed] = result["passed_over"]
    assert passed["rule"]["id"] == night["id"]
    assert passed["reasons"][0]["condition"] == "time_window"
    assert "12:00:00 UTC is outside" in passed["reasons"][0]["detail"]

    body["now"] = "2026-11-26T23:30:00+00:00"
    assert (await client.post(EVALUATE, json=body, headers=auth())).json()["rule"]["id"] == (
        night["id"]
    )


async def test_evaluate_falls_back_to_the_default_rule(client, admin, auth):
    await client.post(RULES, json=rule_body(), headers=admin)
    result = (
        await client.post(EVALUATE, json={"text": "hello", "category": "chat"}, headers=auth())
    ).json()
    assert result["rule"]["id"] == DEFAULT_RULE_ID
    assert result["used_default"] is True
    assert result["targets"][0]["model"] == "vareon-offline-1"
    assert result["passed_over"][0]["reasons"][0]["held"] is False


async def test_evaluate_uses_the_callers_roles_unless_given(client, admin, auth):
    pro = (
        await client.post(RULES, json=rule_body(conditions={"roles": ["pro"]}), headers=admin)
    ).json()
    as_pro = auth(roles=("user", "pro"))
    chosen = await client.post(EVALUATE, json={"text": "hi"}, headers=as_pro)
    assert chosen.json()["rule"]["id"] == pro["id"]
    assert chosen.json()["roles"] == ["pro", "user"]
    other = await client.post(EVALUATE, json={"text": "hi", "roles": ["user"]}, headers=admin)
    assert other.json()["rule"]["id"] == DEFAULT_RULE_ID
    as_admin = await client.post(EVALUATE, json={"text": "hi", "roles": ["pro"]}, headers=admin)
    assert as_admin.json()["rule"]["id"] == pro["id"]


async def test_a_caller_without_routing_write_cannot_choose_roles(client, admin, auth):
    """Issue 16 item 13: roles in the body are ignored unless the caller holds
    routing:write; a plain user evaluates with their own roles."""
    pro = (
        await client.post(RULES, json=rule_body(conditions={"roles": ["pro"]}), headers=admin)
    ).json()
    plain = auth()
    claimed = await client.post(EVALUATE, json={"text": "hi", "roles": ["pro"]}, headers=plain)
    assert claimed.status_code == 200
    assert claimed.json()["rule"]["id"] != pro["id"]
    assert claimed.json()["roles"] == ["user"]
    as_pro = auth(roles=("user", "pro"))
    hidden = await client.post(EVALUATE, json={"text": "hi", "roles": ["user"]}, headers=as_pro)
    assert hidden.json()["rule"]["id"] == pro["id"]


async def test_a_catastrophic_pattern_times_out_and_is_reported(client, admin, auth):
    await client.post(RULES, json=rule_body(conditions={"pattern": "(a|aa)+$"}), headers=admin)
    result = await client.post(EVALUATE, json={"text": "a" * 60 + "b"}, headers=auth())
    assert result.status_code == 200
    assert result.json()["timed_out"] is True
    assert result.json()["used_default"] is True
    assert "timed out" in result.json()["passed_over"][0]["reasons"][-1]["detail"]


async def test_evaluate_validates_its_input(client, auth):
    assert (await client.post(EVALUATE, json={"text": "hi"})).status_code == 401
    for body in ({}, {"text": "x" * 100_001}, {"text": "hi", "now": "2026-11-26T12:00:00"}):
        response = await client.post(EVALUATE, json=body, headers=auth())
        assert response.status_code == 422, body
