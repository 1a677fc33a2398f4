"""Chat sessions over HTTP: create, list, read, annotate, delete, and send a message."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Response, status
from vareon_chassis.auth import CurrentUser
from vareon_chassis.db import SessionDep
from vareon_chassis.pagination import Cursor, PageSize

from vareon_arcana import chat, sessions, titles
from vareon_arcana.api.deps import CallerDep, CallsDep, LiveDep
from vareon_arcana.api.replies import PAID_TURN, replied
from vareon_arcana.schemas import (
    MessageCreate,
    MessageOut,
    MessagePage,
    NotesUpdate,
    ReplyOut,
    SessionCreate,
    SessionOut,
    SessionPage,
    TitleUpdate,
)

router = APIRouter(prefix="/api/v1/arcana", tags=["arcana"])


@router.post("/sessions", status_code=status.HTTP_201_CREATED, response_model=SessionOut)
async def create_session(body: SessionCreate, user: CurrentUser, db: SessionDep) -> Any:
    return await sessions.create(
        db,
        user.id,
        title=body.title or titles.DEFAULT,
        category=body.category,
        language=body.language,
        titled=body.title is not None,
    )


@router.get("/sessions", response_model=SessionPage)
async def list_sessions(
    user: CurrentUser, db: SessionDep, limit: PageSize = 20, cursor: Cursor = None
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
    limit: PageSize = 50,
    cursor: Cursor = None,
) -> Any:
    owned = await sessions.owned(db, user.id, session_id)
    items, next_cursor = await sessions.history(db, owned, limit=limit, cursor=cursor)
    return {"items": [MessageOut.model_validate(m) for m in items], "next_cursor": next_cursor}


@router.put("/sessions/{session_id}/title", response_model=SessionOut)
async def put_title(
    session_id: uuid.UUID, body: TitleUpdate, user: CurrentUser, db: SessionDep
) -> Any:
    """Your title: the session is never renamed after it."""
    owned = await sessions.owned(db, user.id, session_id, for_update=True)
    return await sessions.set_title(db, owned, body.title)


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


@router.post(
    "/sessions/{session_id}/messages",
    response_model=ReplyOut,
    responses={200: {"content": {"text/event-stream": {}}}, **PAID_TURN},
)
async def send_message(
    session_id: uuid.UUID, body: MessageCreate, caller: CallerDep, calls: CallsDep, live: LiveDep
) -> Any:
    """A new question after the current leaf. Streamed, the reply outlives the request: the
    ``X-Vareon-Message-Id`` header names it for ``GET .../messages/{id}/stream``."""
    stream = await chat.send(
        calls, caller, session_id=session_id, content=body.content, max_tokens=body.max_tokens
    )
    return await replied(stream, body.stream, calls, live, caller)
