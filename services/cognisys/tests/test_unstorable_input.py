"""Issue 23 item 1: text PostgreSQL cannot store is a 422 naming the field, not a 500."""

import json

import pytest

from .conftest import RULES, rule_body


@pytest.mark.parametrize("bad", ["gpt\x00big", "gpt\ud800big"])
async def test_a_routing_rule_with_unstorable_target_text_is_422(client, admin, bad):
    """Issue 23 item 1: POST /routing-rules with NUL or a lone surrogate in a target was a 500."""
    body = rule_body()
    body["targets"][0]["model"] = bad
    response = await client.post(
        RULES,
        content=json.dumps(body).encode(),
        headers={**admin, "content-type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["loc"] for e in response.json()["errors"]] == [["body", "targets", 0, "model"]]
    assert (await client.get(RULES, headers=admin)).json()["items"][0]["is_default"]
