from __future__ import annotations

import dataclasses
from datetime import datetime

import pytest
from vareon_contracts.events.cognisys import ModelTarget
from vareon_routing.dryrun import Sample, cost, matches, project, route
from vareon_routing.rules import evaluation_order
from vareon_routing.samples import Vocabulary, keyword_term, pattern_term, terms_of

from .factories import FALLBACK, NOON, TARGET, default_rule, rule

CHEAP = ModelTarget(provider="openai", model="mini", input_price_per_1k=1, output_price_per_1k=2)


def always(term: str, at: datetime) -> bool:
    return True


def never(term: str, at: datetime) -> bool:
    return False


def sample(**changes) -> Sample:
    base = Sample(
        at=NOON,
        category="general",
        roles=frozenset({"user"}),
        length=20,
        terms=frozenset(),
        text_complete=True,
        tokens_in=1000,
        tokens_out=1000,
        first=("openai", "gpt-x"),
        fell_back=False,
    )
    return dataclasses.replace(base, **changes)


def test_vocabulary_records_the_rules_keywords_and_patterns_found_not_the_text():
    rules = [rule(keywords=["Machine  Learning", "learning"]), rule(pattern=r"\d{3}")]
    seen = Vocabulary(rules).observe("I like machine learning, room 101")
    assert seen.complete
    assert seen.terms == {"machine learning", "learning", pattern_term(r"\d{3}")}
    assert terms_of(rules) == seen.terms
    assert Vocabulary(rules).observe("nothing here").terms == frozenset()


def test_a_spent_budget_leaves_the_features_incomplete():
    seen = Vocabulary([rule(keywords=["a"])]).observe("a", budget_s=0)
    assert not seen.complete


def test_conditions_are_read_from_the_sample():
    assert matches(rule(categories=["General"]), sample(), always)
    assert not matches(rule(categories=["code"]), sample(), always)
    assert not matches(rule(roles=["admin"]), sample(), always)
    assert matches(rule(max_length=20), sample(), always)
    assert not matches(rule(min_length=21), sample(), always)
    assert not matches(rule(enabled=False), sample(), always)
    assert matches(rule(keywords=["Learning"]), sample(terms=frozenset({"learning"})), always)


def test_a_term_the_rules_did_not_have_then_is_unknown():
    proposed = rule(keywords=["invoice"])
    assert matches(proposed, sample(), always) is False
    assert matches(proposed, sample(), never) is None
    assert matches(proposed, sample(text_complete=False), always) is None
    # Found is found, whatever else is unknown.
    assert matches(proposed, sample(terms=frozenset({"invoice"})), never) is True


def test_an_unknown_before_the_chosen_rule_makes_the_route_undetermined():
    high, low = rule(50, keywords=["invoice"]), default_rule()
    outcome = route(evaluation_order([high, low]), sample(), never)
    assert outcome.rule is low and not outcome.determined
    assert route(evaluation_order([high, low]), sample(), always).determined


def test_projection_counts_moves_costs_and_unmatched_calls():
    default = default_rule()
    coding = rule(50, categories=["code"], targets=(TARGET, FALLBACK))
    calls = [sample(category="code"), sample(category="code"), sample()]
    cheaper = dataclasses.replace(coding, targets=(CHEAP,))
    catch_all = rule(10, keywords=["hello"], targets=(CHEAP,))
    report = project(
        [default, coding],
        [default, cheaper, catch_all],
        calls,
        always,
    )
    assert report.calls == 3
    # Today: two calls on gpt-x (1000 in x 10 + 1000 out x 30 = 40 per call), one on the default.
    assert report.current.cost == 2 * cost(TARGET, 1000, 1000) == 80
    assert report.proposed.cost == 2 * cost(CHEAP, 1000, 1000) == 6
    assert report.current.unmatched == 1 and report.proposed.unmatched == 1
    assert report.moved == 2
    by_id = {r.rule_id: r for r in report.rules}
    assert by_id[coding.rule_id].change == "updated"
    assert by_id[coding.rule_id].retargeted == 2
    assert by_id[catch_all.rule_id].change == "created"
    assert by_id[catch_all.rule_id].proposed.calls == 0
    assert by_id[default.rule_id].change == "unchanged"
    assert report.undetermined == 0


def test_deleting_a_rule_moves_its_calls_to_the_next_that_matches():
    default, coding = default_rule(), rule(50, categories=["code"])
    report = project([default, coding], [default], [sample(category="code")], always)
    by_id = {r.rule_id: r for r in report.rules}
    assert by_id[coding.rule_id].change == "deleted"
    assert by_id[coding.rule_id].moved_out == 1
    assert by_id[default.rule_id].moved_in == 1
    assert report.proposed.unmatched == 1 and report.current.unmatched == 0


def test_fallback_exposure_uses_each_first_targets_observed_rate():
    calls = [
        sample(first=("openai", "gpt-x"), fell_back=True),
        sample(first=("openai", "gpt-x"), fell_back=False),
        sample(first=("offline", "vareon-offline-1"), fell_back=False),
        sample(first=("offline", "vareon-offline-1"), fell_back=False),
    ]
    everything_to_gpt = rule(10, targets=(TARGET,))
    report = project([default_rule()], [default_rule(), everything_to_gpt], calls, always)
    assert report.fallback_rates[("openai", "gpt-x")] == (2, 1)
    assert report.current.expected_fallbacks == 0.0
    assert report.proposed.expected_fallbacks == pytest.approx(2.0)
    assert report.proposed.single_target == 4
    to_mini = rule(10, targets=(CHEAP,))
    assert project([default_rule()], [to_mini], calls, always).proposed.unobserved == 4


def test_no_default_and_no_match_is_a_call_with_no_route():
    report = project([rule(categories=["code"])], [rule(categories=["x"])], [sample()], always)
    assert report.current.no_route == 1 and report.proposed.no_route == 1
    assert report.current.cost == 0


def test_keyword_terms_fold_case_and_whitespace():
    assert keyword_term("  Machine\tLearning ") == "machine learning"
    assert pattern_term("a+") != pattern_term("a*")
