"""Walking a rule's target list: the next target on 429/5xx/timeout, until text has flowed.

A call with tools only goes to targets whose provider takes tools (the entrypoint already
refused a route without any).

A 429 whose Retry-After is at most ``retry_after_cap_s`` is retried once on the same target
after that wait; a longer one moves on at once. After the first piece of text reached the
caller a failure is final (``Broken``): the client already saw that model's words.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator

import structlog
from vareon_contracts.events.cognisys import ModelTarget

from vareon_arcana.metrics import FALLBACKS, TOKENS, TTFT
from vareon_arcana.providers import (
    Message,
    Options,
    Piece,
    ProviderRejected,
    Providers,
    ProviderUnavailable,
    Text,
    ToolCallDelta,
    Usage,
)

log = structlog.get_logger(__name__)


class Unanswered(Exception):
    """No target produced any text; nothing is charged."""


class Broken(Exception):
    """The answering target failed after its first text chunk."""


async def answer(
    providers: Providers,
    targets: list[ModelTarget],
    messages: list[Message],
    options: Options,
    *,
    retry_after_cap_s: float,
) -> AsyncGenerator[tuple[ModelTarget, Piece]]:
    failures: list[str] = []
    for target in targets:
        provider = providers.get(target.provider)
        if provider is None:
            failures.append(f"{target.provider}/{target.model}: not configured")
            FALLBACKS.labels(target.model).inc()
            continue
        if options.tools and not provider.tools:
            failures.append(f"{target.provider}/{target.model}: does not take tools")
            continue
        for attempt in (1, 2):
            started, sent = False, time.perf_counter()
            try:
                async for piece in provider.stream(target.model, messages, options):
                    if not started and isinstance(piece, Text | ToolCallDelta):
                        started = True
                        TTFT.labels(target.model).observe(time.perf_counter() - sent)
                    elif isinstance(piece, Usage):
                        TOKENS.labels(target.model, "prompt").inc(piece.tokens_in)
                        TOKENS.labels(target.model, "completion").inc(piece.tokens_out)
                    yield target, piece
                return
            except ProviderUnavailable as exc:
                if started:
                    raise Broken(str(exc)) from exc
                wait = exc.retry_after_s
                log.warning(
                    "model target unavailable",
                    target=target.model,
                    error=str(exc),
                    retry_after_s=wait,
                    attempt=attempt,
                )
                if attempt == 1 and wait is not None and wait <= retry_after_cap_s:
                    await asyncio.sleep(wait)
                    continue
                failures.append(f"{target.provider}/{target.model}: {exc}")
                FALLBACKS.labels(target.model).inc()
                break
            except ProviderRejected as exc:
                if started:
                    raise Broken(str(exc)) from exc
                raise Unanswered(str(exc)) from exc
    raise Unanswered("; ".join(failures) or "no model target")
