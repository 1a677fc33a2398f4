"""Rendering a call's reply: as JSON, or as server-sent events while it streams."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi.responses import StreamingResponse
from vareon_chassis.errors import problem_response

from vareon_arcana.calls import End, Reply, Stream
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


def _frame(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


async def _events(stream: Stream) -> AsyncIterator[str]:
    try:
        async for item in stream:
            if not isinstance(item, End):
                yield _frame("chunk", {"delta": item})
            elif item.status == "completed":
                yield _frame("done", {"status": item.status, "receipt": receipt_of(item)})
            else:
                detail = {"status": item.status, "detail": item.error, "receipt": receipt_of(item)}
                yield _frame("error", detail)
    finally:
        stream.close()


def event_stream(stream: Stream) -> StreamingResponse:
    """``event: chunk`` ``{"delta"}`` ..., then ``done`` or ``error`` with the receipt."""
    return StreamingResponse(
        _events(stream),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
