"""Routing rules: when a rule matches a request, and which rule a request is routed by."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from time import monotonic
from uuid import UUID

import regex
from vareon_contracts.events.cognisys import ModelTarget, RoutingRuleChangedV1, RuleConditions

from vareon_routing.text import (
    MATCH_TIMEOUT_S,
    PatternTimeout,
    compile_keywords,
    compile_pattern,
    pattern_error,
    search,
)

PRIORITY_MIN = 0
PRIORITY_MAX = 1000
MAX_TARGETS = 10
MAX_KEYWORDS = 50
MAX_KEYWORD_LENGTH = 100
MAX_LIST_ITEMS = 50

MATCH_BUDGET_S = 0.25
SPENT = "the request's text-matching budget is spent; counted as no match"


class InvalidRule(ValueError):
    def __init__(self, errors: Sequence[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = list(errors)


@dataclass(frozen=True)
class RoutingRequest:
    """What a rule is matched against. ``now`` must carry a time zone; windows are in UTC."""

    category: str | None
    roles: frozenset[str]
    text: str
    now: datetime

    def __post_init__(self) -> None:
        if self.now.tzinfo is None or self.now.utcoffset() is None:
            raise ValueError("now must be timezone-aware")
        object.__setattr__(self, "roles", frozenset(self.roles))


@dataclass(frozen=True)
class Reason:
    condition: str
    held: bool
    detail: str


@dataclass(frozen=True)
class Match:
    matched: bool
    reasons: tuple[Reason, ...]

    @property
    def timed_out(self) -> bool:
        return any(
            r.condition in ("pattern", "keywords")
            and ("timed out" in r.detail or r.detail == SPENT)
            for r in self.reasons
        )


def in_window(moment: time, start: time | None, end: time | None) -> bool:
    """Daily UTC window [start, end): wraps past midnight when start > end; empty when equal."""
    if start is None and end is None:
        return True
    if start is None:
        return moment < _naive(end)
    if end is None:
        return moment >= _naive(start)
    start, end = _naive(start), _naive(end)
    if start <= end:
        return start <= moment < end
    return moment >= start or moment < end


def _naive(value: time | None) -> time:
    assert value is not None
    return value.replace(tzinfo=None)


def condition_errors(conditions: RuleConditions) -> list[str]:
    c = conditions
    errors: list[str] = []
    for name in ("categories", "roles", "keywords"):
        items: list[str] = getattr(c, name)
        limit = MAX_KEYWORDS if name == "keywords" else MAX_LIST_ITEMS
        if len(items) > limit:
            errors.append(f"{name}: at most {limit} items")
        if any(not item.strip() for item in items):
            errors.append(f"{name}: items must not be blank")
    if any(len(k) > MAX_KEYWORD_LENGTH for k in c.keywords):
        errors.append(f"keywords: each at most {MAX_KEYWORD_LENGTH} characters")
    for name in ("min_length", "max_length"):
        size: int | None = getattr(c, name)
        if size is not None and size < 0:
            errors.append(f"{name}: must be >= 0")
    if c.min_length is not None and c.max_length is not None and c.min_length > c.max_length:
        errors.append("min_length: must not exceed max_length")
    if c.pattern is not None and (problem := pattern_error(c.pattern)):
        errors.append(f"pattern: {problem}")
    for name in ("active_from", "active_until"):
        bound: time | None = getattr(c, name)
        if bound is not None and bound.utcoffset() not in (None, UTC.utcoffset(None)):
            errors.append(f"{name}: times are UTC; give no offset or +00:00")
    if (
        c.active_from is not None
        and c.active_until is not None
        and _naive(c.active_from) == _naive(c.active_until)
    ):
        errors.append("active_from: must differ from active_until (the window would be empty)")
    return errors


def rule_errors(
    priority: int, conditions: RuleConditions, targets: Sequence[ModelTarget]
) -> list[str]:
    errors = []
    if not PRIORITY_MIN <= priority <= PRIORITY_MAX:
        errors.append(f"priority: must be between {PRIORITY_MIN} and {PRIORITY_MAX}")
    if not targets:
        errors.append("targets: at least one target is required")
    if len(targets) > MAX_TARGETS:
        errors.append(f"targets: at most {MAX_TARGETS}")
    return errors + condition_errors(conditions)


@dataclass(frozen=True)
class RoutingRule:
    rule_id: UUID
    name: str
    priority: int
    conditions: RuleConditions
    targets: tuple[ModelTarget, ...]
    enabled: bool = True
    is_default: bool = False
    revision: int = 0
    _pattern: regex.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _keywords: regex.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "targets", tuple(self.targets))
        errors = rule_errors(self.priority, self.conditions, self.targets)
        if errors:
            raise InvalidRule(errors)
        c = self.conditions
        object.__setattr__(self, "_pattern", compile_pattern(c.pattern) if c.pattern else None)
        object.__setattr__(self, "_keywords", compile_keywords(c.keywords))

    @classmethod
    def from_event(cls, event: RoutingRuleChangedV1) -> RoutingRule:
        if event.deleted:
            raise ValueError("a tombstone is not a rule")
        return cls(
            rule_id=event.rule_id,
            name=event.name,
            priority=event.priority,
            conditions=event.conditions,
            targets=tuple(event.targets),
            enabled=event.enabled,
            is_default=event.is_default,
            revision=event.revision,
        )

    def matches(
        self,
        request: RoutingRequest,
        *,
        exhaustive: bool = True,
        timeout_s: float = MATCH_TIMEOUT_S,
    ) -> Match:
        """Whether every condition holds; ``exhaustive=False`` stops at the first that fails.

        The default rule matches every request: ``choose`` reaches it only when no other
        rule matched, and its conditions and ``enabled`` flag are not consulted.
        """
        if self.is_default:
            return Match(
                True,
                (
                    Reason(
                        "default", True, "the default rule serves any request no other rule took"
                    ),
                ),
            )
        reasons: list[Reason] = []
        for check in self._checks(timeout_s):
            reason = check(request)
            if reason is None:
                continue
            reasons.append(reason)
            if not reason.held and not exhaustive:
                break
        if not reasons:
            reasons.append(Reason("conditions", True, "no conditions: matches every request"))
        return Match(all(r.held for r in reasons), tuple(reasons))

    def _checks(self, timeout_s: float) -> list[Callable[[RoutingRequest], Reason | None]]:
        # Cheapest first, so a non-exhaustive match rarely runs the pattern.
        return [
            self._enabled,
            self._category,
            self._roles,
            self._length,
            self._window,
            lambda request: self._keyword(request, timeout_s),
            lambda request: self._pattern_check(request, timeout_s),
        ]

    def _enabled(self, request: RoutingRequest) -> Reason | None:
        return None if self.enabled else Reason("enabled", False, "the rule is disabled")

    def _category(self, request: RoutingRequest) -> Reason | None:
        wanted = self.conditions.categories
        if not wanted:
            return None
        folded = {c.casefold() for c in wanted}
        held = request.category is not None and request.category.casefold() in folded
        return Reason(
            "category",
            held,
            f"category {request.category!r} {'is' if held else 'is not'} one of {sorted(wanted)}",
        )

    def _roles(self, request: RoutingRequest) -> Reason | None:
        wanted = set(self.conditions.roles)
        if not wanted:
            return None
        shared = sorted(wanted & request.roles)
        if shared:
            return Reason("roles", True, f"user has role {shared[0]!r}")
        return Reason("roles", False, f"user has none of the roles {sorted(wanted)}")

    def _length(self, request: RoutingRequest) -> Reason | None:
        low, high = self.conditions.min_length, self.conditions.max_length
        if low is None and high is None:
            return None
        size = len(request.text)
        held = (low is None or size >= low) and (high is None or size <= high)
        bounds = f"[{'0' if low is None else low}, {'∞' if high is None else high}]"
        return Reason(
            "length", held, f"message length {size} is {'within' if held else 'outside'} {bounds}"
        )

    def _window(self, request: RoutingRequest) -> Reason | None:
        start, end = self.conditions.active_from, self.conditions.active_until
        if start is None and end is None:
            return None
        moment = request.now.astimezone(UTC).time()
        held = in_window(moment, start, end)
        span = f"[{start or '00:00'}, {end or '24:00'}) UTC"
        return Reason(
            "time_window",
            held,
            f"{moment.strftime('%H:%M:%S')} UTC is {'inside' if held else 'outside'} {span}",
        )

    def _keyword(self, request: RoutingRequest, timeout_s: float) -> Reason | None:
        if self._keywords is None:
            return None
        if timeout_s <= 0:
            return Reason("keywords", False, SPENT)
        try:
            found = search(self._keywords, request.text, min(timeout_s, MATCH_TIMEOUT_S))
        except PatternTimeout:
            return Reason("keywords", False, "keyword search timed out; counted as no match")
        if found.matched:
            return Reason("keywords", True, f"message contains keyword {found.text!r}")
        return Reason(
            "keywords", False, f"message contains none of the keywords {self.conditions.keywords}"
        )

    def _pattern_check(self, request: RoutingRequest, timeout_s: float) -> Reason | None:
        if self._pattern is None:
            return None
        if timeout_s <= 0:
            return Reason("pattern", False, SPENT)
        try:
            found = search(self._pattern, request.text, timeout_s)
        except PatternTimeout:
            return Reason(
                "pattern",
                False,
                f"pattern timed out after {timeout_s * 1000:g} ms; counted as no match",
            )
        if found.matched:
            return Reason("pattern", True, f"pattern matched {found.text!r}")
        return Reason("pattern", False, "pattern found no match")


class NoRoute(LookupError):
    """No rule matched and there is no default rule."""


@dataclass(frozen=True)
class Decision:
    rule: RoutingRule
    targets: tuple[ModelTarget, ...]
    """In order: the first is tried first, the rest are fallbacks."""
    match: Match
    passed_over: tuple[tuple[RoutingRule, Match], ...]
    """Rules tried before the chosen one, in evaluation order, each with why it failed."""

    @property
    def used_default(self) -> bool:
        return self.rule.is_default


def evaluation_order(rules: Iterable[RoutingRule]) -> list[RoutingRule]:
    """Non-default rules by priority (highest first), then rule id; defaults last."""
    return sorted(rules, key=lambda r: (r.is_default, -r.priority, r.rule_id))


def choose(
    rules: Iterable[RoutingRule],
    request: RoutingRequest,
    *,
    timeout_s: float = MATCH_TIMEOUT_S,
    budget_s: float = MATCH_BUDGET_S,
) -> Decision:
    """The highest-priority enabled rule that matches; ties go to the lower rule id.

    When none does, the default rule (the lowest id among several, which should not exist).
    Text searches share ``budget_s`` per request (each also stops at ``timeout_s``): once it is
    spent, the remaining text conditions count as no match, so many slow rules cannot hold a
    request (or the thread running it) for their timeouts added together. Blocking: callers on
    an event loop run it in a thread.
    """
    deadline = monotonic() + budget_s
    passed_over: list[tuple[RoutingRule, Match]] = []
    for rule in evaluation_order(rules):
        limit = min(timeout_s, deadline - monotonic())
        match = rule.matches(request, exhaustive=False, timeout_s=limit)
        if match.matched:
            return Decision(rule, rule.targets, match, tuple(passed_over))
        passed_over.append((rule, match))
    raise NoRoute("no routing rule matched and there is no default rule")
