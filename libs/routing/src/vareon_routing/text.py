"""Text conditions: user patterns run by `regex` under a timeout, keywords on word boundaries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import regex

MATCH_TIMEOUT_S = 0.05
MAX_PATTERN_LENGTH = 500


class PatternTimeout(Exception):
    """A pattern ran past its time budget (catastrophic backtracking, or a huge text)."""


def pattern_error(pattern: str) -> str | None:
    """Why ``pattern`` cannot be a rule's pattern, or None when it can."""
    if not pattern:
        return "pattern must not be empty (omit it to match any text)"
    if len(pattern) > MAX_PATTERN_LENGTH:
        return f"pattern is longer than {MAX_PATTERN_LENGTH} characters"
    try:
        regex.compile(pattern)
    except (regex.error, ValueError, OverflowError, RecursionError) as exc:
        return f"pattern does not compile: {exc}"
    return None


def compile_pattern(pattern: str) -> regex.Pattern[str]:
    error = pattern_error(pattern)
    if error is not None:
        raise ValueError(error)
    return regex.compile(pattern)


def compile_keywords(keywords: Sequence[str]) -> regex.Pattern[str] | None:
    """One case-insensitive alternation; a keyword must not touch a word character either side.

    Lookarounds rather than ``\\b`` so that keywords such as ``c++`` or ``.net`` work too.
    Inner whitespace matches any run of whitespace.
    """
    words = [k.split() for k in keywords if k.strip()]
    if not words:
        return None
    alternatives = sorted(
        (r"\s+".join(regex.escape(w) for w in ws) for ws in words), key=len, reverse=True
    )
    return regex.compile(
        r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)", regex.IGNORECASE | regex.FULLCASE
    )


@dataclass(frozen=True)
class Found:
    matched: bool
    text: str | None = None


def search(pattern: regex.Pattern[str], text: str, timeout_s: float = MATCH_TIMEOUT_S) -> Found:
    """Search ``text``; raises PatternTimeout past ``timeout_s``."""
    try:
        found = pattern.search(text, timeout=timeout_s)
    except TimeoutError as exc:
        raise PatternTimeout(str(exc)) from exc
    return Found(True, found.group(0)) if found else Found(False)
