"""A stolen access token alone neither guesses the password nor deletes the account
(issue 16 item 8)."""

from __future__ import annotations

import pytest

from .conftest import PASSWORD, bearer

FREE = 5


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"login_free_failures": FREE, "login_base_delay_s": 600.0})


async def test_wrong_current_passwords_are_throttled(client):
    """Issue 16 item 8: POST /auth/password verified any number of wrong current passwords."""
    _, tokens = await client.signed_up()
    statuses = []
    for n in range(FREE + 5):
        response = await client.post(
            "/api/v1/auth/password",
            headers=bearer(tokens),
            json={"current_password": f"guess number {n}", "new_password": "a new passphrase"},
        )
        statuses.append(response.status_code)
    assert statuses[:FREE] == [401] * FREE
    assert set(statuses[FREE:]) == {429}, statuses


async def test_deleting_the_account_needs_the_current_password(client):
    """Issue 16 item 8: DELETE /auth/me took the access token alone."""
    user, tokens = await client.signed_up()
    bare = await client.delete("/api/v1/auth/me", headers=bearer(tokens))
    assert bare.status_code == 422, bare.text
    wrong = await client.request(
        "DELETE", "/api/v1/auth/me", headers=bearer(tokens), json={"password": "not the one!"}
    )
    assert wrong.status_code == 401
    assert (await client.get("/api/v1/auth/me", headers=bearer(tokens))).status_code == 200

    right = await client.request(
        "DELETE", "/api/v1/auth/me", headers=bearer(tokens), json={"password": PASSWORD}
    )
    assert right.status_code == 204
    assert (await client.get("/api/v1/auth/me", headers=bearer(tokens))).status_code == 401
    assert user["email"]
