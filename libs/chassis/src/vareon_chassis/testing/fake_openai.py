"""A local OpenAI-compatible server speaking the chat-completions wire format.

The model name picks the behaviour, so one server serves every test: ``Behaviour`` says what
a model does (answer, 429 with Retry-After, 500, stall, die after some chunks, answer slowly,
call tools).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

PROMPT_TOKENS = 100


@dataclass
class Behaviour:
    kind: str = "answer"
    """answer | rate-limit | error | stall | die | malformed (a chunk whose choices are null
    after ``die_after`` words: the SDK path raises something that is not an HTTP error)"""
    words: list[str] = field(default_factory=lambda: [f"w{i}" for i in range(10)])
    retry_after: float | None = None
    die_after: int = 3
    delay_s: float = 0.0
    """Pause between chunks."""
    times: int | None = None
    """Misbehave this many times, then answer."""
    raw: bool = False
    """Send the words as they are (no space between them)."""
    replies: list[str] | None = None
    """Answer these texts (the nth call the nth, then the last again), in chunks of 8 chars."""
    tool_calls: list[tuple[str, str]] = field(default_factory=list)
    """Answer with these (function name, arguments JSON) tool calls instead of words,
    streamed as OpenAI streams them: id and name first, arguments in 8-char fragments."""


@dataclass
class Stream:
    model: str
    sent: int = 0
    finished: bool = False
    cancelled: bool = False


class FakeOpenAI:
    def __init__(self) -> None:
        self.behaviours: dict[str, Behaviour] = {}
        self.calls: list[str] = []
        self.requests: list[dict[str, Any]] = []
        self.streams: list[Stream] = []
        self.app = Starlette(
            routes=[
                Route("/v1/chat/completions", self.completions, methods=["POST"]),
                Route("/v1/models", self.models, methods=["GET"]),
            ]
        )

    def behave(self, model: str, **kwargs: Any) -> str:
        self.behaviours[model] = Behaviour(**kwargs)
        return model

    async def models(self, request: Request) -> Response:
        """The models given a behaviour, in OpenAI's list shape (``models.list()``)."""
        data = [
            {"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in self.behaviours
        ]
        return JSONResponse({"object": "list", "data": data})

    async def completions(self, request: Request) -> Response:
        body = await request.json()
        model = body["model"]
        self.calls.append(model)
        self.requests.append(body)
        b = self.behaviours.get(model, Behaviour())
        if b.replies:
            reply = b.replies[min(self.calls.count(model), len(b.replies)) - 1]
            pieces = [reply[i : i + 8] for i in range(0, len(reply), 8)]
            b = Behaviour(words=pieces, raw=True)
        misbehave = b.times is None or self.calls.count(model) <= b.times
        if misbehave and b.kind == "rate-limit":
            headers = {"retry-after": str(b.retry_after)} if b.retry_after is not None else {}
            return JSONResponse(
                {"error": {"message": "slow down", "type": "rate_limit"}},
                status_code=429,
                headers=headers,
            )
        if misbehave and b.kind == "error":
            return JSONResponse(
                {"error": {"message": "boom", "type": "server_error"}}, status_code=500
            )
        if misbehave and b.kind == "stall":
            await asyncio.sleep(4)  # past the client timeout, short enough for shutdown
        assert body.get("stream") is True and body["stream_options"] == {"include_usage": True}
        stream = Stream(model)
        self.streams.append(stream)
        dies = misbehave and b.kind == "die"
        return StreamingResponse(self._chunks(stream, b, dies), media_type="text/event-stream")

    async def _chunks(self, stream: Stream, b: Behaviour, dies: bool) -> AsyncIterator[str]:
        def frame(choices: list[Any] | None, usage: Any = None) -> str:
            chunk = {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": stream.model,
                "choices": choices,
                "usage": usage,
            }
            return f"data: {json.dumps(chunk)}\n\n"

        malformed = b.kind == "malformed" and (
            b.times is None or self.calls.count(stream.model) <= b.times
        )
        if b.tool_calls:
            for frame_text in self._tool_calls(frame, b.tool_calls):
                yield frame_text
            stream.finished = True
            return
        try:
            for i, word in enumerate(b.words):
                if malformed and i == b.die_after:
                    yield frame(None)
                if dies and i == b.die_after:
                    raise RuntimeError("the fake provider died mid-stream")
                text = word if i == 0 or b.raw else " " + word
                yield frame(
                    [
                        {
                            "index": 0,
                            "delta": {"role": "assistant", "content": text},
                            "finish_reason": None,
                        }
                    ]
                )
                stream.sent += 1
                if b.delay_s:
                    await asyncio.sleep(b.delay_s)
            yield frame([{"index": 0, "delta": {}, "finish_reason": "stop"}])
            yield frame(
                [],
                {
                    "prompt_tokens": PROMPT_TOKENS,
                    "completion_tokens": len(b.words),
                    "total_tokens": PROMPT_TOKENS + len(b.words),
                },
            )
            yield "data: [DONE]\n\n"
            stream.finished = True
        except (asyncio.CancelledError, GeneratorExit):
            stream.cancelled = True
            raise

    def _tool_calls(self, frame: Any, calls: list[tuple[str, str]]) -> list[str]:
        def delta(piece: dict[str, Any]) -> str:
            return frame([{"index": 0, "delta": piece, "logprobs": None, "finish_reason": None}])

        frames, sent = [], 0
        for i, (name, arguments) in enumerate(calls):
            named = {
                "index": i,
                "id": f"call_{len(self.calls)}_{i}",
                "type": "function",
                "function": {"name": name, "arguments": ""},
            }
            head: dict[str, Any] = {"tool_calls": [named]}
            if i == 0:
                head = {"role": "assistant", "content": None, **head, "refusal": None}
            frames.append(delta(head))
            for at in range(0, len(arguments), 8):
                fragment = {"index": i, "function": {"arguments": arguments[at : at + 8]}}
                frames.append(delta({"tool_calls": [fragment]}))
                sent += 1
        frames.append(frame([{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]))
        usage = {
            "prompt_tokens": PROMPT_TOKENS,
            "completion_tokens": sent,
            "total_tokens": PROMPT_TOKENS + sent,
        }
        frames += [frame([], usage), "data: [DONE]\n\n"]
        return frames
