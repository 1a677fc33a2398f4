"""Cognisys's HTTP routes, at the same paths as the public API (the gateway forwards as is).

Reads need any signed-in user; changes need the permission ``routing:write``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal
from uuid import UUID

import vareon_routing as routing
from fastapi import APIRouter, Response, status
from vareon_chassis.auth import CurrentUser, Principal, require_permission
from vareon_chassis.db import SessionDep
from vareon_chassis.errors import problem_response
from vareon_chassis.pagination import Cursor, PageSize

from vareon_cognisys import dryrun, service
from vareon_cognisys.models import RoutingRule
from vareon_cognisys.schemas import (
    CognisysSummary,
    DryRunIn,
    DryRunOut,
    EvaluateIn,
    Evaluation,
    PassedOver,
    ReasonOut,
    RuleIn,
    RuleOut,
    RulePage,
    RulePatch,
    RuleRef,
)
from vareon_cognisys.summary import summary as summary_of

WRITE = "routing:write"

router = APIRouter(prefix="/api/v1/cognisys", tags=["cognisys"])
Writer = Annotated[Principal, require_permission(WRITE)]


@router.get("/routing-rules", response_model=RulePage)
async def list_rules(
    session: SessionDep,
    _: CurrentUser,
    limit: PageSize = 50,
    cursor: Cursor = None,
) -> RulePage:
    rows, next_cursor = await service.list_rules(session, limit=limit, cursor=cursor)
    return RulePage(items=[RuleOut.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.post("/routing-rules", response_model=RuleOut, status_code=status.HTTP_201_CREATED)
async def create_rule(body: RuleIn, session: SessionDep, _: Writer) -> RoutingRule:
    return await service.create_rule(session, body)


@router.get("/routing-rules/{rule_id}", response_model=RuleOut)
async def get_rule(rule_id: UUID, session: SessionDep, _: CurrentUser) -> RoutingRule:
    return await service.get_rule(session, rule_id)


@router.put("/routing-rules/{rule_id}", response_model=RuleOut)
async def replace_rule(rule_id: UUID, body: RuleIn, session: SessionDep, _: Writer) -> RoutingRule:
    return await service.replace_rule(session, rule_id, body)


@router.patch("/routing-rules/{rule_id}", response_model=RuleOut)
async def update_rule(
    rule_id: UUID, body: RulePatch, session: SessionDep, _: Writer
) -> RoutingRule:
    return await service.update_rule(session, rule_id, body.changes())


@router.delete(
    "/routing-rules/{rule_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={409: problem_response("The default rule is never deleted")},
)
async def delete_rule(rule_id: UUID, session: SessionDep, _: Writer) -> Response:
    await service.delete_rule(session, rule_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/routing-rules/dry-run", response_model=DryRunOut)
async def dry_run(body: DryRunIn, session: SessionDep, _: Writer) -> DryRunOut:
    """Proposed rule changes replayed over recorded traffic; nothing is changed.

    Each call arcana routed in the window is routed again under today's rules and under the
    rules as the changes would leave them: what moves, what it would cost at the targets'
    prices, the fallbacks to expect and the calls no rule takes. Needs ``routing:write``:
    the answer is about every user's traffic.
    """
    return await dryrun.dry_run(session, body)


@router.post(
    "/routing/evaluate",
    response_model=Evaluation,
    responses={409: problem_response("No enabled rule matches (not even a default)")},
)
async def evaluate(body: EvaluateIn, session: SessionDep, user: CurrentUser) -> Evaluation:
    """Dry run: the rule and targets this request would be routed to, and why."""
    # Chosen roles are a rule author's what-if; anyone else would probe other users' routes.
    chosen = body.roles is not None and user.has(WRITE)
    roles = body.roles if chosen and body.roles is not None else list(user.roles)
    now = body.now or datetime.now(UTC)
    request = routing.RoutingRequest(
        category=body.category, roles=frozenset(roles), text=body.text, now=now
    )
    decision = await service.evaluate(session, request)
    return Evaluation(
        rule=_ref(decision.rule),
        targets=list(decision.targets),
        used_default=decision.used_default,
        reasons=_reasons(decision.match),
        passed_over=[
            PassedOver(rule=_ref(r), reasons=_reasons(m)) for r, m in decision.passed_over
        ],
        timed_out=any(m.timed_out for _, m in decision.passed_over),
        category=body.category,
        roles=sorted(roles),
        now=now,
    )


def _ref(rule: routing.RoutingRule) -> RuleRef:
    return RuleRef(
        id=rule.rule_id,
        name=rule.name,
        priority=rule.priority,
        is_default=rule.is_default,
        revision=rule.revision,
    )


def _reasons(match: routing.Match) -> list[ReasonOut]:
    return [ReasonOut(condition=r.condition, held=r.held, detail=r.detail) for r in match.reasons]


@router.get("/summary", response_model=CognisysSummary, tags=["dashboard"])
async def summary(
    user: CurrentUser, db: SessionDep, scope: Literal["user", "platform"] = "user"
) -> CognisysSummary:
    """Rules are everyone's to read; the traffic sample's size is for system:read."""
    return await summary_of(db, user, scope)
