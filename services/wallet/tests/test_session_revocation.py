"""Wallet refuses the access token of a login identity revoked (issue 16 item 14)."""

from __future__ import annotations

import asyncio
import uuid

from vareon_chassis.testing.revocations import publish_revocation


async def test_a_revoked_login_is_refused_before_its_token_expires(
    client, signing_key, infrastructure
):
    """Issue 16 item 14: after logout-all, a password change, a role revocation or deletion
    the access token kept working in wallet for up to 15 minutes."""
    user, login, other_login = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    revoked = {"Authorization": f"Bearer {signing_key.token(user, sid=str(login))}"}
    kept = {"Authorization": f"Bearer {signing_key.token(user, sid=str(other_login))}"}
    assert (await client.get("/api/v1/wallet", headers=revoked)).status_code != 401

    await publish_revocation(infrastructure.kafka_bootstrap, user, [login])
    deadline = asyncio.get_running_loop().time() + 30  # a bound, not a window
    while (await client.get("/api/v1/wallet", headers=revoked)).status_code != 401:
        assert asyncio.get_running_loop().time() < deadline, "revocation never applied"
        await asyncio.sleep(0.1)
    assert (await client.get("/api/v1/wallet", headers=kept)).status_code != 401
