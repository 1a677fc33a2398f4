"""deploy/observability checked offline: files well-formed, dashboards up to date with their
generator, every metric a dashboard or an alert reads is one the services expose (with the
labels it filters and groups on), the required alerts exist; promtool where installed."""

from __future__ import annotations

import importlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

ROOT = Path(__file__).resolve().parents[2]
HERE = ROOT / "deploy" / "observability"
SERVICES = ("gateway", "identity", "wallet", "arcana", "cognisys", "myntrix", "neosyntis")
BUILTIN: dict[str, set[str]] = {"up": set()}  # added by Prometheus to every target
TARGET_LABELS = {"job", "instance"}
KEYWORDS = {
    *("sum", "min", "max", "avg", "count", "topk", "bottomk", "quantile", "stddev"),
    *("rate", "irate", "increase", "delta", "histogram_quantile", "clamp_min", "clamp_max"),
    *("label_replace", "abs", "absent", "by", "without", "on", "ignoring", "group_left"),
    *("group_right", "and", "or", "unless", "bool", "offset", "humanizePercentage"),
}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_SELECTOR = re.compile(r"([a-zA-Z_:][\w:]*)\s*\{([^}]*)\}")
_MATCHER = re.compile(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)")


def exposed() -> dict[str, set[str]]:
    """Every sample name the services' registries can expose, with its label names."""
    for service in SERVICES:
        importlib.import_module(f"vareon_{service}.app")
    names: dict[str, set[str]] = dict(BUILTIN)
    for collector in list(REGISTRY._collector_to_names):
        labels = set(getattr(collector, "_labelnames", ()))
        kind = getattr(collector, "_type", None)
        for name in REGISTRY._collector_to_names[collector]:
            names[name] = labels | ({"le"} if kind == "histogram" else set())
    return names


def metric_names(expr: str) -> set[str]:
    s = _STRING.sub('""', expr)
    s = re.sub(r"\{[^}]*\}", "", s)
    s = re.sub(r"\[[^\]]*\]", "", s)
    s = _GROUPING.sub("", s)
    found = re.findall(r"(?<![\w$.])([a-zA-Z_:][\w:]*)\b(?!\s*\()", s)
    return {n for n in found if n not in KEYWORDS}


def made_labels(expr: str) -> set[str]:
    """Labels the expression itself creates (label_replace's destination)."""
    return (
        set(re.findall(r',\s*"([a-zA-Z_]\w*)"\s*,\s*"', expr)) if "label_replace" in expr else set()
    )


def dashboards() -> dict[str, dict[str, Any]]:
    return {
        p.name: json.loads(p.read_text())
        for p in sorted((HERE / "grafana/dashboards").glob("*.json"))
    }


def alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load((HERE / "alerts.yml").read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def expressions() -> list[tuple[str, str]]:
    out = [(f"alert {r['alert']}", str(r["expr"])) for r in alert_rules()]
    for name, board in dashboards().items():
        for panel in board["panels"]:
            for target in panel.get("targets", ()):
                out.append((f"{name}: {panel['title']}", target["expr"]))
        for var in board["templating"]["list"]:
            query = var["query"]["query"]
            inner = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", query)
            assert inner, f"{name}: variable {var['name']} is not label_values(metric, label)"
            out.append((f"{name}: variable {var['name']}", f'{inner[1]}{{{inner[2]}!=""}}'))
    return out


def test_files_are_well_formed_and_dashboards_up_to_date():
    for path in HERE.rglob("*.y*ml"):
        assert yaml.safe_load(path.read_text()) is not None, path
    boards = dashboards()
    assert set(boards) == {"platform-overview.json", "messaging.json", "ai-usage.json"}
    uids = [b["uid"] for b in boards.values()]
    assert len(set(uids)) == len(uids)
    for board in boards.values():
        ids = [p["id"] for p in board["panels"]]
        assert len(set(ids)) == len(ids), board["uid"]
    check = subprocess.run(
        [sys.executable, str(HERE / "dashboards.py"), "--check"], capture_output=True, text=True
    )
    assert check.returncode == 0, "run python deploy/observability/dashboards.py:\n" + check.stdout


def test_every_metric_read_is_exposed_with_the_labels_used():
    known = exposed()
    problems = []
    for where, expr in expressions():
        names = metric_names(expr)
        assert names, f"{where}: no metric in {expr!r}"
        for name in names - set(known):
            problems.append(f"{where}: {name} is not exposed by any service")
        usable = set().union(*(known.get(n, set()) for n in names)) | TARGET_LABELS
        for name, matchers in _SELECTOR.findall(_STRING.sub('""', expr)):
            for label in _MATCHER.findall(matchers):
                if name in known and label not in known[name] | TARGET_LABELS:
                    problems.append(f"{where}: {name} has no label {label!r}")
        for group in _GROUPING.findall(expr):
            for label in filter(None, (g.strip() for g in group.split(","))):
                if label not in usable | made_labels(expr):
                    problems.append(f"{where}: grouping by {label!r}, which none of {names} has")
    assert not problems, "\n".join(problems)


def test_the_validator_catches_a_name_nobody_exposes():
    known = exposed()
    assert metric_names('sum by (consumer) (rate(vareon_no_such_total{a="b"}[5m])) > 1e-9') == {
        "vareon_no_such_total"
    }
    assert "vareon_no_such_total" not in known
    assert "vareon_consumer_lag" in known and "partition" in known["vareon_consumer_lag"]
    assert "vareon_http_request_seconds_bucket" in known


def test_the_alerts_the_issue_asks_for_exist_and_say_what_to_do():
    rules = {r["alert"]: r for r in alert_rules()}
    for needed, metric in {
        "ConsumerLagHigh": "vareon_consumer_lag",
        "DeadLettersGrowing": "vareon_dead_letters_total",
        "OutboxOldestRowOld": "vareon_outbox_oldest_pending_age_seconds",
        "HighServerErrorRate": "vareon_http_requests_total",
        "BudgetAdmissionFailures": "vareon_arcana_admissions_total",
    }.items():
        assert metric in metric_names(str(rules[needed]["expr"])), needed
    for name, rule in rules.items():
        assert rule["labels"]["severity"] in {"info", "warning", "critical"}, name
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], name


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_promtool_accepts_the_rules_the_config_and_every_dashboard_query(tmp_path):
    rules = subprocess.run(
        ["promtool", "check", "rules", str(HERE / "alerts.yml")], capture_output=True, text=True
    )
    assert rules.returncode == 0, rules.stdout + rules.stderr
    config = (HERE / "prometheus.yml").read_text()
    config = config.replace("/etc/prometheus/alerts.yml", str(HERE / "alerts.yml"))
    (tmp_path / "token").write_text("t")
    config = config.replace("/run/secrets/prometheus-token", str(tmp_path / "token"))
    (tmp_path / "prometheus.yml").write_text(config)
    checked = subprocess.run(
        ["promtool", "check", "config", str(tmp_path / "prometheus.yml")],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # every dashboard query parses as PromQL: as recording rules, which promtool checks
    recorded = [
        {"record": f"vareon:dashboard_query_{i}", "expr": expr}
        for i, (_, expr) in enumerate(expressions())
    ]
    (tmp_path / "queries.yml").write_text(
        yaml.safe_dump({"groups": [{"name": "dashboards", "rules": recorded}]})
    )
    queries = subprocess.run(
        ["promtool", "check", "rules", str(tmp_path / "queries.yml")],
        capture_output=True,
        text=True,
    )
    assert queries.returncode == 0, queries.stdout + queries.stderr


def _prod_monitoring() -> list[dict[str, Any]]:
    path = ROOT / "deploy" / "k8s" / "overlays" / "prod" / "monitoring.yaml"
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def test_prod_scrapes_every_api_pod_and_ships_the_alert_rules():
    from vareon_deploy_generate import discover  # registered by tests/deploy/conftest.py

    services = discover()
    objects = {(o["kind"], o["metadata"]["name"]): o for o in _prod_monitoring()}
    scraped: set[str] = set()
    for name in ("vareon-services", "vareon-gateway"):
        spec = objects[("PodMonitor", name)]["spec"]
        assert spec["selector"]["matchLabels"] == {"app.kubernetes.io/component": "api"}
        (names,) = spec["selector"]["matchExpressions"]
        assert names["key"] == "app.kubernetes.io/name" and names["operator"] == "In"
        scraped |= set(names["values"])
        (endpoint,) = spec["podMetricsEndpoints"]
        assert endpoint["port"] == "http" and endpoint["path"] == "/metrics"
        # the gateway's /metrics needs system:read; the services' do not
        assert ("authorization" in endpoint) == (name == "vareon-gateway")
    assert scraped == {s.name for s in services}
    rule = objects[("PrometheusRule", "vareon")]
    assert rule["spec"]["groups"] == yaml.safe_load((HERE / "alerts.yml").read_text())["groups"]
    policy = objects[("NetworkPolicy", "observability")]["spec"]
    (ingress,) = policy["ingress"]
    assert {p["port"] for p in ingress["ports"]} == {s.port for s in services}
    kustomization = yaml.safe_load(
        (ROOT / "deploy" / "k8s" / "overlays" / "prod" / "kustomization.yaml").read_text()
    )
    assert "monitoring.yaml" in kustomization["resources"]


def test_the_compose_profile_runs_prometheus_grafana_and_jaeger():
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())["services"]
    for name in ("prometheus", "grafana", "jaeger"):
        assert compose[name]["profiles"] == ["observability"], name
    for volume in (*compose["prometheus"]["volumes"], *compose["grafana"]["volumes"]):
        source = volume.split(":")[0]
        assert (ROOT / "deploy" / source).exists(), volume
    targets = yaml.safe_load((HERE / "prometheus.yml").read_text())["scrape_configs"]
    hosts = {
        t.split(":")[0] for job in targets for c in job["static_configs"] for t in c["targets"]
    }
    platform = {
        n for n, s in compose.items() if "build" in s and not n.endswith(("-migrate", "-worker"))
    }
    assert hosts == platform
    for name in platform:  # traces go wherever VAREON_OTLP_ENDPOINT says (unset: off)
        env = compose[name]["environment"]
        assert env[f"{name.upper()}_OTLP_ENDPOINT"] == "${VAREON_OTLP_ENDPOINT:-}", name
