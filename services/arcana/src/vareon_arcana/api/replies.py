"""Rendering a call's reply: as JSON, or as server-sent events while it streams."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi.responses import StreamingResponse
from vareon_chassis.errors import problem_response

from vareon_arcana import titles
from vareon_arcana.calls import Caller, Calls, End, Receipt, Reply, Stream
from vareon_arcana.live import LiveReplies, LiveReply, Piece
from vareon_arcana.models import Message
from vareon_arcana.schemas import ReceiptOut, ReplyOut

PAID_TURN: dict[int | str, dict[str, Any]] = {
    402: problem_response("The balance cannot cover the call"),
    503: problem_response("No model could answer; see Retry-After"),
}


def receipt_of(end: End) -> dict[str, Any] | None:
    receipt = ReceiptOut.of(end.receipt)
    return None if receipt is None else receipt.model_dump(mode="json")


def reply_out(reply: Reply) -> ReplyOut:
    end = reply.end
    return ReplyOut(
        content=reply.text,
        status=end.status,
        rule=reply.rule,
        error=end.error,
        receipt=ReceiptOut.of(end.receipt),
    )


def _frame(event: str, data: dict[str, Any], event_id: int | None = None) -> str:
    head = "" if event_id is None else f"id: {event_id}\n"
    return f"{head}event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def _end_frame(item: End) -> str:
    if item.status == "completed":
        return _frame("done", {"status": item.status, "receipt": receipt_of(item)})
    detail = {"status": item.status, "detail": item.error, "receipt": receipt_of(item)}
    return _frame("error", detail)


async def _events(stream: Stream) -> AsyncIterator[str]:
    try:
        async for item in stream:
            yield _end_frame(item) if isinstance(item, End) else _frame("chunk", {"delta": item})
    finally:
        stream.close()


SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def event_stream(stream: Stream) -> StreamingResponse:
    """``event: chunk`` ``{"delta"}`` ..., then ``done`` or ``error`` with the receipt."""
    return StreamingResponse(_events(stream), media_type="text/event-stream", headers=SSE_HEADERS)


async def _watch(live: LiveReply, after: int) -> AsyncIterator[str]:
    live.attach()
    try:
        async for item in live.follow(after):
            if isinstance(item, Piece):
                yield _frame("chunk", {"delta": item.text}, item.end)
            else:
                yield _end_frame(item)
    finally:
        live.detach()


def live_stream(live: LiveReply, after: int = 0) -> StreamingResponse:
    """A live reply from offset ``after``: each chunk's ``id`` is the reply's length after
    it (send it back as ``Last-Event-ID``); the end has no id."""
    headers = {**SSE_HEADERS, "X-Vareon-Message-Id": str(live.message_id)}
    return StreamingResponse(_watch(live, after), media_type="text/event-stream", headers=headers)


def stored_end(message: Message) -> End:
    receipt = Receipt(
        message.id,
        message.usage_id,
        message.provider or "",
        message.model or "",
        message.tokens_in or 0,
        message.tokens_out or 0,
        message.cost or 0,
        message.status,
    )
    return End(message.status, receipt)


async def _replay(message: Message, after: int) -> AsyncIterator[str]:
    rest = message.content[after:]
    if rest:
        yield _frame("chunk", {"delta": rest}, len(message.content))
    yield _end_frame(stored_end(message))


def stored_stream(message: Message, after: int = 0) -> StreamingResponse:
    """A reply that already ended, replayed from its stored text after offset ``after``."""
    headers = {**SSE_HEADERS, "X-Vareon-Message-Id": str(message.id)}
    return StreamingResponse(
        _replay(message, after), media_type="text/event-stream", headers=headers
    )


async def replied(
    stream: Stream, streamed: bool, calls: Calls, live: LiveReplies, caller: Caller
) -> Any:
    """A chat reply as JSON (``streamed`` false) or as a live, resumable stream; once it is
    stored the session gets its title if it has none (in the background)."""

    async def after(end: End) -> None:
        titles.after_reply(calls, stream.turn, end)

    if not streamed:
        reply = await stream.collect()
        titles.after_reply(calls, stream.turn, reply.end)
        return reply_out(reply)
    return live_stream(live.start(stream, caller.user_id, after=after))
