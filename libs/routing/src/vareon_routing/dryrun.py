"""Dry-run: recorded calls re-routed under the current and a proposed set of rules.

Pure: no I/O, no clock. A rule is matched against a ``Sample`` with three outcomes (holds,
fails, unknown): a keyword or pattern the rules did not have when the call was recorded is
unknown for it, and a call whose route depends on an unknown is counted as undetermined
(and routed as if the unknown condition failed).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

from vareon_contracts.events.cognisys import ModelTarget

from vareon_routing.rules import RoutingRule, evaluation_order, in_window
from vareon_routing.samples import keyword_term, pattern_term

Known = Callable[[str, datetime], bool]
"""Whether a term was in the rules' vocabulary when a call at that moment was recorded."""

TargetKey = tuple[str, str]


@dataclass(frozen=True)
class Sample:
    """One recorded call: the inputs its route was chosen from, and what it used."""

    at: datetime
    category: str | None
    roles: frozenset[str]
    length: int
    terms: frozenset[str]
    text_complete: bool
    tokens_in: int
    tokens_out: int
    first: TargetKey | None
    """The target tried first (None when the call was not routed to a configured one)."""
    fell_back: bool
    """The first target did not answer and a later one did (or none did)."""


def cost(target: ModelTarget, tokens_in: int, tokens_out: int) -> int:
    """Micro-credits, prices per 1,000 tokens, rounded up (the same formula arcana charges)."""
    return math.ceil(
        (tokens_in * target.input_price_per_1k + tokens_out * target.output_price_per_1k) / 1000
    )


def _all(values: Iterable[bool | None]) -> bool | None:
    result: bool | None = True
    for value in values:
        if value is False:
            return False
        if value is None:
            result = None
    return result


def matches(rule: RoutingRule, sample: Sample, known: Known) -> bool | None:
    """True, False, or None when it depends on a term unknown for this sample."""
    if rule.is_default:
        return True
    if not rule.enabled:
        return False
    c = rule.conditions
    checks: list[bool | None] = []
    if c.categories:
        folded = {x.casefold() for x in c.categories}
        checks.append(sample.category is not None and sample.category.casefold() in folded)
    if c.roles:
        checks.append(bool(set(c.roles) & sample.roles))
    if c.min_length is not None or c.max_length is not None:
        checks.append(
            (c.min_length is None or sample.length >= c.min_length)
            and (c.max_length is None or sample.length <= c.max_length)
        )
    if c.active_from is not None or c.active_until is not None:
        checks.append(in_window(sample.at.astimezone(UTC).time(), c.active_from, c.active_until))
    terms = [keyword_term(k) for k in c.keywords if k.strip()]
    if terms:
        checks.append(_text(sample, terms, known))
    if c.pattern:
        checks.append(_text(sample, [pattern_term(c.pattern)], known))
    return _all(checks)


def _text(sample: Sample, terms: Sequence[str], known: Known) -> bool | None:
    if any(t in sample.terms for t in terms):
        return True
    if sample.text_complete and all(known(t, sample.at) for t in terms):
        return False
    return None


@dataclass(frozen=True)
class Outcome:
    rule: RoutingRule | None
    """None: no rule matched and there is no default."""
    determined: bool

    @property
    def first(self) -> ModelTarget | None:
        return self.rule.targets[0] if self.rule is not None else None


def route(ordered: Sequence[RoutingRule], sample: Sample, known: Known) -> Outcome:
    """``ordered`` is ``evaluation_order(rules)``; unknown counts as no match, and is noted."""
    determined = True
    for rule in ordered:
        held = matches(rule, sample, known)
        if held:
            return Outcome(rule, determined)
        if held is None:
            determined = False
    return Outcome(None, determined)


@dataclass
class Side:
    """One rule set's projection over the sample (or one rule's share of it)."""

    calls: int = 0
    cost: int = 0
    unmatched: int = 0
    """Calls no rule but the default took (or none at all)."""
    no_route: int = 0
    """Calls no rule took and no default exists for."""
    expected_fallbacks: float = 0.0
    """Calls expected to fall back: each call adds its first target's observed fallback rate."""
    unobserved: int = 0
    """Calls whose first target was never tried first in the sample (no rate known)."""
    single_target: int = 0
    """Calls routed to a rule with no fallback target."""


@dataclass
class RuleReport:
    rule_id: UUID
    name: str
    change: str
    """unchanged, created, updated or deleted."""
    current: Side = field(default_factory=Side)
    proposed: Side = field(default_factory=Side)
    moved_in: int = 0
    moved_out: int = 0
    retargeted: int = 0
    """Calls that stay with this rule but would be answered by another first target."""


@dataclass
class Report:
    calls: int
    moved: int
    undetermined: int
    recorded_cost: int
    current: Side
    proposed: Side
    rules: list[RuleReport]
    fallback_rates: dict[TargetKey, tuple[int, int]]
    """Per first target: (calls tried first, calls that fell back) in the sample."""


def fallback_rates(samples: Iterable[Sample]) -> dict[TargetKey, tuple[int, int]]:
    tried: Counter[TargetKey] = Counter()
    fell: Counter[TargetKey] = Counter()
    for s in samples:
        if s.first is not None:
            tried[s.first] += 1
            fell[s.first] += s.fell_back
    return {key: (tried[key], fell[key]) for key in tried}


def _add(side: Side, outcome: Outcome, sample: Sample, rates: dict[TargetKey, float]) -> None:
    side.calls += 1
    if outcome.rule is None:
        side.no_route += 1
        side.unmatched += 1
        return
    if outcome.rule.is_default:
        side.unmatched += 1
    first = outcome.rule.targets[0]
    side.cost += cost(first, sample.tokens_in, sample.tokens_out)
    if len(outcome.rule.targets) == 1:
        side.single_target += 1
    rate = rates.get((first.provider, first.model))
    if rate is None:
        side.unobserved += 1
    else:
        side.expected_fallbacks += rate


def _key(outcome: Outcome) -> tuple[UUID | None, TargetKey | None]:
    first = outcome.first
    return (
        outcome.rule.rule_id if outcome.rule else None,
        (first.provider, first.model) if first else None,
    )


def project(
    current: Sequence[RoutingRule],
    proposed: Sequence[RoutingRule],
    samples: Sequence[Sample],
    known: Known,
    *,
    recorded_cost: int = 0,
) -> Report:
    """Route every sample under both rule sets and compare, overall and per rule."""
    now_order, new_order = evaluation_order(current), evaluation_order(proposed)
    counts = fallback_rates(samples)
    rates = {key: fell / tried for key, (tried, fell) in counts.items()}
    reports = _rule_reports(current, proposed)
    total_now, total_new = Side(), Side()
    moved = undetermined = 0
    for sample in samples:
        before, after = route(now_order, sample, known), route(new_order, sample, known)
        _add(total_now, before, sample, rates)
        _add(total_new, after, sample, rates)
        if not (before.determined and after.determined):
            undetermined += 1
        was, now = _key(before), _key(after)
        if was != now:
            moved += 1
        if before.rule is not None:
            report = reports[before.rule.rule_id]
            _add(report.current, before, sample, rates)
            if was[0] != now[0]:
                report.moved_out += 1
            elif was[1] != now[1]:
                report.retargeted += 1
        if after.rule is not None:
            report = reports[after.rule.rule_id]
            _add(report.proposed, after, sample, rates)
            if was[0] != now[0]:
                report.moved_in += 1
    return Report(
        calls=len(samples),
        moved=moved,
        undetermined=undetermined,
        recorded_cost=recorded_cost,
        current=total_now,
        proposed=total_new,
        rules=[reports[r.rule_id] for r in _listing(current, proposed)],
        fallback_rates=counts,
    )


def _rule_reports(
    current: Sequence[RoutingRule], proposed: Sequence[RoutingRule]
) -> dict[UUID, RuleReport]:
    before = {r.rule_id: r for r in current}
    after = {r.rule_id: r for r in proposed}
    reports: dict[UUID, RuleReport] = {}
    for rule_id in before.keys() | after.keys():
        old, new = before.get(rule_id), after.get(rule_id)
        if old is None:
            change = "created"
        elif new is None:
            change = "deleted"
        elif _same(old, new):
            change = "unchanged"
        else:
            change = "updated"
        name = (new or old).name  # type: ignore[union-attr]
        reports[rule_id] = RuleReport(rule_id, name, change)
    return reports


def _same(a: RoutingRule, b: RoutingRule) -> bool:
    return (a.name, a.priority, a.enabled, a.conditions, a.targets) == (
        b.name,
        b.priority,
        b.enabled,
        b.conditions,
        b.targets,
    )


def _listing(current: Sequence[RoutingRule], proposed: Sequence[RoutingRule]) -> list[RoutingRule]:
    """Proposed rules in evaluation order, then the deleted ones."""
    kept = {r.rule_id for r in proposed}
    return evaluation_order(proposed) + [
        r for r in evaluation_order(current) if r.rule_id not in kept
    ]
