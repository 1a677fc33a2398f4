"""Properties of choose and of the time window, over generated rules and requests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time

from hypothesis import given, settings
from hypothesis import strategies as st
from vareon_routing import choose, evaluation_order, in_window

from .factories import default_rule, request, rule

CATEGORIES = ["chat", "coding", "vision"]
ROLES = ["user", "pro", "admin"]
WORDS = ["rust", "python", "invoice", "hello"]

times = st.times()
conditions = st.fixed_dictionaries(
    {},
    optional={
        "categories": st.lists(st.sampled_from(CATEGORIES), max_size=2),
        "roles": st.lists(st.sampled_from(ROLES), max_size=2),
        "keywords": st.lists(st.sampled_from(WORDS), max_size=2),
        "min_length": st.integers(0, 20),
        "active_from": times,
    },
)
rules = st.builds(
    lambda priority, rid, enabled, cond: rule(
        priority, rule_id=uuid.UUID(int=rid), enabled=enabled, **cond
    ),
    st.integers(0, 5),
    st.integers(1, 2**64),
    st.booleans(),
    conditions,
)
requests = st.builds(
    lambda text, category, roles, moment: request(
        text,
        category=category,
        roles=tuple(roles),
        now=datetime.combine(datetime(2026, 11, 26).date(), moment, tzinfo=UTC),
    ),
    st.lists(st.sampled_from([*WORDS, "x", "!"]), max_size=8).map(" ".join),
    st.sampled_from([None, *CATEGORIES]),
    st.lists(st.sampled_from(ROLES), max_size=2),
    times,
)


@settings(max_examples=150, deadline=None)
@given(st.lists(rules, max_size=8, unique_by=lambda r: r.rule_id), requests, st.randoms())
def test_choose_is_deterministic_and_ignores_input_order(found, req, random):
    fallback = default_rule()
    first = choose([*found, fallback], req)
    shuffled = [*found, fallback]
    random.shuffle(shuffled)
    again = choose(shuffled, req)
    assert again.rule == first.rule
    assert again.targets == first.targets


@settings(max_examples=150, deadline=None)
@given(st.lists(rules, max_size=8, unique_by=lambda r: r.rule_id), requests)
def test_the_choice_is_the_first_matching_rule_in_evaluation_order(found, req):
    fallback = default_rule()
    decision = choose([*found, fallback], req)
    matching = [r for r in evaluation_order(found) if r.matches(req).matched]
    if matching:
        assert decision.rule == matching[0]
        assert all(decision.rule.priority >= r.priority for r in matching)
    else:
        assert decision.rule == fallback
        assert decision.used_default
        assert len(decision.passed_over) == len(found)


@settings(max_examples=100, deadline=None)
@given(st.lists(rules, max_size=8), requests)
def test_the_default_wins_when_no_other_rule_can_match(found, req):
    unmatched = [rule(r.priority, rule_id=r.rule_id, categories=["never"]) for r in found]
    disabled = [rule(r.priority, enabled=False) for r in found]
    fallback = default_rule()
    assert choose([*unmatched, *disabled, fallback], req).rule == fallback


@given(times, times, times)
def test_a_wrapping_window_is_the_complement_of_its_reverse(start, end, moment):
    if start == end:
        assert not in_window(moment, start, end)
        return
    assert in_window(moment, start, end) != in_window(moment, end, start)


@given(
    st.sampled_from(WORDS),
    st.sampled_from(["", " ", "(", "."]),
    st.sampled_from(["", " ", ")", "!"]),
    st.booleans(),
)
def test_a_keyword_between_non_word_characters_matches_in_any_case(word, before, after, upper):
    text = before + (word.upper() if upper else word) + after
    assert rule(keywords=[word]).matches(request(text)).matched
    assert not rule(keywords=[word]).matches(request("x" + word + "x")).matched


def test_time_window_edges():
    assert in_window(time(0), time(23), time(1))
    assert not in_window(time(1), time(23), time(1))
