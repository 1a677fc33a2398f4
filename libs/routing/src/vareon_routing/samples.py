"""What a routed call leaves behind for later dry-runs: the rules' inputs, not the message.

A rule reads a request's category, the user's roles, the message length, the time of day,
and the text through its keywords and pattern. A sample keeps the first four as they were and,
for the text, only which of the rules' keywords and patterns it contained at the time (the
rules' *vocabulary*). A keyword or pattern added to the rules later is unknown for older
samples: the dry-run says so instead of guessing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from time import monotonic

import regex

from vareon_routing.rules import MATCH_BUDGET_S, RoutingRule
from vareon_routing.text import (
    MATCH_TIMEOUT_S,
    PatternTimeout,
    compile_keywords,
    compile_pattern,
    search,
)


def keyword_term(keyword: str) -> str:
    """A keyword as a sample records it (keywords match without case, any inner whitespace)."""
    return " ".join(keyword.casefold().split())


def pattern_term(pattern: str) -> str:
    """A pattern as a sample records it: a digest (the pattern is the rule author's text)."""
    return "p:" + hashlib.sha256(pattern.encode()).hexdigest()[:20]


def terms_of(rules: Iterable[RoutingRule]) -> frozenset[str]:
    """Every term a sample would record for these rules (the vocabulary)."""
    found: set[str] = set()
    for rule in rules:
        found.update(keyword_term(k) for k in rule.conditions.keywords if k.strip())
        if rule.conditions.pattern:
            found.add(pattern_term(rule.conditions.pattern))
    return frozenset(found)


@dataclass(frozen=True)
class TextFeatures:
    terms: frozenset[str]
    """The vocabulary's keywords (``keyword_term``) and patterns (``pattern_term``) found."""
    complete: bool
    """Every term was checked; False when the time budget ran out first."""


class Vocabulary:
    """The rules' keywords and patterns, compiled once for many texts."""

    def __init__(self, rules: Iterable[RoutingRule]) -> None:
        keywords: dict[str, regex.Pattern[str]] = {}
        patterns: dict[str, regex.Pattern[str]] = {}
        for rule in rules:
            for keyword in rule.conditions.keywords:
                term = keyword_term(keyword)
                if term and term not in keywords:
                    compiled = compile_keywords([keyword])
                    if compiled is not None:
                        keywords[term] = compiled
            if rule.conditions.pattern:
                term = pattern_term(rule.conditions.pattern)
                if term not in patterns:
                    patterns[term] = compile_pattern(rule.conditions.pattern)
        # Keywords first: they are cheap and the common case.
        self._checks = list(keywords.items()) + list(patterns.items())

    def __len__(self) -> int:
        return len(self._checks)

    def observe(
        self,
        text: str,
        *,
        budget_s: float = MATCH_BUDGET_S,
        timeout_s: float = MATCH_TIMEOUT_S,
    ) -> TextFeatures:
        """Which terms ``text`` contains, within ``budget_s`` in all. Blocking (run in a thread)."""
        deadline = monotonic() + budget_s
        found: set[str] = set()
        for term, compiled in self._checks:
            left = min(timeout_s, deadline - monotonic())
            if left <= 0:
                return TextFeatures(frozenset(found), complete=False)
            try:
                if search(compiled, text, left).matched:
                    found.add(term)
            except PatternTimeout:
                return TextFeatures(frozenset(found), complete=False)
        return TextFeatures(frozenset(found), complete=True)
