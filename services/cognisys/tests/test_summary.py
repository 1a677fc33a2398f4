"""The dashboard's cognisys section."""

from .conftest import RULES, rule_body

SUMMARY = "/api/v1/cognisys/summary"


async def test_rules_for_anyone_and_the_sample_size_for_system_readers(client, auth, admin):
    await client.post(RULES, json=rule_body(enabled=False), headers=admin)
    mine = (await client.get(SUMMARY, headers=auth())).json()
    assert mine == {"scope": "user", "rules": 2, "enabled_rules": 1, "samples_last_7_days": None}
    platform = {"scope": "platform"}
    assert (await client.get(SUMMARY, params=platform, headers=auth())).status_code == 403
    totals = await client.get(SUMMARY, params=platform, headers=auth("system:read"))
    assert totals.json()["samples_last_7_days"] == 0
