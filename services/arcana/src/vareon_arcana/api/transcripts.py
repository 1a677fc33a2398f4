"""Exporting a chat session (JSON or Markdown) and importing a JSON export."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from fastapi import APIRouter, Response, status
from vareon_chassis.auth import CurrentUser
from vareon_chassis.db import SessionDep

from vareon_arcana import sessions, transcripts
from vareon_arcana.schemas import SessionOut
from vareon_arcana.transcript_schemas import Transcript

router = APIRouter(prefix="/api/v1/arcana/sessions", tags=["arcana"])


@router.get(
    "/{session_id}/export",
    response_model=Transcript,
    responses={200: {"content": {"text/markdown": {}}}},
)
async def export_session(
    session_id: uuid.UUID,
    user: CurrentUser,
    db: SessionDep,
    format: Literal["json", "markdown"] = "json",
    tree: bool = False,
) -> Any:
    """The active branch (``tree=true``: every branch) with each answer's receipt."""
    owned = await sessions.owned(db, user.id, session_id)
    transcript = await transcripts.export(db, owned, tree=tree)
    if format == "markdown":
        return Response(transcripts.markdown(transcript), media_type="text/markdown")
    return transcript


@router.post("/import", status_code=status.HTTP_201_CREATED, response_model=SessionOut)
async def import_session(body: Transcript, user: CurrentUser, db: SessionDep) -> Any:
    """A JSON export as a new session of yours (new ids; nothing is charged)."""
    return await transcripts.import_(db, user.id, body)
