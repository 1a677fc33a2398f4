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

from vareon_arcana.calls import End, Message
from vareon_arcana.providers import ToolCallDelta

MAX_MESSAGES = 500
MAX_TEXT = 1_000_000
Text = Annotated[str, Field(max_length=MAX_TEXT)]
FunctionName = Annotated[str, Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")]


class UnsupportedParameter(DomainError):
    type = "https://vareon.dev/problems/unsupported-parameter"
    title = "Unsupported parameter"
    status = 400


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: str
    text: Text | None = None


class FunctionCall(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: FunctionName
    arguments: Text


class ToolCall(BaseModel):
    """A tool call of an assistant message in the history, as the model made it."""

    model_config = ConfigDict(extra="ignore")

    id: Annotated[str, Field(min_length=1, max_length=200)]
    type: Literal["function"]
    function: FunctionCall


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: Text | Annotated[list[ContentPart], Field(max_length=100)] | None = None
    name: Annotated[str, Field(max_length=100, pattern=r"^[^\s<|\\/>]+$")] | None = None
    """The participant's name (OpenAI's pattern); forwarded on system, user and assistant."""
    tool_calls: Annotated[list[ToolCall], Field(max_length=128)] | None = None
    tool_call_id: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class FunctionDefinition(BaseModel):
    """Passed through as sent (``extra="allow"``): the provider reads it, not us."""

    model_config = ConfigDict(extra="allow")

    name: FunctionName
    description: Annotated[str, Field(max_length=MAX_TEXT)] | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class Tool(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: Literal["function"]
    function: FunctionDefinition


class NamedFunction(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: FunctionName


class NamedToolChoice(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: Literal["function"]
    function: NamedFunction


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
    tools: Annotated[list[Tool], Field(max_length=128)] | None = None
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = None
    parallel_tool_calls: bool | None = None


def check_supported(body: ChatCompletionRequest) -> None:
    if body.n not in (None, 1):
        raise UnsupportedParameter("only n=1 is supported", param="n")
    _check_tools(body)
    if body.response_format is not None and body.response_format.type == "json_schema":
        raise UnsupportedParameter(
            "response_format json_schema is not supported; use json_object",
            param="response_format",
        )


def _check_tools(body: ChatCompletionRequest) -> None:
    """What OpenAI itself refuses (its messages), before anything is reserved."""
    if not body.tools:
        for given in ("tool_choice", "parallel_tool_calls"):
            if getattr(body, given) is not None:
                raise UnsupportedParameter(
                    f"{given} is only allowed when tools are specified", param=given
                )
        return
    if isinstance(body.tool_choice, NamedToolChoice):
        name = body.tool_choice.function.name
        if name not in {t.function.name for t in body.tools}:
            raise UnsupportedParameter(
                f"tool_choice names the function {name!r}, which is not in tools",
                param="tool_choice",
            )
    for m in body.messages:
        if m.role == "tool" and m.tool_call_id is None:
            raise UnsupportedParameter("a tool message needs its tool_call_id", param="messages")


def uses_tools(body: ChatCompletionRequest) -> bool:
    """Tools given, or tool calls and their results in the history: only a model that takes
    tools can answer."""
    return bool(body.tools) or any(m.role == "tool" or m.tool_calls for m in body.messages)


def tool_options(body: ChatCompletionRequest) -> dict[str, Any]:
    """``tools``, ``tool_choice``, ``parallel_tool_calls`` for ``Options``, as sent."""
    if not body.tools:
        return {}
    choice = body.tool_choice
    return {
        "tools": tuple(t.model_dump(exclude_unset=True) for t in body.tools),
        "tool_choice": choice.model_dump() if isinstance(choice, NamedToolChoice) else choice,
        "parallel_tool_calls": body.parallel_tool_calls,
    }


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


def messages_of(body: ChatCompletionRequest) -> list[Message]:
    """As arcana's calls take them; ``developer`` is OpenAI's newer name for ``system``."""
    out = []
    for m in body.messages:
        message: Message = {"role": "system" if m.role == "developer" else m.role}
        message["content"] = None if m.content is None and m.tool_calls else _text(m)
        if m.name is not None and m.role != "tool":
            message["name"] = m.name
        if m.tool_calls:
            message["tool_calls"] = [c.model_dump() for c in m.tool_calls]
        if m.role == "tool":
            message["tool_call_id"] = m.tool_call_id
        out.append(message)
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
    return end.finish_reason if end.finish_reason in ("stop", "length", "tool_calls") else "stop"


def _message(text: str, end: End) -> dict[str, Any]:
    if not end.tool_calls:
        return {"role": "assistant", "content": text, "refusal": None}
    calls = [
        {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
        for c in end.tool_calls
    ]
    return {"role": "assistant", "content": text or None, "refusal": None, "tool_calls": calls}


def completion(cid: str, asked: str, text: str, end: End, rule: str | None) -> dict[str, Any]:
    return {
        "id": cid,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": end.receipt.model if end.receipt else asked,
        "choices": [
            {
                "index": 0,
                "message": _message(text, end),
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

    def tool_call(self, piece: ToolCallDelta, *, first: bool) -> str:
        """One tool-call piece as OpenAI streams it: a call's first piece carries its id and
        function name (the stream's first also the role), the next ones argument fragments."""
        call: dict[str, Any] = {"index": piece.index}
        if piece.id is not None or piece.name is not None:
            function = {"name": piece.name, "arguments": piece.arguments}
            call.update(id=piece.id, type="function", function=function)
        else:
            call["function"] = {"arguments": piece.arguments}
        delta: dict[str, Any] = {"tool_calls": [call]}
        if first:
            delta = {"role": "assistant", "content": None, **delta, "refusal": None}
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
