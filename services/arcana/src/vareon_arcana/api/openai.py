"""The OpenAI-compatible API: ``POST /v1/chat/completions`` and ``GET /v1/models``.

The caller is an API key (``vk-...``, checked against the replica, with its budget and rpm)
or a user token. The call itself is arcana's: ``calls`` routes, admits against the wallet
balance, falls back, settles, records usage; this module parses OpenAI's request and renders
OpenAI's response. Errors on these paths are OpenAI error bodies (chassis OpenAIErrors).
The routes are left out of arcana's OpenAPI document: their contract is OpenAI's own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from vareon_chassis.api_keys import looks_like_api_key
from vareon_chassis.auth import TokenVerifier
from vareon_chassis.context import request_id_var
from vareon_chassis.errors import Unauthorized

from vareon_arcana import api_keys, key_budgets, model_names, personas, pricing, replicas, tokens
from vareon_arcana.api.deps import CallsDep
from vareon_arcana.calls import Caller, Calls, End, Route, Stream
from vareon_arcana.openai_wire import (
    ChatCompletionRequest,
    Chunks,
    check_supported,
    completion,
    completion_id,
    messages_of,
    model_entry,
    stops_of,
    tool_options,
    uses_tools,
)
from vareon_arcana.providers import ToolCallDelta

router = APIRouter(prefix="/v1", tags=["openai"], include_in_schema=False)
_bearer = HTTPBearer(auto_error=False)


@dataclass(frozen=True)
class OpenAICaller:
    caller: Caller
    key: api_keys.VerifiedKey | None


async def _authenticate(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None,
    calls: Calls,
    scope: str,
) -> OpenAICaller:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("an API key is required (Authorization: Bearer vk-...)")
    secret = credentials.credentials
    if looks_like_api_key(secret):
        async with calls.sessionmaker() as db:
            key = await api_keys.verify(db, secret, scope)
        caller = Caller(
            user_id=key.user_id,
            roles=key.roles,
            permissions=frozenset(),
            verified=True,  # identity makes keys for verified addresses only
            request_id=request_id_var.get(),
            api_key_id=key.key_id,
        )
        return OpenAICaller(caller, key)
    verifier: TokenVerifier = request.app.state.token_verifier
    principal = await verifier.verify(secret)
    revoked = getattr(request.app.state, "revoked_sessions", None)
    if revoked is not None and principal.session_id in revoked:
        raise Unauthorized("this session was signed out")
    return OpenAICaller(Caller.of(principal), None)


async def _chat_caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    calls: CallsDep,
) -> OpenAICaller:
    return await _authenticate(request, credentials, calls, "chat")


async def _models_caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    calls: CallsDep,
) -> OpenAICaller:
    return await _authenticate(request, credentials, calls, "models:read")


ChatCaller = Annotated[OpenAICaller, Depends(_chat_caller)]
ModelsCaller = Annotated[OpenAICaller, Depends(_models_caller)]


@router.get("/models")
async def list_models(who: ModelsCaller, calls: CallsDep) -> dict[str, Any]:
    """The models this caller may name, with Vareon's prices under ``vareon``."""
    async with calls.sessionmaker() as db:
        rules = await replicas.rules(db)
        slugs = await personas.usable_slugs(db, who.caller)
    found = model_names.models(rules, who.caller.roles, calls.providers)
    data = [model_entry(t, 0) for t in found]
    auto = {"id": model_names.AUTO, "object": "model", "created": 0, "owned_by": "vareon"}
    own = [
        {"id": personas.PREFIX + slug, "object": "model", "created": 0, "owned_by": "vareon"}
        for slug in slugs
    ]
    return {"object": "list", "data": [auto, *data, *own]}


async def _route(db: Any, calls: Calls, who: OpenAICaller, model: str, text: str) -> Route:
    routed, category = model_names.category_of(model)
    if routed:
        return await calls.route(db, who.caller, category=category, text=text)
    rules = await replicas.rules(db)
    return model_names.explicit_route(model, rules, who.caller.roles, calls.providers)


@router.post("/chat/completions", response_model=None)
async def chat_completions(
    body: ChatCompletionRequest, who: ChatCaller, calls: CallsDep
) -> dict[str, Any] | StreamingResponse:
    check_supported(body)
    messages = messages_of(body)
    json_mode = body.response_format is not None and body.response_format.type == "json_object"
    options = calls.options(
        body.max_completion_tokens or body.max_tokens,
        temperature=body.temperature,
        stop=stops_of(body),
        json_mode=json_mode,
        **tool_options(body),
    )
    text = messages[-1]["content"] or ""
    async with calls.sessionmaker.begin() as db:
        if (slug := personas.slug_of(body.model)) is not None:
            persona = (await personas.by_slug(db, who.caller, slug)).current
            messages = personas.with_prompt(persona, messages)
            options = personas.options(persona, options)
            chosen = await calls.route(db, who.caller, category=persona.category, text=text)
            chosen = await personas.pinned_route(db, persona, chosen, calls.providers.configured)
        else:
            chosen = await _route(db, calls, who, body.model, text)
        if uses_tools(body):
            chosen = model_names.with_tools(chosen, calls.providers)
        if who.key is not None:
            prompt = tokens.count_prompt(messages, options.tools)
            most = pricing.maximum_cost(chosen.targets, prompt, options.max_tokens)
            await key_budgets.admit(db, who.key, most)
        turn = await calls.admit(db, who.caller, messages, chosen, options)
        if who.key is not None:
            await key_budgets.hold(db, who.key.key_id, turn.reservation_id)
    stream = await calls.open_stream(turn)
    cid = completion_id()
    if not body.stream:
        reply = await stream.collect()
        return completion(cid, body.model, reply.text, reply.end, reply.rule)
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    chunks = Chunks(cid, chosen.targets[0].model, include_usage)
    return StreamingResponse(
        _frames(stream, chunks),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _frames(stream: Stream, chunks: Chunks) -> AsyncIterator[str]:
    opened = False
    try:
        async for item in stream.pieces():
            if isinstance(item, ToolCallDelta):
                yield chunks.tool_call(item, first=not opened)
                opened = True
                continue
            if not opened:
                yield chunks.first()
                opened = True
            if not isinstance(item, End):
                yield chunks.delta(item)
            elif item.status == "completed":
                for frame in chunks.last(item, stream.rule):
                    yield frame
            else:
                yield chunks.error(item.error or f"the call ended: {item.status}", item)
        yield chunks.done()
    finally:
        stream.close()
