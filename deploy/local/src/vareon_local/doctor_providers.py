"""`vareon doctor --providers`: arcana's model providers, as arcana itself is configured.

For each provider in arcana's settings (``ARCANA_PROVIDERS``, defaults included): is its key
set, does it answer (``GET <base>/models``; with ``--live`` also a 1-token chat completion on
a model the routing rules name for it), and which routing targets name a provider that is not
configured (arcana skips those; a rule with none left answers with the offline model). The
rules are read from arcana's replica: the running ``vareon up``'s database, or
``--arcana-database-url``. No model name is built in.
"""

from __future__ import annotations

import importlib
from typing import Any

import httpx
import psycopg

from vareon_local.doctor import Check

OPENAI_BASE = "https://api.openai.com/v1"
OFFLINE = "offline"
TIMEOUT_S = 10.0


def arcana_providers() -> dict[str, Any]:
    """name -> ProviderSettings, read the way arcana reads them (its env vars)."""
    settings = importlib.import_module("vareon_arcana.settings")
    providers: dict[str, Any] = settings.ArcanaSettings().providers
    return providers


def routing_targets(database_url: str) -> list[tuple[str, str, str]]:
    """(rule name, provider, model) of every target of arcana's live rule replica."""
    url = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(url, connect_timeout=5) as conn:
        rows = conn.execute("SELECT payload FROM routing_rules WHERE NOT deleted").fetchall()
    return [
        (payload["name"], target["provider"], target["model"])
        for (payload,) in rows
        for target in payload.get("targets", [])
    ]


def _answers(name: str, config: Any, live_model: str | None) -> Check:
    base = (config.base_url or OPENAI_BASE).rstrip("/")
    headers = {"Authorization": f"Bearer {config.api_key}"}
    try:
        with httpx.Client(base_url=base, headers=headers, timeout=TIMEOUT_S) as client:
            listed = client.get("/models")
            if listed.status_code != 200:
                return Check(
                    f"provider {name} answers", False, f"GET /models: {listed.status_code}"
                )
            count = len(listed.json().get("data", []))
            detail = f"GET /models: {count} models"
            if live_model is not None:
                reply = client.post(
                    "/chat/completions",
                    json={
                        "model": live_model,
                        "messages": [{"role": "user", "content": "ping"}],
                        "max_tokens": 1,
                        "stream": True,  # as arcana calls every provider
                        "stream_options": {"include_usage": True},
                    },
                )
                if reply.status_code != 200:
                    return Check(
                        f"provider {name} answers",
                        False,
                        f"{detail}; 1-token call on {live_model}: {reply.status_code}",
                    )
                detail += f"; 1-token call on {live_model}: ok"
    except (httpx.HTTPError, ValueError) as exc:
        return Check(f"provider {name} answers", False, f"{type(exc).__name__}: {exc}")
    return Check(f"provider {name} answers", True, detail)


def provider_checks(
    providers: dict[str, Any],
    targets: list[tuple[str, str, str]] | None,
    *,
    live: bool = False,
) -> list[Check]:
    """One row per provider (key set, answers) and per target naming an unusable provider.

    ``targets`` None: the rules could not be read (a warning row says so)."""
    checks = [Check(f"provider {OFFLINE}", True, "built in, free, always configured")]
    for name, config in sorted(providers.items()):
        if not config.api_key:
            checks.append(Check(f"provider {name}", False, "no api key set", warning=True))
            continue
        checks.append(Check(f"provider {name}", True, f"key set; {config.base_url or OPENAI_BASE}"))
        model = next((m for _, p, m in targets or [] if p == name), None) if live else None
        if live and model is None:
            checks.append(
                Check(f"provider {name} live", False, "no routing target names it", warning=True)
            )
        checks.append(_answers(name, config, model))
    if targets is None:
        checks.append(
            Check("routing targets", False, "rules not read (platform not running?)", warning=True)
        )
        return checks
    usable = {OFFLINE, *(n for n, c in providers.items() if c.api_key)}
    broken = [(rule, p, m) for rule, p, m in targets if p not in usable]
    for rule, provider, model in broken:
        why = "not configured" if provider in providers else "unknown to arcana"
        checks.append(Check(f"target {rule}: {provider}/{model}", False, f"provider {why}"))
    if not broken:
        checks.append(Check("routing targets", True, f"{len(targets)} targets, all configured"))
    return checks


def run_provider_checks(database_url: str | None, *, live: bool = False) -> list[Check]:
    try:
        providers = arcana_providers()
    except Exception as exc:
        return [Check("arcana settings", False, f"{type(exc).__name__}: {exc}")]
    targets = None
    if database_url:
        try:
            targets = routing_targets(database_url)
        except psycopg.Error as exc:
            return [
                *provider_checks(providers, None, live=live),
                Check("arcana database", False, f"{type(exc).__name__}: {exc}", warning=True),
            ]
    return provider_checks(providers, targets, live=live)
