"""Sessionless chat over HTTP: a one-shot question, the free demo, and arcana's status."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response, status
from vareon_chassis.auth import CurrentUser
from vareon_chassis.db import SessionDep
from vareon_chassis.errors import problem_response

from vareon_arcana import credits, memory, replicas, sessions
from vareon_arcana.api.deps import CallerDep, CallsDep
from vareon_arcana.api.replies import PAID_TURN, reply_out
from vareon_arcana.calls import Caller
from vareon_arcana.errors import TooManyRequests
from vareon_arcana.schemas import ChatRequest, ReplyOut, StatusOut

router = APIRouter(prefix="/api/v1/arcana", tags=["arcana"])


@router.delete("/chat", status_code=status.HTTP_204_NO_CONTENT)
async def delete_all_sessions(user: CurrentUser, db: SessionDep) -> Response:
    await sessions.remove_all(db, user.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/chat", response_model=ReplyOut, responses=PAID_TURN)
async def one_shot(body: ChatRequest, caller: CallerDep, calls: CallsDep) -> Any:
    """A single question without a session: nothing but the usage record is kept."""
    messages = [
        {"role": "system", "content": memory.SYSTEM},
        {"role": "user", "content": body.message},
    ]
    options = calls.options(body.max_tokens)
    return reply_out(await calls.ask(caller, messages, category=body.category, options=options))


@router.post(
    "/chat/demo",
    response_model=ReplyOut,
    responses={429: problem_response("Demo rate limit; see Retry-After")},
)
async def demo(body: ChatRequest, request: Request, calls: CallsDep) -> Any:
    """No account needed: the offline model answers, nothing is charged or stored."""
    client = request.client.host if request.client else "unknown"
    wait = request.app.state.demo_limiter.retry_after(client)
    if wait is not None:
        raise TooManyRequests(wait)
    messages = [{"role": "user", "content": body.message}]
    options = calls.options(min(body.max_tokens or 256, 256))
    return reply_out(await calls.complete(calls.offline(Caller.anonymous(), messages, options)))


@router.get("/status", response_model=StatusOut)
async def arcana_status(
    user: CurrentUser, db: SessionDep, request: Request, calls: CallsDep
) -> Any:
    available, spendable = await credits.balance_of(db, user.id)
    return StatusOut(
        service=calls.settings.service_name,
        version=request.app.version,
        rules=await replicas.rule_count(db),
        providers=calls.configured_providers(),
        balance=None if available is None else {"available": available, "spendable": spendable},
    )
