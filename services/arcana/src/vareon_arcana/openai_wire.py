"""OpenAI's chat-completions wire format: the request as OpenAI clients send it, and the
completion, chunks and model list as they expect them (docs/openai-api.md).

Unknown request fields are ignored, as OpenAI-compatible servers do (clients send ``seed``,
``top_p``, ``user``...); what is accepted but cannot be honoured is refused with a 400 naming
the parameter rather than silently dropped.
"""

from __future__ import annotations

import json
import os
import time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from vareon_chassis.errors import DomainError
from vareon_contracts.events.cognisys import ModelTarget

from vareon_arcana.calls import End

MAX_MESSAGES = 500
MAX_TEXT = 1_000_000
Text = Annotated[str, Field(max_length=MAX_TEXT)]


class UnsupportedParameter(DomainError):
    type = "https://vareon.dev/problems/unsupported-parameter"
    title = "Unsupported parameter"
    status = 400


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: str
    text: Text | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: Text | Annotated[list[ContentPart], Field(max_length=100)] | None = None
    name: Annotated[str, Field(max_length=100)] | None = None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")

    include_usage: bool = False


class ResponseFormat(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: Literal["text", "json_object", "json_schema"]


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: Annotated[str, Field(min_length=1, max_length=200)]
    messages: Annotated[list[ChatMessage], Field(min_length=1, max_length=MAX_MESSAGES)]
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    max_tokens: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    max_completion_tokens: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    stop: (
        Annotated[str, Field(max_length=200)]
        | Annotated[list[Annotated[str, Field(max_length=200)]], Field(max_length=4)]
        | None
    ) = None
    n: Annotated[int, Field(ge=1, le=128)] | None = None
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    response_format: ResponseFormat | None = None
    tools: Annotated[list[dict[str, Any]], Field(max_length=128)] | None = None
    tool_choice: str | dict[str, Any] | None = None


def check_supported(body: ChatCompletionRequest) -> None:
    if body.n not in (None, 1):
        raise UnsupportedParameter("only n=1 is supported", param="n")
    if body.tools:
        raise UnsupportedParameter("tools are not supported yet", param="tools")
    if body.response_format is not None and body.response_format.type == "json_schema":
        raise UnsupportedParameter(
            "response_format json_schema is not supported; use json_object",
            param="response_format",
        )


def _text(message: ChatMessage) -> str:
    if message.content is None:
        return ""
    if isinstance(message.content, str):
        return message.content
    parts = []
    for part in message.content:
        if part.type != "text" or part.text is None:
            raise UnsupportedParameter(
                f"content parts of type {part.type!r} are not supported", param="messages"
            )
        parts.append(part.text)
    return "".join(parts)


def messages_of(body: ChatCompletionRequest) -> list[dict[str, str]]:
    """As arcana's calls take them; ``developer`` is OpenAI's newer name for ``system``."""
    out = []
    for m in body.messages:
        if m.role == "tool":
            raise UnsupportedParameter(
                "tool messages need tools, not supported yet", param="messages"
            )
        out.append({"role": "system" if m.role == "developer" else m.role, "content": _text(m)})
    return out


def stops_of(body: ChatCompletionRequest) -> tuple[str, ...]:
    if body.stop is None:
        return ()
    return (body.stop,) if isinstance(body.stop, str) else tuple(body.stop)


def completion_id() -> str:
    return "chatcmpl-" + os.urandom(12).hex()


def _usage(end: End) -> dict[str, int] | None:
    r = end.receipt
    if r is None:
        return None
    return {
        "prompt_tokens": r.tokens_in,
        "completion_tokens": r.tokens_out,
        "total_tokens": r.tokens_in + r.tokens_out,
    }


def _vareon(end: End, rule: str | None) -> dict[str, Any]:
    r = end.receipt
    return {
        "status": end.status,
        "rule": rule,
        "provider": r.provider if r else None,
        "cost": r.cost if r else 0,
        "usage_id": str(r.usage_id) if r and r.usage_id else None,
        "error": end.error,
    }


def finish_reason(end: End) -> str:
    return end.finish_reason if end.finish_reason in ("stop", "length") else "stop"


def completion(cid: str, asked: str, text: str, end: End, rule: str | None) -> dict[str, Any]:
    return {
        "id": cid,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": end.receipt.model if end.receipt else asked,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "logprobs": None,
                "finish_reason": finish_reason(end),
            }
        ],
        "usage": _usage(end),
        "system_fingerprint": None,
        "vareon": _vareon(end, rule),
    }


def _data(chunk: dict[str, Any]) -> str:
    return f"data: {json.dumps(chunk, separators=(',', ':'))}\n\n"


class Chunks:
    """The chunk frames of one streamed completion."""

    def __init__(self, cid: str, model: str, include_usage: bool) -> None:
        self.cid, self.model, self.include_usage = cid, model, include_usage
        self.created = int(time.time())

    def _chunk(self, choices: list[Any], **extra: Any) -> str:
        chunk = {
            "id": self.cid,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": None,
            "choices": choices,
        }
        if self.include_usage:
            chunk["usage"] = None
        chunk.update(extra)
        return _data(chunk)

    def first(self) -> str:
        delta = {"role": "assistant", "content": ""}
        return self._chunk([{"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}])

    def delta(self, text: str) -> str:
        delta = {"content": text}
        return self._chunk([{"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}])

    def last(self, end: End, rule: str | None) -> list[str]:
        if end.receipt is not None:
            self.model = end.receipt.model
        frames = [
            self._chunk(
                [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": finish_reason(end)}]
            )
        ]
        if self.include_usage:
            frames.append(self._chunk([], usage=_usage(end), vareon=_vareon(end, rule)))
        return frames

    @staticmethod
    def error(message: str, end: End) -> str:
        """A mid-stream failure, as OpenAI sends one: the SDK raises it as an APIError."""
        return _data({"error": {"message": message, "type": "server_error", "code": end.status}})

    @staticmethod
    def done() -> str:
        return "data: [DONE]\n\n"


def model_entry(target: ModelTarget, created: int) -> dict[str, Any]:
    return {
        "id": target.model,
        "object": "model",
        "created": created,
        "owned_by": target.provider,
        "vareon": {
            "provider": target.provider,
            "input_price_per_1k": target.input_price_per_1k,
            "output_price_per_1k": target.output_price_per_1k,
            "unit": "micro-credits per 1,000 tokens",
        },
    }
