"""Content generation and text analysis: sessionless calls metered like chat."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from vareon_arcana import analysis, content
from vareon_arcana.api.deps import CallerDep, CallsDep
from vareon_arcana.api.replies import reply_out
from vareon_arcana.schemas import (
    AnalyzeOut,
    AnalyzeRequest,
    GenerateOut,
    GenerateRequest,
    ReceiptOut,
)

router = APIRouter(prefix="/api/v1/arcana/ai", tags=["arcana"])


@router.post("/generate-content", response_model=GenerateOut)
async def generate_content(body: GenerateRequest, caller: CallerDep, calls: CallsDep) -> Any:
    messages = content.messages(body.prompt, body.content_type, body.tone, body.max_length)
    options = calls.options(body.max_length)
    reply = await calls.ask(caller, messages, category=body.category, options=options)
    return GenerateOut(
        content_type=body.content_type, tone=body.tone, **reply_out(reply).model_dump()
    )


@router.post(
    "/analyze",
    response_model=AnalyzeOut,
    responses={502: {"description": "invalid-model-answer: no valid JSON after one retry"}},
)
async def analyze(body: AnalyzeRequest, caller: CallerDep, calls: CallsDep) -> Any:
    found = await analysis.analyze(
        calls,
        caller,
        body.text,
        body.analyses,
        category=body.category,
        max_tokens=body.max_tokens,
    )
    return AnalyzeOut(
        analysis=found.analysis,
        attempts=found.attempts,
        receipts=[ReceiptOut(**vars(r)) for r in found.receipts],
        rule=found.rule,
    )
