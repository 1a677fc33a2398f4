"""Routing rules: the semantics every service shares (cognisys validates, arcana chooses)."""

from vareon_routing.replica import RuleBook
from vareon_routing.rules import (
    MATCH_BUDGET_S,
    PRIORITY_MAX,
    PRIORITY_MIN,
    Decision,
    InvalidRule,
    Match,
    NoRoute,
    Reason,
    RoutingRequest,
    RoutingRule,
    choose,
    condition_errors,
    evaluation_order,
    in_window,
    rule_errors,
)
from vareon_routing.text import MATCH_TIMEOUT_S, MAX_PATTERN_LENGTH, pattern_error

__all__ = [
    "MATCH_BUDGET_S",
    "MATCH_TIMEOUT_S",
    "MAX_PATTERN_LENGTH",
    "PRIORITY_MAX",
    "PRIORITY_MIN",
    "Decision",
    "InvalidRule",
    "Match",
    "NoRoute",
    "Reason",
    "RoutingRequest",
    "RoutingRule",
    "RuleBook",
    "choose",
    "condition_errors",
    "evaluation_order",
    "in_window",
    "pattern_error",
    "rule_errors",
]
