"""A replica of the rules, rebuilt from RoutingRuleChangedV1 events (full state per rule)."""

from __future__ import annotations

from uuid import UUID

from vareon_contracts.events.cognisys import RoutingRuleChangedV1

from vareon_routing.rules import RoutingRule


class RuleBook:
    """Keeps the highest revision per rule id; a tombstone removes the rule for good.

    Events may arrive more than once or out of order (replays): an older or equal revision
    changes nothing, so applying any interleaving of the same events gives the same book.
    """

    def __init__(self) -> None:
        self._latest: dict[UUID, tuple[int, RoutingRule | None]] = {}

    def apply(self, event: RoutingRuleChangedV1) -> bool:
        """Apply one event; True when it changed the book."""
        current = self._latest.get(event.rule_id)
        if current is not None and current[0] >= event.revision:
            return False
        rule = None if event.deleted else RoutingRule.from_event(event)
        self._latest[event.rule_id] = (event.revision, rule)
        return True

    def revision(self, rule_id: UUID) -> int | None:
        current = self._latest.get(rule_id)
        return current[0] if current else None

    @property
    def rules(self) -> list[RoutingRule]:
        return [rule for _, rule in self._latest.values() if rule is not None]
