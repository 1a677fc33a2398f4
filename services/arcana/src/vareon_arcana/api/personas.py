"""Personas over HTTP: create, list, read, edit (a new version), versions, delete, and start
a chat session with one."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Response, status
from vareon_chassis.db import SessionDep
from vareon_chassis.errors import problem_response
from vareon_chassis.pagination import Cursor, PageSize

from vareon_arcana import personas
from vareon_arcana.api.deps import CallerDep
from vareon_arcana.calls import Caller
from vareon_arcana.persona_schemas import (
    PersonaCreate,
    PersonaOut,
    PersonaPage,
    PersonaPatch,
    PersonaSessionCreate,
    PersonaSessionOut,
    PersonaVersionOut,
    PersonaVersionPage,
)

router = APIRouter(prefix="/api/v1/arcana/personas", tags=["personas"])
TAKEN: dict[int | str, dict[str, Any]] = {
    409: problem_response("The slug is already one of yours, or already shared")
}


def render(caller: Caller, view: personas.View) -> PersonaOut:
    p, v = view.persona, view.current
    return PersonaOut(
        id=p.id,
        slug=p.slug,
        visibility=p.visibility,
        owner_id=p.owner_id,
        mine=p.owner_id == caller.user_id,
        version=v.version,
        name=v.name,
        description=v.description,
        system_prompt=v.system_prompt,
        category=v.category,
        model=v.model,
        temperature=v.temperature,
        max_tokens=v.max_tokens,
        starters=list(v.starters),
        created_at=p.created_at,
        updated_at=p.updated_at,
    )


@router.post("", status_code=status.HTTP_201_CREATED, response_model=PersonaOut, responses=TAKEN)
async def create_persona(body: PersonaCreate, caller: CallerDep, db: SessionDep) -> PersonaOut:
    """A shared persona (visible to every user) needs ``personas:share``."""
    fields = body.model_dump(exclude={"slug", "visibility"})
    view = await personas.create(
        db, caller, slug=body.slug, visibility=body.visibility, fields=fields
    )
    return render(caller, view)


@router.get("", response_model=PersonaPage)
async def list_personas(
    caller: CallerDep,
    db: SessionDep,
    limit: PageSize = 20,
    cursor: Cursor = None,
    mine: bool = False,
) -> PersonaPage:
    """The caller's own personas and the shared ones, newest first (``mine``: own only)."""
    views, next_cursor = await personas.page(db, caller, limit=limit, cursor=cursor, mine=mine)
    return PersonaPage(items=[render(caller, v) for v in views], next_cursor=next_cursor)


@router.get("/{persona_id}", response_model=PersonaOut)
async def get_persona(persona_id: uuid.UUID, caller: CallerDep, db: SessionDep) -> PersonaOut:
    return render(caller, await personas.visible(db, caller, persona_id))


@router.patch("/{persona_id}", response_model=PersonaOut, responses=TAKEN)
async def update_persona(
    persona_id: uuid.UUID, body: PersonaPatch, caller: CallerDep, db: SessionDep
) -> PersonaOut:
    """Owner only. A change to a versioned field adds a version; sessions keep theirs."""
    view = await personas.update(
        db,
        caller,
        persona_id,
        slug=body.slug,
        visibility=body.visibility,
        changes=body.version_changes(),
    )
    return render(caller, view)


@router.get("/{persona_id}/versions", response_model=PersonaVersionPage)
async def persona_versions(
    persona_id: uuid.UUID, caller: CallerDep, db: SessionDep
) -> PersonaVersionPage:
    """Every version, newest first."""
    rows = await personas.versions(db, caller, persona_id)
    return PersonaVersionPage(items=[PersonaVersionOut.model_validate(r) for r in rows])


@router.delete("/{persona_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_persona(persona_id: uuid.UUID, caller: CallerDep, db: SessionDep) -> Response:
    """Owner only; sessions made with it go on as plain sessions of its category."""
    await personas.remove(db, caller, persona_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{persona_id}/sessions",
    status_code=status.HTTP_201_CREATED,
    response_model=PersonaSessionOut,
    responses={409: problem_response("The Idempotency-Key started a chat with another persona")},
)
async def start_session(
    persona_id: uuid.UUID,
    body: PersonaSessionCreate,
    caller: CallerDep,
    db: SessionDep,
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=200)] = None,
) -> PersonaSessionOut:
    """A chat session answering as the persona's current version (recorded with the session):
    send messages to ``/sessions/{session_id}/messages`` as to any session. The dashboard's
    quick action "start a chat with persona X": with an ``Idempotency-Key`` a retry gets the
    same session back."""
    view = await personas.visible(db, caller, persona_id)
    chat, version = await personas.start_session(
        db, caller, view, title=body.title, idempotency_key=idempotency_key
    )
    return PersonaSessionOut(
        session_id=chat.id,
        persona_id=view.persona.id,
        version=version,
        category=chat.category,
        title=chat.title,
        starters=list(view.current.starters),
    )
