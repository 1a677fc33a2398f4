"""Grafana dashboards as code: `python deploy/observability/dashboards.py [--check]` writes
(or checks) grafana/dashboards/*.json, which Grafana provisions from files. Over 400 lines:
it is the three dashboards' panels as data, one panel per call.

Every query reads only metric names the services expose (tests/deploy/test_observability.py
checks each one against the services' registries). Replicas of one consumer all report the
group's lag of every partition, so lag is ``max by (consumer, topic, partition)`` first.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = HERE / "grafana" / "dashboards"
PROMETHEUS = {"type": "prometheus", "uid": "prometheus"}
WIDTH = 24


class Board:
    def __init__(self, uid: str, title: str, description: str) -> None:
        self.uid, self.title, self.description = uid, title, description
        self.panels: list[dict[str, Any]] = []
        self._x = self._y = 0
        self._row_height = 0

    def row(self, title: str) -> None:
        self._newline()
        self.panels.append(
            {
                "type": "row",
                "title": title,
                "id": len(self.panels) + 1,
                "gridPos": {"x": 0, "y": self._y, "w": WIDTH, "h": 1},
                "collapsed": False,
                "panels": [],
            }
        )
        self._y += 1

    def _newline(self) -> None:
        if self._x:
            self._x, self._y = 0, self._y + self._row_height
            self._row_height = 0

    def panel(
        self,
        kind: str,
        title: str,
        targets: list[tuple[str, str]],
        *,
        unit: str = "short",
        width: int = 8,
        height: int = 8,
        description: str = "",
    ) -> None:
        if self._x + width > WIDTH:
            self._newline()
        self.panels.append(
            {
                "type": kind,
                "title": title,
                "description": description,
                "id": len(self.panels) + 1,
                "datasource": PROMETHEUS,
                "gridPos": {"x": self._x, "y": self._y, "w": width, "h": height},
                "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                "options": {"legend": {"displayMode": "table", "placement": "bottom"}}
                if kind == "timeseries"
                else {},
                "targets": [
                    {"refId": chr(ord("A") + i), "expr": expr, "legendFormat": legend}
                    for i, (expr, legend) in enumerate(targets)
                ],
            }
        )
        self._x += width
        self._row_height = max(self._row_height, height)

    def render(self, variables: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": ["vareon"],
            "timezone": "utc",
            "schemaVersion": 39,
            "version": 1,
            "editable": False,
            "refresh": "30s",
            "time": {"from": "now-6h", "to": "now"},
            "templating": {"list": variables},
            "annotations": {"list": []},
            "panels": self.panels,
        }


def variable(name: str, query: str) -> dict[str, Any]:
    return {
        "name": name,
        "type": "query",
        "datasource": PROMETHEUS,
        "query": {"query": query, "refId": name},
        "definition": query,
        "refresh": 2,
        "includeAll": True,
        "multi": True,
        "allValue": ".*",
        "current": {"text": "All", "value": "$__all"},
    }


def overview() -> dict[str, Any]:
    b = Board("vareon-overview", "Vareon: platform overview", "Traffic, errors, latency, health")
    svc = 'service=~"$service"'
    b.row("Health")
    b.panel("stat", "Services up", [('sum(up{job=~"vareon-.*"})', "up")], width=6, height=4)
    b.panel(
        "stat",
        "5xx share (5m)",
        [
            (
                f'sum(rate(vareon_http_requests_total{{{svc},status=~"5.."}}[5m]))'
                f" / clamp_min(sum(rate(vareon_http_requests_total{{{svc}}}[5m])), 1e-9)",
                "5xx",
            )
        ],
        unit="percentunit",
        width=6,
        height=4,
    )
    b.panel(
        "stat",
        "Requests/s",
        [(f"sum(rate(vareon_http_requests_total{{{svc}}}[5m]))", "req/s")],
        unit="reqps",
        width=6,
        height=4,
    )
    b.panel(
        "stat",
        "Consumer lag (records)",
        [("sum(max by (consumer, topic, partition) (vareon_consumer_lag))", "lag")],
        width=6,
        height=4,
    )
    b.row("HTTP")
    b.panel(
        "timeseries",
        "Requests/s by service and status class",
        [
            (
                f"sum by (service, code) (label_replace(rate(vareon_http_requests_total{{{svc}}}"
                f'[5m]), "code", "${{1}}xx", "status", "(.).."))',
                "{{service}} {{code}}",
            )
        ],
        unit="reqps",
        width=12,
    )
    b.panel(
        "timeseries",
        "p95 latency by route template",
        [
            (
                "histogram_quantile(0.95, sum by (le, service, route) "
                f"(rate(vareon_http_request_seconds_bucket{{{svc}}}[5m])))",
                "{{service}} {{route}}",
            )
        ],
        unit="s",
        width=12,
    )
    b.panel(
        "timeseries",
        "Gateway: upstream errors/s by service",
        [
            (
                "sum by (service, problem) (rate(vareon_gateway_upstream_errors_total[5m]))",
                "{{service}} {{problem}}",
            )
        ],
        unit="reqps",
    )
    b.panel(
        "timeseries",
        "Gateway: rate-limit refusals/s by route class",
        [("sum by (policy) (rate(vareon_gateway_rate_limited_total[5m]))", "{{policy}}")],
        unit="reqps",
    )
    b.panel(
        "timeseries",
        "Gateway: p99 latency by route template",
        [
            (
                "topk(15, histogram_quantile(0.99, sum by (le, route) (rate("
                'vareon_http_request_seconds_bucket{service="gateway"}[5m]))))',
                "{{route}}",
            )
        ],
        description="The services' route templates; proxy:<service> where the edge answered "
        "itself (refusals, upstream errors).",
        unit="s",
    )
    b.row("Wallet")
    b.panel(
        "timeseries",
        "Transfers/s by kind",
        [("sum by (kind) (rate(vareon_wallet_transfers_total[5m]))", "{{kind}}")],
        unit="ops",
        width=12,
    )
    b.panel(
        "timeseries",
        "Credits moved/s by kind (micro-credits)",
        [("sum by (kind) (rate(vareon_wallet_transferred_micro_total[5m]))", "{{kind}}")],
        width=12,
    )
    return b.render([variable("service", "label_values(vareon_http_requests_total, service)")])


def messaging() -> dict[str, Any]:
    b = Board(
        "vareon-messaging",
        "Vareon: messaging",
        "Outbox relay, consumers, lag, retries, dead letters",
    )
    b.row("Outbox and relay")
    b.panel(
        "timeseries",
        "Outbox rows pending",
        [("max by (service) (vareon_outbox_pending)", "{{service}}")],
    )
    b.panel(
        "timeseries",
        "Oldest pending row age",
        [("max by (service) (vareon_outbox_oldest_pending_age_seconds)", "{{service}}")],
        unit="s",
    )
    b.panel(
        "timeseries",
        "Quarantined rows",
        [("max by (service) (vareon_outbox_quarantined)", "{{service}}")],
    )
    b.panel(
        "timeseries",
        "Records published/s",
        [("sum by (service) (rate(vareon_outbox_published_total[5m]))", "{{service}}")],
        unit="ops",
    )
    b.panel(
        "timeseries",
        "Relay batches/s",
        [("sum by (service) (rate(vareon_outbox_relay_batches_total[5m]))", "{{service}}")],
        unit="ops",
    )
    b.panel(
        "timeseries",
        "Relay errors/s",
        [("sum by (service) (rate(vareon_outbox_relay_errors_total[5m]))", "{{service}}")],
        unit="ops",
    )
    b.row("Consumers")
    b.panel(
        "timeseries",
        "Lag by consumer group",
        [
            (
                "sum by (consumer) (max by (consumer, topic, partition) (vareon_consumer_lag))",
                "{{consumer}}",
            )
        ],
        width=12,
    )
    b.panel(
        "timeseries",
        "Lag by partition",
        [
            (
                "max by (consumer, topic, partition) (vareon_consumer_lag)",
                "{{consumer}} {{topic}}[{{partition}}]",
            )
        ],
        width=12,
    )
    b.panel(
        "timeseries",
        "Events/s by consumer and outcome",
        [
            (
                "sum by (consumer, outcome) (rate(vareon_events_consumed_total[5m]))",
                "{{consumer}} {{outcome}}",
            )
        ],
        unit="ops",
        width=12,
    )
    b.panel(
        "timeseries",
        "p95 processing time by event type",
        [
            (
                "histogram_quantile(0.95, sum by (le, event_type) "
                "(rate(vareon_event_processing_seconds_bucket[5m])))",
                "{{event_type}}",
            )
        ],
        unit="s",
        width=12,
    )
    b.panel(
        "timeseries",
        "Handler retries/s",
        [
            (
                "sum by (consumer, event_type) (rate(vareon_consumer_retries_total[5m]))",
                "{{consumer}} {{event_type}}",
            )
        ],
        unit="ops",
    )
    b.panel(
        "timeseries",
        "Dead letters (1h)",
        [
            (
                "sum by (consumer, topic, reason) (increase(vareon_dead_letters_total[1h]))",
                "{{consumer}} {{topic}} {{reason}}",
            )
        ],
    )
    b.panel(
        "timeseries",
        "Inbox duplicates/s (redeliveries absorbed)",
        [
            (
                'sum by (consumer) (rate(vareon_events_consumed_total{outcome="duplicate"}[5m]))',
                "{{consumer}}",
            )
        ],
        unit="ops",
    )
    b.panel(
        "timeseries",
        "Consumers waiting out an outage",
        [("max by (consumer) (vareon_consumer_stalled)", "{{consumer}}")],
        width=12,
    )
    b.panel(
        "timeseries",
        "Outage retries/s",
        [("sum by (consumer) (rate(vareon_consumer_outage_retries_total[5m]))", "{{consumer}}")],
        unit="ops",
        width=12,
    )
    return b.render([])


def ai_usage() -> dict[str, Any]:
    b = Board("vareon-ai", "Vareon: AI usage", "Admissions, time to first token, tokens, fallbacks")
    model = 'model=~"$model"'
    b.row("Admission")
    b.panel(
        "timeseries",
        "Admissions/s by outcome",
        [("sum by (outcome) (rate(vareon_arcana_admissions_total[5m]))", "{{outcome}}")],
        unit="ops",
        width=12,
    )
    b.panel(
        "stat",
        "Refused share (1h)",
        [
            (
                'sum(increase(vareon_arcana_admissions_total{outcome=~"insufficient|no-balance"}'
                "[1h])) / clamp_min(sum(increase(vareon_arcana_admissions_total[1h])), 1)",
                "refused",
            )
        ],
        unit="percentunit",
        width=12,
    )
    b.row("Models")
    for q in ("0.5", "0.95"):
        b.panel(
            "timeseries",
            f"Time to first token p{q[2:] or '50'} by model",
            [
                (
                    f"histogram_quantile({q}, sum by (le, model) "
                    f"(rate(vareon_arcana_ttft_seconds_bucket{{{model}}}[5m])))",
                    "{{model}}",
                )
            ],
            unit="s",
            width=12,
        )
    b.panel(
        "timeseries",
        "Tokens/s by model and direction",
        [
            (
                f"sum by (model, direction) (rate(vareon_arcana_tokens_total{{{model}}}[5m]))",
                "{{model}} {{direction}}",
            )
        ],
        width=12,
    )
    b.panel(
        "timeseries",
        "Fallbacks/s by model given up",
        [(f"sum by (model) (rate(vareon_arcana_fallbacks_total{{{model}}}[5m]))", "{{model}}")],
        unit="ops",
        width=12,
    )
    b.panel(
        "timeseries",
        "Usage debits/s (wallet)",
        [('sum(rate(vareon_wallet_transfers_total{kind="usage"}[5m]))', "usage")],
        unit="ops",
        width=12,
    )
    return b.render([variable("model", "label_values(vareon_arcana_tokens_total, model)")])


DASHBOARDS = {"platform-overview": overview, "messaging": messaging, "ai-usage": ai_usage}


def rendered() -> dict[Path, str]:
    return {
        OUT / f"{name}.json": json.dumps(build(), indent=2) + "\n"
        for name, build in DASHBOARDS.items()
    }


def main(argv: list[str]) -> int:
    stale = [p for p, text in rendered().items() if not p.exists() or p.read_text() != text]
    if "--check" in argv:
        for path in stale:
            print(f"out of date: {path.relative_to(HERE)}")
        return 1 if stale else 0
    OUT.mkdir(parents=True, exist_ok=True)
    for path, text in rendered().items():
        path.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
