from __future__ import annotations

import time as clock
import uuid
from datetime import UTC, datetime, time, timedelta, timezone

import pytest
from vareon_contracts.events.cognisys import RuleConditions
from vareon_routing import InvalidRule, NoRoute, RoutingRequest, choose, condition_errors
from vareon_routing.rules import SPENT

from .factories import FALLBACK, TARGET, default_rule, request, rule


def test_a_rule_without_conditions_matches_everything():
    match = rule().matches(request())
    assert match.matched
    assert match.reasons[0].condition == "conditions"


def test_category_is_compared_without_case():
    r = rule(categories=["Coding"])
    assert r.matches(request(category="coding")).matched
    miss = r.matches(request(category="chat"))
    assert not miss.matched
    assert miss.reasons[0].condition == "category"
    assert not r.matches(request(category=None)).matched


def test_roles_need_any_one_of_the_listed_roles():
    r = rule(roles=["admin", "pro"])
    assert r.matches(request(roles=("user", "pro"))).matched
    assert not r.matches(request(roles=("user",))).matched


@pytest.mark.parametrize(
    ("text", "held"), [("abc", False), ("abcd", True), ("abcdefgh", True), ("abcdefghi", False)]
)
def test_length_bounds_are_inclusive(text, held):
    assert rule(min_length=4, max_length=8).matches(request(text)).matched is held


@pytest.mark.parametrize(
    ("text", "held"),
    [
        ("Please write PYTHON code", True),
        ("python.", True),
        ("pythonic code", False),
        ("cpython", False),
        ("I like C++ a lot", True),
        ("I like c++", True),
        ("Machine \n  Learning rocks", True),
        ("machinelearning", False),
    ],
)
def test_keywords_match_whole_words_in_any_case(text, held):
    r = rule(keywords=["python", "c++", "machine learning"])
    match = r.matches(request(text))
    assert match.matched is held
    assert match.reasons[0].condition == "keywords"


def test_keywords_use_full_case_folding():
    assert rule(keywords=["straße"]).matches(request("STRASSE")).matched


def test_pattern_is_searched_anywhere_and_reported():
    r = rule(pattern=r"\bticket-\d+\b")
    match = r.matches(request("see ticket-42 please"))
    assert match.matched
    assert match.reasons[0].detail == "pattern matched 'ticket-42'"
    assert not r.matches(request("no ticket here")).matched


def test_catastrophic_pattern_times_out_as_no_match():
    r = rule(pattern=r"(a|aa)+$")
    started = clock.monotonic()
    match = r.matches(request("a" * 60 + "b"), timeout_s=0.05)
    assert clock.monotonic() - started < 2.0  # unbounded, this takes longer than the universe
    assert not match.matched
    assert match.timed_out
    assert "timed out after 50 ms" in match.reasons[-1].detail


def test_choose_passes_over_a_timed_out_rule_to_the_next():
    evil = rule(100, pattern=r"(a|aa)+$")
    decision = choose([evil, default_rule()], request("a" * 60 + "b"), timeout_s=0.02)
    assert decision.used_default
    assert decision.passed_over[0][1].timed_out


def test_slow_rules_share_one_budget_per_request():
    """Issue 16 item 10: twenty pathological rules do not each run to their timeout; once
    the request's budget is spent the rest count as no match without running."""
    evil = [rule(100 + n, pattern=r"(a|aa)+$") for n in range(20)]
    decision = choose([*evil, default_rule()], request("a" * 60 + "b"), timeout_s=0.05)
    assert decision.used_default
    details = [m.reasons[-1].detail for _, m in decision.passed_over]
    ran = [d for d in details if "timed out" in d]
    assert 1 <= len(ran) <= 6  # the 0.25 s default budget over 50 ms timeouts
    assert details[len(ran) :] == [SPENT] * (20 - len(ran))
    assert all(m.timed_out for _, m in decision.passed_over)


@pytest.mark.parametrize(
    ("start", "end", "moment", "held"),
    [
        (time(9), time(17), time(9), True),
        (time(9), time(17), time(16, 59, 59), True),
        (time(9), time(17), time(17), False),
        (time(22), time(6), time(23, 30), True),
        (time(22), time(6), time(0, 0), True),
        (time(22), time(6), time(5, 59), True),
        (time(22), time(6), time(6), False),
        (time(22), time(6), time(12), False),
        (time(22), None, time(23), True),
        (time(22), None, time(21), False),
        (None, time(6), time(5), True),
        (None, time(6), time(7), False),
    ],
)
def test_time_window_in_utc_wraps_past_midnight(start, end, moment, held):
    now = datetime.combine(datetime(2026, 11, 26).date(), moment, tzinfo=UTC)
    r = rule(active_from=start, active_until=end)
    assert r.matches(request(now=now)).matched is held


def test_time_window_converts_the_request_time_to_utc():
    r = rule(active_from=time(9), active_until=time(10))
    berlin = timezone(timedelta(hours=1))
    assert r.matches(request(now=datetime(2026, 11, 26, 10, 30, tzinfo=berlin))).matched
    assert not r.matches(request(now=datetime(2026, 11, 26, 9, 30, tzinfo=berlin))).matched


def test_request_time_must_be_aware():
    with pytest.raises(ValueError, match="timezone-aware"):
        RoutingRequest(category=None, roles=frozenset(), text="", now=datetime(2026, 1, 1))


def test_all_conditions_must_hold_and_every_one_is_explained():
    r = rule(categories=["coding"], roles=["pro"], keywords=["rust"], max_length=100)
    match = r.matches(request("rust please", category="coding", roles=("pro",)))
    assert match.matched
    assert [x.condition for x in match.reasons] == ["category", "roles", "length", "keywords"]
    miss = r.matches(request("go please", category="chat", roles=("pro",)))
    assert [(x.condition, x.held) for x in miss.reasons] == [
        ("category", False),
        ("roles", True),
        ("length", True),
        ("keywords", False),
    ]


def test_non_exhaustive_match_stops_at_first_failure():
    r = rule(categories=["coding"], pattern=r"(a|aa)+$")
    miss = r.matches(request("a" * 60 + "b", category="chat"), exhaustive=False)
    assert [x.condition for x in miss.reasons] == ["category"]


def test_disabled_rule_never_matches():
    match = rule(enabled=False).matches(request())
    assert not match.matched
    assert match.reasons[0].condition == "enabled"


def test_choose_takes_the_highest_priority_match():
    low, high = rule(10), rule(50, keywords=["urgent"])
    decision = choose([low, high, default_rule()], request("urgent: help"))
    assert decision.rule is high
    assert decision.passed_over == ()
    decision = choose([low, high, default_rule()], request("help"))
    assert decision.rule is low
    assert [r for r, _ in decision.passed_over] == [high]


def test_priority_ties_go_to_the_lower_rule_id():
    a = rule(10, rule_id=uuid.UUID(int=1))
    b = rule(10, rule_id=uuid.UUID(int=2))
    assert choose([b, a], request()).rule is a


def test_default_rule_is_chosen_last_and_returns_its_targets():
    fallback = default_rule()
    decision = choose([rule(1000, categories=["coding"]), fallback], request(category="chat"))
    assert decision.rule is fallback
    assert decision.used_default
    assert decision.targets == (FALLBACK,)
    assert decision.match.reasons[0].condition == "default"


def test_targets_keep_their_order_for_fallbacks():
    r = rule(targets=(TARGET, FALLBACK))
    assert choose([r], request()).targets == (TARGET, FALLBACK)


def test_no_rule_and_no_default_is_no_route():
    with pytest.raises(NoRoute):
        choose([rule(categories=["x"])], request(category="y"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"priority": -1}, "priority"),
        ({"priority": 1001}, "priority"),
        ({"targets": ()}, "at least one target"),
        ({"pattern": "("}, "does not compile"),
        ({"pattern": "a" * 501}, "longer than 500"),
        ({"pattern": ""}, "must not be empty"),
        ({"min_length": 5, "max_length": 4}, "min_length"),
        ({"keywords": [" "]}, "blank"),
        ({"active_from": time(3), "active_until": time(3)}, "differ"),
        ({"active_from": time(3, tzinfo=timezone(timedelta(hours=2)))}, "UTC"),
    ],
)
def test_invalid_rules_are_refused_at_creation(kwargs, message):
    priority = kwargs.pop("priority", 10)
    with pytest.raises(InvalidRule, match=message):
        rule(priority, **kwargs)


def test_condition_errors_lists_every_problem():
    errors = condition_errors(RuleConditions(pattern="(", min_length=-1))
    assert len(errors) == 2
