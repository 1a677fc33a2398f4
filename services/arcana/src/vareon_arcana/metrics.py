"""What arcana counts for the AI usage dashboard: admissions, time to first token, tokens and
fallbacks per model. Model labels are the routing rules' model names (bounded by the rules)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

ADMISSIONS = Counter(
    "vareon_arcana_admissions_total",
    "Budget admissions of model calls: admitted (reserved, counted on commit), free, "
    "insufficient (402), no-balance (402: no wallet balance replicated yet)",
    ["outcome"],
)
TTFT = Histogram(
    "vareon_arcana_ttft_seconds",
    "From sending a model call to its first text, per model target",
    ["model"],
    buckets=(0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0),
)
TOKENS = Counter(
    "vareon_arcana_tokens_total",
    "Tokens the providers reported, per model and direction (prompt, completion)",
    ["model", "direction"],
)
FALLBACKS = Counter(
    "vareon_arcana_fallbacks_total",
    "Model targets given up for the next one (429/5xx/timeout/not configured)",
    ["model"],
)
TITLES = Counter(
    "vareon_arcana_titles_total",
    "Session titles per title model: generated, offline (the deterministic title), kept (the "
    "session was named meanwhile), failed (left untitled; the next exchange tries again)",
    ["model", "outcome"],
)
