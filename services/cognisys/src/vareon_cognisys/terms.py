"""The rules' vocabulary over time: when each keyword or pattern was in some rule.

Every rule change re-reads the vocabulary in its own transaction, opening a span for a term
that appeared and closing the span of one that no rule has any more.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta

import vareon_routing as routing
from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from vareon_routing.samples import terms_of

from vareon_cognisys.models import RoutingTerm

PROPAGATION = timedelta(minutes=1)
"""How long arcana may still route without a new rule (its replica follows the events):
a term counts as looked for only from this long after it entered the rules."""
LOCK_KEY = 0x636F676E_7465726D  # "cogn" "term"


async def sync(
    session: AsyncSession,
    load: Callable[[AsyncSession], Awaitable[Iterable[routing.RoutingRule]]],
    now: datetime,
) -> None:
    # One change at a time past this point, each reading what the one before committed.
    await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
    current = terms_of(await load(session))
    open_terms = set(
        (await session.scalars(select(RoutingTerm.term).where(RoutingTerm.until.is_(None)))).all()
    )
    gone = open_terms - current
    if gone:
        await session.execute(
            update(RoutingTerm)
            .where(RoutingTerm.term.in_(gone), RoutingTerm.until.is_(None))
            .values(until=now)
        )
    new = current - open_terms
    if new:
        stmt = insert(RoutingTerm).values([{"term": t, "since": now} for t in sorted(new)])
        await session.execute(
            stmt.on_conflict_do_nothing(
                index_elements=[RoutingTerm.term], index_where=RoutingTerm.until.is_(None)
            )
        )


class Spans:
    """``known(term, at)``: the term was in the rules (and had reached arcana) at ``at``."""

    def __init__(self, rows: list[tuple[str, datetime, datetime | None]]) -> None:
        self._spans: dict[str, list[tuple[datetime, datetime | None]]] = defaultdict(list)
        for term, since, until in rows:
            self._spans[term].append((since + PROPAGATION, until))

    def known(self, term: str, at: datetime) -> bool:
        return any(
            since <= at and (until is None or at < until) for since, until in self._spans[term]
        )


async def spans(session: AsyncSession) -> Spans:
    rows = await session.execute(select(RoutingTerm.term, RoutingTerm.since, RoutingTerm.until))
    return Spans([(t, s, u) for t, s, u in rows.all()])
