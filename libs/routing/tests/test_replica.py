from __future__ import annotations

import uuid
from datetime import UTC, datetime

from vareon_contracts.events.cognisys import RoutingRuleChangedV1, RuleConditions
from vareon_routing import RoutingRule, RuleBook

from .factories import TARGET


def event(
    rule_id: uuid.UUID, revision: int, *, deleted: bool = False, priority: int = 10
) -> RoutingRuleChangedV1:
    return RoutingRuleChangedV1(
        rule_id=rule_id,
        revision=revision,
        name=f"r{revision}",
        priority=priority,
        enabled=True,
        is_default=False,
        conditions=RuleConditions(keywords=["x"]),
        targets=[TARGET],
        deleted=deleted,
        changed_at=datetime.now(UTC),
    )


def test_a_rule_is_built_from_its_event():
    rid = uuid.uuid4()
    built = RoutingRule.from_event(event(rid, 3, priority=7))
    assert (built.rule_id, built.revision, built.priority, built.name) == (rid, 3, 7, "r3")
    assert built.targets == (TARGET,)


def test_book_keeps_the_highest_revision_and_ignores_stale_events():
    rid = uuid.uuid4()
    book = RuleBook()
    assert book.apply(event(rid, 2))
    assert not book.apply(event(rid, 1))
    assert not book.apply(event(rid, 2))
    assert [r.name for r in book.rules] == ["r2"]


def test_a_tombstone_removes_the_rule_and_older_events_do_not_revive_it():
    rid = uuid.uuid4()
    book = RuleBook()
    book.apply(event(rid, 1))
    book.apply(event(rid, 2, deleted=True))
    book.apply(event(rid, 1))
    assert book.rules == []
    assert book.revision(rid) == 2
