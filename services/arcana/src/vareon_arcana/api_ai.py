"""Content generation and text analysis: sessionless calls metered like chat."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from vareon_chassis.auth import CurrentUser

from vareon_arcana import analysis, content
from vareon_arcana.api import ask_once
from vareon_arcana.errors import InvalidModelAnswer
from vareon_arcana.schemas import AnalyzeOut, AnalyzeRequest, GenerateOut, GenerateRequest

router = APIRouter(prefix="/api/v1/arcana/ai", tags=["arcana"])


@router.post("/generate-content", response_model=GenerateOut)
async def generate_content(body: GenerateRequest, user: CurrentUser, request: Request) -> Any:
    messages = content.messages(body.prompt, body.content_type, body.tone, body.max_length)
    reply = await ask_once(
        request, user, messages, category=body.category, max_tokens=body.max_length
    )
    return GenerateOut(
        content=reply.content,
        content_type=body.content_type,
        tone=body.tone,
        status=reply.status,
        receipt=reply.receipt,
        rule=reply.rule,
        error=reply.error,
    )


@router.post(
    "/analyze",
    response_model=AnalyzeOut,
    responses={502: {"description": "invalid-model-answer: no valid JSON after one retry"}},
)
async def analyze(body: AnalyzeRequest, user: CurrentUser, request: Request) -> Any:
    receipts = []
    problems = []
    for attempt in (1, 2):
        messages = analysis.messages(body.text, body.analyses, retry=attempt > 1)
        reply = await ask_once(
            request,
            user,
            messages,
            category=body.category,
            max_tokens=body.max_tokens,
            json_mode=True,
        )
        if reply.receipt is not None:
            receipts.append(reply.receipt)
        try:
            found = analysis.parse(reply.content, body.analyses)
        except analysis.InvalidAnswer as exc:
            problems.append(str(exc))
            continue
        return AnalyzeOut(analysis=found, attempts=attempt, receipts=receipts, rule=reply.rule)
    raise InvalidModelAnswer(
        f"the model answered twice without valid JSON ({'; '.join(problems)})",
        attempts=2,
        receipts=[r.model_dump(mode="json") for r in receipts],
    )
