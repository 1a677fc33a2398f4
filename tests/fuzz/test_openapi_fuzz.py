"""Issue 23 item 2: schemathesis against every service's own OpenAPI, on real servers.

For each service and each principal (a verified admin, a plain user), every operation gets
``VAREON_FUZZ_EXAMPLES`` generated requests (valid and invalid ones) with a fixed seed. Each
response must: not be a 5xx; have a status, content type and body the document declares;
be ``application/problem+json`` when it is a 4xx. ``make fuzz`` runs the deeper profile.
"""

from __future__ import annotations

import os
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup

# Imported at collection, not lazily by the first from_dict: pytest rewrites schemathesis
# (a pytest plugin) on import, and CPython 3.11's ast.parse failed once inside a test
# ("AST constructor recursion depth mismatch") after the suite had run for 14 minutes.
from schemathesis.specs.openapi import schemas as _openapi_schemas  # noqa: F401
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from .conftest import SERVICES, Platform

EXAMPLES = int(os.environ.get("VAREON_FUZZ_EXAMPLES", "2"))
DEEP = EXAMPLES > 20
PROBLEM_JSON = "application/problem+json"
# schemathesis' strategies draw from `random` inside hypothesis: its warning, not ours
pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")


@schemathesis.check
def problem_json_on_4xx(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every client error is an RFC 9457 problem (chassis errors), never FastAPI's default."""
    if not 400 <= response.status_code < 500:
        return None
    content_type = response.headers.get("content-type", [""])
    content_type = content_type[0] if isinstance(content_type, list) else content_type
    assert content_type.startswith(PROBLEM_JSON), f"{response.status_code} as {content_type!r}"
    body = response.json()
    assert body.get("status") == response.status_code and body.get("type"), body
    return True


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    problem_json_on_4xx,
]
SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=True,  # the fixed seed: the same requests every run
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate, *([Phase.shrink] if DEEP else [])],
)


def _fuzz(operation: Any, base_url: str, headers: dict[str, str], session: Any) -> str | None:
    """The first failure schemathesis finds on ``operation``, described, or None."""
    strategies = [operation.as_strategy(GenerationMode.POSITIVE)]
    try:
        strategies.append(operation.as_strategy(GenerationMode.NEGATIVE))
    except Exception:  # noqa: S110 - some operations have nothing to negate
        pass

    @SETTINGS
    @given(case=st.one_of(strategies))
    def run(case: Any) -> None:
        case.call_and_validate(base_url=base_url, headers=headers, session=session, checks=CHECKS)

    try:
        run()
    except (Exception, FailureGroup) as exc:  # FailureGroup is a BaseExceptionGroup
        return f"{operation.label}: {str(exc)[:1500]}"
    return None


@pytest.mark.parametrize("principal", ["admin", "user"])
@pytest.mark.parametrize("service", SERVICES)
def test_no_server_errors_and_responses_as_documented(
    platform: Platform, service: str, principal: str
) -> None:
    """Issue 23 item 2: schemathesis finds nothing on any operation of the service."""
    base_url = platform.urls[service]
    document = httpx.get(f"{base_url}/openapi.json", timeout=10).json()
    schema = schemathesis.openapi.from_dict(document)
    headers = {"Authorization": f"Bearer {platform.tokens[principal]}"}
    failures = []
    with requests.Session() as session:
        for result in schema.get_all_operations():
            operation = result.ok()  # type: ignore[union-attr]  # an Err fails the test here
            if (failure := _fuzz(operation, base_url, headers, session)) is not None:
                failures.append(failure)
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize("service", ["cognisys", "arcana", "myntrix", "neosyntis"])
def test_stateful_chains_stay_as_documented(platform: Platform, service: str) -> None:
    """Issue 23 item 2: create, then act on what was created (links inferred from the
    document: schemathesis' dependency analysis), as the admin."""
    base_url = platform.urls[service]
    document = httpx.get(f"{base_url}/openapi.json", timeout=10).json()
    machine = schemathesis.openapi.from_dict(document).as_state_machine()
    headers = {"Authorization": f"Bearer {platform.tokens['admin']}"}

    with requests.Session() as session:

        class Chains(machine):  # type: ignore[misc,valid-type]
            def get_call_kwargs(self, case: Any) -> dict[str, Any]:
                return {"base_url": base_url, "headers": headers, "session": session}

            def validate_response(self, response: Any, case: Any, *_: Any, **__: Any) -> None:
                case.validate_response(response, checks=CHECKS)

        Chains.run(
            settings=settings(
                SETTINGS, max_examples=max(EXAMPLES, 2), stateful_step_count=4 if not DEEP else 10
            )
        )
