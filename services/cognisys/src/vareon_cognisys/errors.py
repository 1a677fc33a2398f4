"""Cognisys's problem types (RFC 9457), rendered by the chassis."""

from __future__ import annotations

from collections.abc import Sequence

from vareon_chassis.errors import PROBLEM_BASE, Conflict, DomainError, NotFound


class RuleNotFound(NotFound):
    type = PROBLEM_BASE + "routing-rule-not-found"
    title = "Routing rule not found"


class DefaultRuleProtected(Conflict):
    type = PROBLEM_BASE + "default-rule-protected"
    title = "The default routing rule cannot be deleted"


class InvalidRoutingRule(DomainError):
    type = PROBLEM_BASE + "invalid-routing-rule"
    title = "Invalid routing rule"
    status = 422

    def __init__(self, errors: Sequence[str], loc: Sequence[str | int] | None = None) -> None:
        # Each error an object, as every problem's ``errors`` (the OpenAPI says so).
        where = {"loc": list(loc)} if loc is not None else {}
        super().__init__("; ".join(errors), errors=[{"msg": e, **where} for e in errors])


class NoRoutingRule(DomainError):
    type = PROBLEM_BASE + "no-routing-rule"
    title = "No routing rule matched"
    status = 409
