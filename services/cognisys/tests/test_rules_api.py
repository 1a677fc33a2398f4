from __future__ import annotations

import uuid

from .conftest import DEFAULT_RULE_ID, RULES, rule_body

PROBLEM = "application/problem+json"


async def test_create_get_replace_patch_delete(client, admin, auth):
    created = await client.post(RULES, json=rule_body(), headers=admin)
    assert created.status_code == 201, created.text
    rule = created.json()
    assert rule["revision"] == 1
    assert rule["is_default"] is False
    assert [t["model"] for t in rule["targets"]] == ["gpt-big", "vareon-offline-1"]
    url = f"{RULES}/{rule['id']}"

    reader = auth()
    fetched = await client.get(url, headers=reader)
    assert fetched.json() == rule

    replaced = await client.put(url, json=rule_body(name="renamed", priority=5), headers=admin)
    assert replaced.status_code == 200, replaced.text
    assert (replaced.json()["name"], replaced.json()["priority"]) == ("renamed", 5)
    assert replaced.json()["revision"] == 2

    patched = await client.patch(url, json={"enabled": False}, headers=admin)
    assert patched.json()["enabled"] is False
    assert patched.json()["name"] == "renamed"
    assert patched.json()["revision"] == 3

    deleted = await client.delete(url, headers=admin)
    assert deleted.status_code == 204
    missing = await client.get(url, headers=reader)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == PROBLEM
    assert missing.json()["type"].endswith("/routing-rule-not-found")


async def test_a_change_to_nothing_keeps_the_revision(client, admin):
    rule = (await client.post(RULES, json=rule_body(), headers=admin)).json()
    same = await client.put(f"{RULES}/{rule['id']}", json=rule_body(), headers=admin)
    assert same.json()["revision"] == 1
    same = await client.patch(f"{RULES}/{rule['id']}", json={"priority": 100}, headers=admin)
    assert same.json()["revision"] == 1


async def test_writes_need_routing_write_and_reads_need_a_token(client, auth):
    user = auth()
    forbidden = await client.post(RULES, json=rule_body(), headers=user)
    assert forbidden.status_code == 403
    assert forbidden.headers["content-type"] == PROBLEM
    for method in ("put", "patch"):
        response = await client.request(
            method, f"{RULES}/{DEFAULT_RULE_ID}", json=rule_body(), headers=user
        )
        assert response.status_code == 403
    assert (await client.delete(f"{RULES}/{DEFAULT_RULE_ID}", headers=user)).status_code == 403

    assert (await client.get(RULES)).status_code == 401
    assert (await client.get(f"{RULES}/{DEFAULT_RULE_ID}")).status_code == 401
    assert (await client.post(RULES, json=rule_body())).status_code == 401
    bad = await client.get(RULES, headers={"Authorization": "Bearer not-a-token"})
    assert bad.status_code == 401
    assert (await client.get(RULES, headers=user)).status_code == 200


async def test_the_default_rule_exists_can_be_edited_but_not_deleted(client, admin):
    default = (await client.get(f"{RULES}/{DEFAULT_RULE_ID}", headers=admin)).json()
    assert default["is_default"] is True
    assert default["targets"] == [
        {
            "provider": "offline",
            "model": "vareon-offline-1",
            "input_price_per_1k": 0,
            "output_price_per_1k": 0,
        }
    ]
    refused = await client.delete(f"{RULES}/{DEFAULT_RULE_ID}", headers=admin)
    assert refused.status_code == 409
    assert refused.headers["content-type"] == PROBLEM
    assert refused.json()["type"].endswith("/default-rule-protected")

    edited = await client.patch(
        f"{RULES}/{DEFAULT_RULE_ID}", json={"name": "fallback"}, headers=admin
    )
    assert edited.status_code == 200
    assert (edited.json()["name"], edited.json()["revision"]) == ("fallback", 2)

    for change in ({"enabled": False}, {"conditions": {"keywords": ["x"]}}):
        refused = await client.patch(f"{RULES}/{DEFAULT_RULE_ID}", json=change, headers=admin)
        assert refused.status_code == 422, refused.text
        assert refused.json()["type"].endswith("/invalid-routing-rule")
    still = await client.get(f"{RULES}/{DEFAULT_RULE_ID}", headers=admin)
    assert still.json()["revision"] == 2


INVALID = [
    {"priority": -1},
    {"priority": 1001},
    {"targets": []},
    {
        "targets": [
            {"provider": "x", "model": "y", "input_price_per_1k": -1, "output_price_per_1k": 0}
        ]
    },
    {
        "targets": [
            {"provider": "", "model": "y", "input_price_per_1k": 1, "output_price_per_1k": 0}
        ]
    },
    {"conditions": {"pattern": "(unclosed"}},
    {"conditions": {"pattern": "a" * 501}},
    {"conditions": {"min_length": 10, "max_length": 5}},
    {"conditions": {"active_from": "09:00:00", "active_until": "09:00:00"}},
    {"conditions": {"colour": "blue"}},
    {"name": ""},
    {"surprise": True},
]


async def test_invalid_rules_are_422_problems(client, admin):
    # One app for every case: a fresh database per case would cost a second each.
    for change in INVALID:
        response = await client.post(RULES, json=rule_body(**change), headers=admin)
        assert response.status_code == 422, (change, response.text)
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["errors"], change
    listed = (await client.get(RULES, headers=admin)).json()["items"]
    assert [r["id"] for r in listed] == [DEFAULT_RULE_ID]


async def test_patch_refuses_nulls_and_bad_values(client, admin):
    rule = (await client.post(RULES, json=rule_body(), headers=admin)).json()
    for change in ({"name": None}, {"targets": []}, {"conditions": {"pattern": "["}}):
        response = await client.patch(f"{RULES}/{rule['id']}", json=change, headers=admin)
        assert response.status_code == 422, response.text


async def test_unknown_rule_is_404_and_bad_id_is_422(client, admin):
    missing = await client.patch(f"{RULES}/{uuid.uuid4()}", json={"name": "x"}, headers=admin)
    assert missing.status_code == 404
    assert (await client.delete(f"{RULES}/{uuid.uuid4()}", headers=admin)).status_code == 404
    assert (await client.get(f"{RULES}/not-a-uuid", headers=admin)).status_code == 422


async def test_list_pages_through_rules_in_evaluation_order(client, admin):
    for priority in (10, 300, 10, 50, 700):
        await client.post(RULES, json=rule_body(priority=priority), headers=admin)
    seen: list[dict] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(RULES, params=params, headers=admin)).json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [r["priority"] for r in seen] == [700, 300, 50, 10, 10, 0]
    assert seen[-1]["is_default"]
    tied = [r["id"] for r in seen if r["priority"] == 10]
    assert tied == sorted(tied)
    bad = await client.get(RULES, params={"cursor": "garbage"}, headers=admin)
    assert bad.status_code == 422
    assert bad.json()["type"].endswith("/invalid-cursor")
