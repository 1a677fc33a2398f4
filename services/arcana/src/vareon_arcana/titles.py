"""A session's title, asked of a model after its first exchange unless one was given.

The model is ``ARCANA_TITLE_MODEL`` (a routing target's model id) or else the first free
(price 0) target of the rules open to the user; with neither, or ``vareon-offline-1``, the
offline title: ``title_for`` of the first question, deterministic. The call goes through the
provider layer with fallback, but not through admission or settlement: a title is free to
the user (no reservation, no usage record; the tokens show in the per-model metrics).

It runs in its own task after the reply ended, so it never delays the reply; a failure is
logged and leaves the session untitled (the next exchange tries again). A title the user
sets (create, ``PUT .../title``, an import) is never replaced: the answer is written only if
the session is still untitled when it arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid

import structlog
from sqlalchemy import select
from vareon_contracts.events.cognisys import ModelTarget
from vareon_routing import RoutingRule, evaluation_order

from vareon_arcana import branches, model_names, replicas
from vareon_arcana.calls import Caller, Calls, End, Turn
from vareon_arcana.fallback import answer
from vareon_arcana.metrics import TITLES
from vareon_arcana.models import ChatSession, Message
from vareon_arcana.providers import OFFLINE, Options, Providers, Text

log = structlog.get_logger(__name__)

DEFAULT = "New chat"
MAX_WORDS = 7
MAX_CHARS = 80
MAX_TOKENS = 24
CONTEXT_CHARS = 2_000
"""How much of the first question and of its answer the title model reads."""
MAX_TARGETS = 3
PROMPT = (
    f"Give the conversation below a title of at most {MAX_WORDS - 1} words, in its language. "
    "Answer with the title alone: no quotes, no final punctuation, no explanation."
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_FILLER = re.compile(
    r"^(hi|hello|hey|please|so|ok|okay|can you|could you|would you|tell me)\b[\s,!.]*",
    re.IGNORECASE,
)
_LABEL = re.compile(r"^\W*title\s*:\s*", re.IGNORECASE)
_EDGES = " \t.!?;:,-*#_`\"'\u201c\u201d\u2018\u2019\u00ab\u00bb"


def title_for(question: str) -> str:
    """The offline title: the first question's first sentence, filler dropped, a few words."""
    text = question.strip()
    for sentence in _SENTENCE.split(text):
        candidate = sentence.strip()
        while (stripped := _FILLER.sub("", candidate)) != candidate:
            candidate = stripped
        if re.search(r"\w", candidate):
            text = candidate
            break
    words = text.split(",")[0].split()[:MAX_WORDS]
    title = " ".join(words).strip(" .!?;:-\"'")[:MAX_CHARS].strip()
    return title[:1].upper() + title[1:] if title else DEFAULT


def cleaned(answer_text: str) -> str | None:
    """A model's answer as a title: its first line, without a "Title:" label, quotes or final
    punctuation, at most ``MAX_CHARS`` (cut at a word); None when no word is left."""
    line = next((ln for ln in answer_text.splitlines() if re.search(r"\w", ln)), "")
    title = " ".join(_LABEL.sub("", line).split()).strip(_EDGES)
    if len(title) > MAX_CHARS:
        cut = title[: MAX_CHARS + 1]
        title = (cut.rsplit(" ", 1)[0] if " " in cut else cut[:MAX_CHARS]).strip(_EDGES)
    return title if re.search(r"\w", title) else None


def targets(
    rules: list[RoutingRule], roles: frozenset[str], providers: Providers, configured: str | None
) -> list[ModelTarget]:
    """Who titles: the configured model (the first target naming it whose provider is
    configured), else the free targets of the rules open to ``roles`` in evaluation order,
    else the offline model."""
    if configured == OFFLINE.model:
        return [OFFLINE]
    if configured is not None:
        for rule in evaluation_order(rules):
            for target in rule.targets if rule.enabled else []:
                if target.model == configured and providers.configured(target.provider):
                    return [target]
        log.warning("the title model is not a usable routing target", model=configured)
    free: list[ModelTarget] = []
    for _, usable in model_names.usable_rules(rules, roles, providers):
        for target in usable:
            price = target.input_price_per_1k + target.output_price_per_1k
            if price == 0 and target.provider != OFFLINE.provider and target not in free:
                free.append(target)
    return free[:MAX_TARGETS] or [OFFLINE]


def _messages(question: str, reply: str) -> list[dict[str, str]]:
    conversation = f"User: {question[:CONTEXT_CHARS]}\n\nAssistant: {reply[:CONTEXT_CHARS]}"
    return [{"role": "system", "content": PROMPT}, {"role": "user", "content": conversation}]


async def _generated(
    calls: Calls, chosen: list[ModelTarget], path: list[Message]
) -> tuple[str, str | None]:
    """(the model that answered, its answer as a title)."""
    parts: list[str] = []
    model = chosen[0].model
    pieces = answer(
        calls.providers,
        chosen,
        _messages(path[0].content, path[1].content),
        Options(max_tokens=MAX_TOKENS),
        retry_after_cap_s=calls.settings.retry_after_cap_s,
    )
    async with asyncio.timeout(calls.settings.provider_timeout_s * 2), contextlib.aclosing(pieces):
        async for answering, piece in pieces:
            model = answering.model
            if isinstance(piece, Text):
                parts.append(piece.text)
    return model, cleaned("".join(parts))


async def _first_exchange(
    calls: Calls, session_id: uuid.UUID
) -> tuple[list[Message], list[RoutingRule]] | None:
    """The untitled session's first question and answer (when its active branch has them),
    and the routing rules."""
    async with calls.sessionmaker() as session:
        chat = await session.get(ChatSession, session_id)
        if chat is None or chat.titled:
            return None
        path = await branches.active(session, chat)
        if len(path) < 2 or path[0].role != "user" or path[1].role != "assistant":
            return None
        return path[:2], await replicas.rules(session)


async def name(calls: Calls, caller: Caller, session_id: uuid.UUID) -> None:
    """Title the session from its first exchange if it has no title yet; never raises."""
    model = "unknown"
    try:
        found = await _first_exchange(calls, session_id)
        if found is None:
            return
        path, rules = found
        chosen = targets(rules, caller.roles, calls.providers, calls.settings.title_model)
        model = chosen[0].model
        if chosen == [OFFLINE]:
            title: str | None = title_for(path[0].content)
        else:
            model, title = await _generated(calls, chosen, path)
        if title is None:
            log.warning("the title model answered no title", session_id=str(session_id))
            TITLES.labels(model, "failed").inc()
            return
        async with calls.sessionmaker.begin() as session:
            chat = await session.scalar(
                select(ChatSession).where(ChatSession.id == session_id).with_for_update()
            )
            if chat is None or chat.titled:  # named (or deleted) while the model answered
                TITLES.labels(model, "kept").inc()
                return
            chat.title = title
            chat.titled = True
        TITLES.labels(model, "offline" if chosen == [OFFLINE] else "generated").inc()
    except Exception as exc:  # the session stays untitled; the reply is not affected
        log.warning("titling a session failed", session_id=str(session_id), error=repr(exc))
        TITLES.labels(model, "failed").inc()


def after_reply(calls: Calls, turn: Turn, end: End) -> None:
    """What follows a chat reply, whichever entrypoint read it: once the reply is stored, the
    session's title, in the background."""
    if turn.session_id is not None and end.receipt is not None:
        calls.spawn(name(calls, turn.caller, turn.session_id))
