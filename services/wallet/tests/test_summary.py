"""The dashboard's wallet section: the caller's credits; platform totals need system:read."""

import uuid

from .conftest import BONUS

SUMMARY = "/api/v1/wallet/summary"


async def test_a_users_credits_this_month_and_the_platform_totals(client, auth):
    user = uuid.uuid4()
    empty = (await client.get(SUMMARY, headers=auth(user))).json()
    assert empty == {
        "scope": "user",
        "wallets": 0,
        "balance": 0,
        "available": 0,
        "spent_this_month": 0,
        "received_this_month": 0,
    }
    await client.post("/api/v1/wallet", headers=auth(user))
    mine = (await client.get(SUMMARY, headers=auth(user))).json()
    assert mine["wallets"] == 1
    assert mine["balance"] == mine["available"] == BONUS
    assert mine["received_this_month"] == BONUS and mine["spent_this_month"] == 0

    platform = {"scope": "platform"}
    refused = await client.get(SUMMARY, params=platform, headers=auth(user))
    assert refused.status_code == 403
    totals = (await client.get(SUMMARY, params=platform, headers=auth(user, "system:read"))).json()
    assert totals["scope"] == "platform" and totals["wallets"] >= 1
    assert totals["balance"] >= BONUS
