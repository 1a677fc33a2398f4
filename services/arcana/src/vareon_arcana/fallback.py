"""Walking a rule's target list: the next target on 429/5xx/timeout, until text has flowed.

A 429 whose Retry-After is at most ``retry_after_cap_s`` is retried once on the same target
after that wait; a longer one moves on at once. After the first piece of text reached the
caller a failure is final (``Broken``): the client already saw that model's words.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import structlog
from vareon_contracts.events.cognisys import ModelTarget

from vareon_arcana.providers import (
    Options,
    Piece,
    ProviderRejected,
    Providers,
    ProviderUnavailable,
    Text,
)

log = structlog.get_logger(__name__)


class Unanswered(Exception):
    """No target produced any text; nothing is charged."""


class Broken(Exception):
    """The answering target failed after its first text chunk."""


async def answer(
    providers: Providers,
    targets: list[ModelTarget],
    messages: list[dict[str, str]],
    options: Options,
    *,
    retry_after_cap_s: float,
) -> AsyncIterator[tuple[ModelTarget, Piece]]:
    failures: list[str] = []
    for target in targets:
        provider = providers.get(target.provider)
        if provider is None:
            failures.append(f"{target.provider}/{target.model}: not configured")
            continue
        for attempt in (1, 2):
            started = False
            try:
                async for piece in provider.stream(target.model, messages, options):
                    started = started or isinstance(piece, Text)
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
                break
            except ProviderRejected as exc:
                if started:
                    raise Broken(str(exc)) from exc
                raise Unanswered(str(exc)) from exc
    raise Unanswered("; ".join(failures) or "no model target")
