"""Costs in integer micro-credits; prices are per 1,000 tokens."""

from __future__ import annotations

import math

from vareon_contracts.events.cognisys import ModelTarget

from vareon_arcana import tokens


def cost(target: ModelTarget, tokens_in: int, tokens_out: int) -> int:
    return math.ceil(
        (tokens_in * target.input_price_per_1k + tokens_out * target.output_price_per_1k) / 1000
    )


def is_free(target: ModelTarget) -> bool:
    return target.input_price_per_1k == 0 and target.output_price_per_1k == 0


def maximum_cost(targets: list[ModelTarget], prompt_tokens: int, max_tokens: int) -> int:
    """The most any target on the fallback list can cost for this prompt."""
    prompt = math.ceil(prompt_tokens * tokens.PROMPT_MARGIN)
    return max((cost(t, prompt, max_tokens) for t in targets), default=0)
