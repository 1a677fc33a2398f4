"""Searching your own messages over HTTP."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from vareon_chassis.auth import CurrentUser
from vareon_chassis.db import SessionDep
from vareon_chassis.pagination import Cursor, PageSize

from vareon_arcana import search
from vareon_arcana.schemas import SearchHit, SearchPage

router = APIRouter(prefix="/api/v1/arcana", tags=["arcana"])
Q = Annotated[
    str,
    Query(
        min_length=1,
        max_length=500,
        description='Words, "a phrase", or, -word (websearch syntax); word* is a prefix.',
    ),
]


@router.get("/search", response_model=SearchPage)
async def search_messages(
    q: Q, user: CurrentUser, db: SessionDep, limit: PageSize = 20, cursor: Cursor = None
) -> Any:
    """Your messages matching ``q``, best first, with highlighted snippets."""
    hits, next_cursor = await search.find(db, user.id, q, limit=limit, cursor=cursor)
    return {"items": [SearchHit(**vars(h)) for h in hits], "next_cursor": next_cursor}
