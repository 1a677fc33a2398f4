"""A session's message tree over HTTP: the active branch, the whole tree, switching branches,
editing a question, regenerating an answer; following, resuming and cancelling a reply."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Response, status
from vareon_chassis.db import SessionDep
from vareon_chassis.errors import problem_response

from vareon_arcana import branches, chat, feedback, sessions
from vareon_arcana import live as live_replies
from vareon_arcana.api.deps import CallerDep, CallsDep, LiveDep
from vareon_arcana.api.replies import (
    PAID_TURN,
    live_stream,
    replied,
    stored_end,
    stored_stream,
)
from vareon_arcana.errors import MessageNotFound
from vareon_arcana.schemas import (
    BranchOut,
    CurrentUpdate,
    FeedbackUpdate,
    MessageCreate,
    MessageOut,
    PlacedMessageOut,
    ReceiptOut,
    RegenerateCreate,
    ReplyOut,
)

router = APIRouter(prefix="/api/v1/arcana/sessions/{session_id}", tags=["arcana"])
LastEventId = Annotated[
    int,
    Header(
        alias="Last-Event-ID",
        ge=0,
        le=10_000_000,
        description="The id of the last event received: the stream resumes after it.",
    ),
]


def _branch_out(current_id: uuid.UUID | None, placed: list[branches.Placed]) -> BranchOut:
    items = [
        PlacedMessageOut.model_validate(
            {
                **vars(p.message),
                "siblings": p.siblings,
                "sibling_index": p.sibling_index,
            }
        )
        for p in placed
    ]
    return BranchOut(current_id=current_id, items=items)


@router.get("/messages", response_model=BranchOut)
async def active_branch(session_id: uuid.UUID, caller: CallerDep, db: SessionDep) -> Any:
    """The active branch, first message to current leaf, with each message's sibling count."""
    owned = await sessions.owned(db, caller.user_id, session_id)
    path = await branches.active(db, owned)
    return _branch_out(owned.current_id, await branches.placed(db, owned.id, path))


@router.get("/tree", response_model=BranchOut)
async def whole_tree(session_id: uuid.UUID, caller: CallerDep, db: SessionDep) -> Any:
    """Every message, oldest first; ``parent_id`` links them."""
    owned = await sessions.owned(db, caller.user_id, session_id)
    return _branch_out(owned.current_id, await branches.tree(db, owned))


@router.put("/current", response_model=BranchOut)
async def switch_branch(
    session_id: uuid.UUID, body: CurrentUpdate, caller: CallerDep, db: SessionDep
) -> Any:
    """Make the branch through ``message_id`` active (down to its newest leaf)."""
    owned = await sessions.owned(db, caller.user_id, session_id, for_update=True)
    path = await branches.switch(db, owned, body.message_id)
    return _branch_out(owned.current_id, await branches.placed(db, owned.id, path))


@router.post(
    "/messages/{message_id}/edit",
    response_model=ReplyOut,
    responses={200: {"content": {"text/event-stream": {}}}, **PAID_TURN},
)
async def edit_message(
    session_id: uuid.UUID,
    message_id: uuid.UUID,
    body: MessageCreate,
    caller: CallerDep,
    calls: CallsDep,
    live: LiveDep,
) -> Any:
    """Ask ``message_id`` (a question) differently: a sibling question and a fresh reply."""
    stream = await chat.edit(
        calls,
        caller,
        session_id=session_id,
        message_id=message_id,
        content=body.content,
        max_tokens=body.max_tokens,
    )
    return await replied(stream, body.stream, calls, live, caller)


@router.post(
    "/messages/{message_id}/regenerate",
    response_model=ReplyOut,
    responses={200: {"content": {"text/event-stream": {}}}, **PAID_TURN},
)
async def regenerate_message(
    session_id: uuid.UUID,
    message_id: uuid.UUID,
    body: RegenerateCreate,
    caller: CallerDep,
    calls: CallsDep,
    live: LiveDep,
) -> Any:
    """Answer again what ``message_id`` (an answer) answered, maybe with another model or
    persona: a sibling answer."""
    stream = await chat.regenerate(
        calls,
        caller,
        session_id=session_id,
        message_id=message_id,
        answering=chat.Answering(model=body.model, persona=body.persona),
        max_tokens=body.max_tokens,
    )
    return await replied(stream, body.stream, calls, live, caller)


@router.get(
    "/messages/{message_id}/stream",
    responses={
        200: {"content": {"text/event-stream": {}}},
        410: problem_response("Stopped after the grace period with nobody watching"),
    },
)
async def follow_reply(
    session_id: uuid.UUID,
    message_id: uuid.UUID,
    caller: CallerDep,
    db: SessionDep,
    live: LiveDep,
    last_event_id: LastEventId = 0,
) -> Any:
    """A reply's events after ``Last-Event-ID``: live while it runs (any number of watchers),
    replayed from the stored message once it ended; 410 reply-stream-expired when it was
    stopped because nobody watched it for the grace period."""
    owned = await sessions.owned(db, caller.user_id, session_id)
    running = live.get(message_id, caller.user_id)
    if running is not None:
        return live_stream(running, last_event_id)
    stored = live_replies.replayable(await branches.message(db, owned, message_id))
    return stored_stream(stored, last_event_id)


@router.post("/messages/{message_id}/cancel", response_model=ReceiptOut)
async def cancel_reply(
    session_id: uuid.UUID, message_id: uuid.UUID, caller: CallerDep, db: SessionDep, live: LiveDep
) -> Any:
    """Stop a running reply: what was produced is stored and charged (status ``cancelled``).
    A reply that already ended is left as it is; either way its receipt is returned."""
    owned = await sessions.owned(db, caller.user_id, session_id)
    running = live.get(message_id, caller.user_id)
    end = await running.cancel() if running is not None else None
    if end is None:
        end = stored_end(await branches.message(db, owned, message_id))
    if end.receipt is None:
        raise MessageNotFound(f"the reply {message_id} produced nothing")
    return ReceiptOut.of(end.receipt)


@router.put("/messages/{message_id}/feedback", response_model=MessageOut)
async def give_feedback(
    session_id: uuid.UUID,
    message_id: uuid.UUID,
    body: FeedbackUpdate,
    caller: CallerDep,
    db: SessionDep,
) -> Any:
    """Thumbs up or down on an answer, with an optional comment (replaces any earlier one)."""
    owned = await sessions.owned(db, caller.user_id, session_id)
    return await feedback.give(db, owned, message_id, body.rating, body.comment)


@router.delete("/messages/{message_id}/feedback", status_code=status.HTTP_204_NO_CONTENT)
async def clear_feedback(
    session_id: uuid.UUID, message_id: uuid.UUID, caller: CallerDep, db: SessionDep
) -> Response:
    owned = await sessions.owned(db, caller.user_id, session_id)
    await feedback.give(db, owned, message_id, None, None)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
