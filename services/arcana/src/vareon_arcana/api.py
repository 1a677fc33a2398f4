"""Arcana's HTTP routes, at the public paths (the gateway forwards them as they are)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import StreamingResponse
from sqlalchemy import func, select
from starlette.requests import HTTPConnection
from vareon_chassis.auth import CurrentUser, Principal
from vareon_chassis.context import request_id_var
from vareon_chassis.db import SessionDep
from vareon_chassis.errors import problem_response
from vareon_chassis.pagination import Cursor

from vareon_arcana import chat, credits, sessions
from vareon_arcana.errors import ModelsUnavailable, TooManyRequests
from vareon_arcana.models import RoutingRuleReplica
from vareon_arcana.providers import OFFLINE
from vareon_arcana.schemas import (
    ChatRequest,
    MessageCreate,
    MessageOut,
    MessagePage,
    NotesUpdate,
    ReceiptOut,
    ReplyOut,
    SessionCreate,
    SessionOut,
    SessionPage,
    StatusOut,
)
from vareon_arcana.settings import ArcanaSettings

router = APIRouter(prefix="/api/v1/arcana", tags=["arcana"])
Limit = Annotated[int, Query(ge=1, le=100)]
PAID_TURN: dict[int | str, dict[str, Any]] = {
    402: problem_response("The balance cannot cover the call"),
    503: problem_response("No model could answer; see Retry-After"),
}


@router.post("/sessions", status_code=status.HTTP_201_CREATED, response_model=SessionOut)
async def create_session(body: SessionCreate, user: CurrentUser, db: SessionDep) -> Any:
    return await sessions.create(db, user.id, title=body.title, category=body.category)


@router.get("/sessions", response_model=SessionPage)
async def list_sessions(
    user: CurrentUser, db: SessionDep, limit: Limit = 20, cursor: Cursor = None
) -> Any:
    items, next_cursor = await sessions.page(db, user.id, limit=limit, cursor=cursor)
    return {"items": items, "next_cursor": next_cursor}


@router.get("/sessions/{session_id}", response_model=SessionOut)
async def get_session(session_id: uuid.UUID, user: CurrentUser, db: SessionDep) -> Any:
    return await sessions.owned(db, user.id, session_id)


@router.get("/sessions/{session_id}/history", response_model=MessagePage)
async def session_history(
    session_id: uuid.UUID,
    user: CurrentUser,
    db: SessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Any:
    owned = await sessions.owned(db, user.id, session_id)
    items, next_cursor = await sessions.history(db, owned, limit=limit, cursor=cursor)
    return {"items": [MessageOut.model_validate(m) for m in items], "next_cursor": next_cursor}


@router.put("/sessions/{session_id}/notes", response_model=SessionOut)
async def put_notes(
    session_id: uuid.UUID, body: NotesUpdate, user: CurrentUser, db: SessionDep
) -> Any:
    owned = await sessions.owned(db, user.id, session_id, for_update=True)
    return await sessions.set_notes(db, owned, body.notes)


@router.delete("/sessions/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_session(session_id: uuid.UUID, user: CurrentUser, db: SessionDep) -> Response:
    await sessions.remove(db, await sessions.owned(db, user.id, session_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/chat", status_code=status.HTTP_204_NO_CONTENT)
async def delete_all_sessions(user: CurrentUser, db: SessionDep) -> Response:
    await sessions.remove_all(db, user.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _frame(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def receipt_of(end: chat.End) -> dict[str, Any] | None:
    if end.receipt is None:
        return None
    return ReceiptOut(**vars(end.receipt)).model_dump(mode="json")


async def start_call(
    request: HTTPConnection, turn: chat.Turn, *, store_reply: bool = True
) -> tuple[chat.Call, str | chat.End]:
    state = request.app.state
    settings: ArcanaSettings = state.settings
    turn.request_id = request_id_var.get()
    call = chat.Call(
        turn,
        state.providers,
        state.sessionmaker,
        settings.retry_after_cap_s,
        store_reply=store_reply,
        reservation_ttl_s=settings.reservation_ttl_s,
    ).start(state.calls)
    first = await call.next()
    if isinstance(first, chat.End) and first.status == "unanswered":
        raise ModelsUnavailable(f"no model could answer: {first.error}")
    return call, first


async def collect(call: chat.Call, first: str | chat.End, rule: str | None) -> ReplyOut:
    parts: list[str] = []
    item = first
    while not isinstance(item, chat.End):
        parts.append(item)
        item = await call.next()
    receipt = receipt_of(item)
    return ReplyOut(
        content="".join(parts),
        status=item.status,
        rule=rule,
        error=item.error,
        receipt=ReceiptOut(**receipt) if receipt else None,
    )


async def _events(call: chat.Call, first: str | chat.End) -> AsyncIterator[str]:
    item = first
    try:
        while not isinstance(item, chat.End):
            yield _frame("chunk", {"delta": item})
            item = await call.next()
        if item.status == "completed":
            yield _frame("done", {"status": item.status, "receipt": receipt_of(item)})
        else:
            yield _frame(
                "error", {"status": item.status, "detail": item.error, "receipt": receipt_of(item)}
            )
    finally:
        if not call.ended:
            call.stop()


@router.post(
    "/sessions/{session_id}/messages",
    response_model=ReplyOut,
    responses={200: {"content": {"text/event-stream": {}}}, **PAID_TURN},
)
async def send_message(
    session_id: uuid.UUID, body: MessageCreate, user: CurrentUser, request: Request
) -> Any:
    state = request.app.state
    settings: ArcanaSettings = state.settings
    async with state.sessionmaker.begin() as db:
        turn = await chat.prepare(
            db,
            settings,
            state.providers,
            user_id=user.id,
            roles=frozenset(user.roles),
            email_verified=user.email_verified,
            session_id=session_id,
            content=body.content,
            max_tokens=body.max_tokens or settings.max_output_tokens,
        )
    call, first = await start_call(request, turn)
    if not body.stream:
        return await collect(call, first, turn.route.rule)
    return StreamingResponse(
        _events(call, first),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def ask_once(
    request: Request,
    user: Principal,
    messages: list[dict[str, str]],
    *,
    category: str | None,
    max_tokens: int | None,
    json_mode: bool = False,
) -> ReplyOut:
    """One sessionless call: routed, admitted, answered with fallback, metered like chat."""
    state = request.app.state
    settings: ArcanaSettings = state.settings
    async with state.sessionmaker.begin() as db:
        turn = await chat.admit(
            db,
            settings,
            state.providers,
            user_id=user.id,
            roles=frozenset(user.roles),
            email_verified=user.email_verified,
            category=category,
            messages=messages,
            max_tokens=max_tokens or settings.max_output_tokens,
            session_id=None,
        )
    turn.json_mode = json_mode
    call, first = await start_call(request, turn, store_reply=False)
    return await collect(call, first, turn.route.rule)


@router.post("/chat", response_model=ReplyOut, responses=PAID_TURN)
async def one_shot(body: ChatRequest, user: CurrentUser, request: Request) -> Any:
    """A single question without a session: nothing but the usage record is kept."""
    messages = [
        {"role": "system", "content": chat.memory.SYSTEM},
        {"role": "user", "content": body.message},
    ]
    return await ask_once(
        request, user, messages, category=body.category, max_tokens=body.max_tokens
    )


@router.post(
    "/chat/demo",
    response_model=ReplyOut,
    responses={429: problem_response("Demo rate limit; see Retry-After")},
)
async def demo(body: ChatRequest, request: Request) -> Any:
    """No account needed: the offline model answers, nothing is charged or stored."""
    client = request.client.host if request.client else "unknown"
    wait = request.app.state.demo_limiter.retry_after(client)
    if wait is not None:
        raise TooManyRequests(wait)
    messages = [{"role": "user", "content": body.message}]
    turn = chat.Turn(
        uuid.UUID(int=0),
        None,
        messages,
        chat.Route(None, [OFFLINE]),
        min(body.max_tokens or 256, 256),
        0,
        None,
    )
    call, first = await start_call(request, turn, store_reply=False)
    return await collect(call, first, None)


@router.get("/status", response_model=StatusOut)
async def arcana_status(user: CurrentUser, db: SessionDep, request: Request) -> Any:
    settings: ArcanaSettings = request.app.state.settings
    rules = await db.scalar(
        select(func.count())
        .select_from(RoutingRuleReplica)
        .where(RoutingRuleReplica.deleted.is_(False))
    )
    available, spendable = await credits.balance_of(db, user.id)
    providers = request.app.state.providers
    return StatusOut(
        service=settings.service_name,
        version=request.app.version,
        rules=rules or 0,
        providers={name: providers.configured(name) for name in settings.providers},
        balance=None if available is None else {"available": available, "spendable": spendable},
    )
