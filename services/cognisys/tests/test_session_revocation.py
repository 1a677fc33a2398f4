"""Every service, not only the wallet, follows identity's session revocations (issue 16
item 14): cognisys stands for the services that never wired the follower themselves."""

from __future__ import annotations

import asyncio
import uuid

from vareon_chassis.testing.revocations import publish_revocation

from .conftest import RULES


async def test_a_revoked_login_is_refused_by_a_service_that_never_asked_for_it(
    client, signing_key, infrastructure
):
    """Issue 16 item 14: before the chassis followed revocations for every app, cognisys
    kept accepting a revoked login's token until it expired (the wait below ran out)."""
    user, login = uuid.uuid4(), uuid.uuid4()
    revoked = {"Authorization": f"Bearer {signing_key.token(user, sid=str(login))}"}
    assert (await client.get(RULES, headers=revoked)).status_code == 200

    await publish_revocation(infrastructure.kafka_bootstrap, user, [login])
    deadline = asyncio.get_running_loop().time() + 30  # a bound, not a window
    while (await client.get(RULES, headers=revoked)).status_code != 401:
        assert asyncio.get_running_loop().time() < deadline, "revocation never applied"
        await asyncio.sleep(0.1)
