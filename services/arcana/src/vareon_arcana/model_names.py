"""What an OpenAI ``model`` names here: a model of the routing rules, or a way to route.

- ``vareon/auto``: the rules choose, as for arcana's own chat;
- ``category:<name>``: the rules choose for that category;
- a model id a rule's targets name (``gpt-4o-mini``) or the offline model: that model first,
  then the rest of the first rule that lists it as fallbacks.

A call with tools goes to the targets that take tools only (``with_tools``).

A caller may use the targets of enabled rules open to their roles (a rule without a role
condition is open to all) whose provider is configured, and the offline model.
"""

from __future__ import annotations

from dataclasses import replace

from vareon_chassis.errors import DomainError, NotFound
from vareon_contracts.events.cognisys import ModelTarget
from vareon_routing import RoutingRule, evaluation_order

from vareon_arcana.calls import Route
from vareon_arcana.providers import OFFLINE, Providers

AUTO = "vareon/auto"
CATEGORY = "category:"


class ModelNotFound(NotFound):
    type = "https://vareon.dev/problems/model-not-found"
    title = "Model not found"


class ToolsNotSupported(DomainError):
    type = "https://vareon.dev/problems/tools-not-supported"
    title = "Tools not supported"
    status = 400


def _open_to(rule: RoutingRule, roles: frozenset[str]) -> bool:
    wanted = rule.conditions.roles
    return rule.enabled and (not wanted or bool(roles.intersection(wanted)))


def usable_rules(
    rules: list[RoutingRule], roles: frozenset[str], providers: Providers
) -> list[tuple[RoutingRule, list[ModelTarget]]]:
    out = []
    for rule in evaluation_order(rules):
        if _open_to(rule, roles):
            targets = [t for t in rule.targets if providers.configured(t.provider)]
            if targets:
                out.append((rule, targets))
    return out


def models(
    rules: list[RoutingRule], roles: frozenset[str], providers: Providers
) -> list[ModelTarget]:
    """Each usable model once (its first rule's prices), the offline model last."""
    seen: dict[str, ModelTarget] = {}
    for _, targets in usable_rules(rules, roles, providers):
        for target in targets:
            seen.setdefault(target.model, target)
    seen.setdefault(OFFLINE.model, OFFLINE)
    return list(seen.values())


def explicit_route(
    model: str, rules: list[RoutingRule], roles: frozenset[str], providers: Providers
) -> Route:
    for rule, targets in usable_rules(rules, roles, providers):
        for target in targets:
            if target.model == model:
                return Route(rule.name, [target, *(t for t in targets if t != target)])
    if model == OFFLINE.model:
        return Route(None, [OFFLINE])
    raise ModelNotFound(
        f"the model {model!r} does not exist or you may not use it; GET /v1/models lists yours",
        param="model",
    )


def category_of(model: str) -> tuple[bool, str | None]:
    """(routed by the rules, the category) for ``vareon/auto`` and ``category:<name>``."""
    if model == AUTO:
        return True, None
    if model.startswith(CATEGORY) and len(model) > len(CATEGORY):
        return True, model[len(CATEGORY) :]
    return False, None


def with_tools(chosen: Route, providers: Providers) -> Route:
    """The route without the targets that cannot take tools (no fallback to them); a 400
    when none is left."""
    usable = [t for t in chosen.targets if providers.supports_tools(t.provider)]
    if not usable:
        raise ToolsNotSupported(
            f"the routed model {chosen.targets[0].model!r} does not support tools",
            param="tools",
        )
    return replace(chosen, targets=usable)
