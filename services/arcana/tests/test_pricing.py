"""Costs in micro-credits: rounded up, and the admission maximum over the fallback list."""

from __future__ import annotations

from vareon_arcana import pricing
from vareon_arcana.providers import OFFLINE

from .conftest import target


def test_cost_is_per_thousand_tokens_rounded_up() -> None:
    priced = target("m", price_in=1_000, price_out=3_000)
    assert pricing.cost(priced, 1_000, 1_000) == 4_000
    assert pricing.cost(priced, 1, 0) == 1
    assert pricing.cost(priced, 0, 1) == 3
    assert pricing.cost(target("cheap", price_in=1, price_out=1), 1, 1) == 1  # 0.002 -> 1
    assert pricing.cost(priced, 0, 0) == 0


def test_free_targets() -> None:
    assert pricing.is_free(OFFLINE)
    assert pricing.is_free(target("m"))
    assert not pricing.is_free(target("m", price_out=1))
    assert not pricing.is_free(target("m", price_in=1))


def test_maximum_cost_is_the_dearest_target_with_the_prompt_margin() -> None:
    cheap = target("cheap", price_in=1_000, price_out=1_000)
    dear_out = target("dear-out", price_in=1_000, price_out=5_000)
    dear_in = target("dear-in", price_in=20_000, price_out=1_000)
    # 1000 prompt tokens count as 1100 (the estimate's 10% margin), output at max_tokens.
    assert pricing.maximum_cost([cheap], 1_000, 500) == 1_100 + 500
    assert pricing.maximum_cost([cheap, dear_out], 1_000, 500) == 1_100 + 2_500
    assert pricing.maximum_cost([cheap, dear_out, dear_in], 1_000, 500) == 22_000 + 500
    assert pricing.maximum_cost([dear_in], 1_000, 500) >= pricing.cost(dear_in, 1_000, 500)


def test_maximum_cost_of_nothing_to_pay() -> None:
    assert pricing.maximum_cost([], 1_000, 500) == 0
    assert pricing.maximum_cost([OFFLINE], 1_000, 500) == 0
