"""Issue 23 item 1: inputs schemathesis turned into 500s are 422 problems naming the field."""

import uuid

from .conftest import API, register_device

PROBLEM = "application/problem+json"


def _unprocessable(response, slug, loc=None):
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["type"] == f"https://vareon.dev/problems/{slug}"
    if loc is not None:
        assert [e["loc"] for e in body["errors"]] == [loc]


async def test_agent_patch_with_nul_in_the_name_is_422(client, auth):
    """Issue 23 item 1: PATCH /agents/{id} with a NUL in the name was a 500."""
    owner = auth(uuid.uuid4())
    created = await client.post(
        f"{API}/agents", headers=owner, json={"name": "helper", "kind": "chat", "model": "gpt-x"}
    )
    assert created.status_code == 201, created.text
    response = await client.patch(
        f"{API}/agents/{created.json()['id']}", headers=owner, json={"name": "a\x00b"}
    )
    _unprocessable(response, "validation-error", ["body", "name"])


async def test_an_empty_hardware_cursor_is_invalid_cursor(client, operator):
    """Issue 23 item 1: GET /hardware?cursor= (empty) was a 500."""
    await register_device(client, operator)
    for cursor in ("", "garbage", "eyJhIjoxfQ"):
        response = await client.get(f"{API}/hardware", headers=operator, params={"cursor": cursor})
        _unprocessable(response, "invalid-cursor")


async def test_a_deployment_version_past_bigint_is_422(client, operator):
    """Issue 23 item 1: POST /deployments with version 10**21 was a 500."""
    device = await register_device(client, operator)
    response = await client.post(
        f"{API}/deployments",
        headers=operator,
        json={"model_name": "llama", "version": 10**21, "device_ids": [device["id"]]},
    )
    _unprocessable(response, "validation-error", ["body", "version"])
