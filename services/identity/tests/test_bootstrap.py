from __future__ import annotations

import jwt
import pytest
from vareon_contracts import topics
from vareon_identity.bootstrap import PasswordRequired, seed_admin_at


async def test_seed_admin_creates_a_verified_admin_who_can_grant(client, database_url, event_log):
    with pytest.raises(PasswordRequired):
        await seed_admin_at(database_url, email="root@example.com", password=None)
    seeded = await seed_admin_at(
        database_url, email="Root@Example.com", password="a long admin passphrase"
    )
    assert seeded.created and seeded.email == "root@example.com"
    tokens = await client.login("root@example.com", "a long admin passphrase")
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert claims["roles"] == ["admin", "user"]
    assert claims["email_verified"] is True
    await event_log.wait_for(
        topics.IDENTITY_USER,
        lambda e: (
            e.type == "vareon.identity.user.updated.v1"
            and e.data["user_id"] == str(seeded.user_id)
            and "admin" in e.data["roles"]
        ),
    )


async def test_seed_admin_promotes_an_existing_user_keeping_the_password(client, database_url):
    user = await client.register()
    seeded = await seed_admin_at(database_url, email=user["email"], password=None)
    assert (seeded.created, str(seeded.user_id)) == (False, user["id"])
    tokens = await client.login(user["email"])
    assert (
        "users:write"
        in jwt.decode(tokens["access_token"], options={"verify_signature": False})["permissions"]
    )
