"""compose.yaml and the Kustomize overlays: valid, current, and in step with the services."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import vareon_deploy_generate as generate

ROOT = Path(__file__).resolve().parents[2]
OVERLAYS = ("dev", "prod")
KUBERNETES_VERSION = "1.33.0"
"""The oldest minor we promise to run on (preStop `sleep` needs 1.30+)."""
COMPOSE_SCHEMA = Path(__file__).with_name("compose-spec.json")


def test_generated_files_match_the_services() -> None:
    stale = generate.stale(ROOT)
    assert not stale, "run `uv run python deploy/k8s/generate.py`; out of date: " + ", ".join(
        str(p.relative_to(ROOT)) for p in stale
    )


def test_every_service_is_in_compose_and_every_overlay(services, compose_file, rendered) -> None:
    names = {s.name for s in services}
    assert names <= set(compose_file["services"])
    for overlay, objects in rendered.items():
        deployments = {o["metadata"]["name"] for o in objects if o["kind"] == "Deployment"}
        assert names <= deployments, overlay
        jobs = {o["metadata"]["name"] for o in objects if o["kind"] == "Job"}
        assert {f"{s.name}-migrate" for s in services if s.has_database} <= jobs, overlay


def compose_env(compose_file: dict, service) -> dict[str, str]:
    env: dict[str, str] = {}
    for name in (service.name, f"{service.name}-migrate"):
        env.update((compose_file["services"].get(name) or {}).get("environment") or {})
    return env


def k8s_env(objects: list[dict], service) -> set[str]:
    names: set[str] = set()
    for o in objects:
        if o["metadata"].get("labels", {}).get("app.kubernetes.io/name") != service.name:
            continue
        if o["kind"] == "ConfigMap":
            names |= set(o.get("data") or {})
        if o["kind"] in ("Deployment", "Job"):
            for c in o["spec"]["template"]["spec"]["containers"]:
                names |= {e["name"] for e in c.get("env") or []}
    return names


def check_env(names: set[str], service, where: str) -> None:
    fields = {service.env(f) for f in service.fields}
    unknown = names - fields
    assert not unknown, f"{where}: {sorted(unknown)} are not fields of {service.name}'s settings"
    missing = {service.env(f) for f in service.required} - names
    assert not missing, f"{where}: required settings {sorted(missing)} are not set"


def test_env_is_settings_fields_and_covers_required_ones(services, compose_file, rendered) -> None:
    for s in services:
        check_env(set(compose_env(compose_file, s)), s, "compose")
        for overlay, objects in rendered.items():
            check_env(k8s_env(objects, s), s, f"k8s {overlay}")


def test_a_service_with_a_database_migrates_before_it_starts(services, compose_file) -> None:
    for s in (s for s in services if s.has_database):
        entry = compose_file["services"][s.name]
        gate = entry["depends_on"][f"{s.name}-migrate"]
        assert gate == {"condition": "service_completed_successfully"}
        migrate = compose_file["services"][f"{s.name}-migrate"]
        assert migrate["command"] == ["alembic", "upgrade", "head"]
        assert migrate["depends_on"][f"{s.name}-db"] == {"condition": "service_healthy"}


def test_compose_follows_the_compose_specification(compose_file) -> None:
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    errors = list(jsonschema.Draft7Validator(schema).iter_errors(compose_file))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]


def test_the_compose_schema_check_can_fail(compose_file) -> None:
    broken = {
        **compose_file,
        "services": {"x": {"image": "a", "depends_on": {"y": {"condition": "after-lunch"}}}},
    }
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    assert not jsonschema.Draft7Validator(schema).is_valid(broken)


def test_compose_holds_no_secret_values(compose_file) -> None:
    for name, entry in compose_file["services"].items():
        for key in entry.get("environment") or {}:
            assert (
                not any(w in key for w in ("PASSWORD", "SECRET", "PRIVATE_KEY"))
                or key == "POSTGRES_HOST_AUTH_METHOD"
            ), (name, key)
    assert all("file" in s for s in compose_file.get("secrets", {}).values())


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_objects_validate_against_kubernetes_schemas(rendered, overlay) -> None:
    for o in rendered[overlay]:
        try:
            kubernetes_validate.validate(o, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{o['kind']}/{o['metadata']['name']}: {exc.message}")


def test_the_kubernetes_schema_check_can_fail() -> None:
    bad = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": {"replicas": "two", "selector": {}, "template": {}},
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_workloads_are_hardened_and_probed(rendered, overlay) -> None:
    objects = rendered[overlay]
    assert not [o for o in objects if o["kind"] == "Secret"], "secrets are referenced, never kept"
    for o in objects:
        if o["kind"] not in ("Deployment", "Job"):
            continue
        spec = o["spec"]["template"]["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True
        for c in spec["containers"]:
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"]["drop"] == ["ALL"]
            assert c["resources"]["requests"] and c["resources"]["limits"]
            for e in c.get("env") or []:
                assert "valueFrom" in e, f"{o['metadata']['name']}: {e['name']} is a literal"
            if o["kind"] == "Deployment":
                assert c["readinessProbe"]["httpGet"]["path"] == "/health/ready"
                assert c["livenessProbe"]["httpGet"]["path"] == "/health/live"
                assert c["startupProbe"]["httpGet"]["path"] == "/health/live"


def test_only_the_gateway_reaches_the_services(services, rendered) -> None:
    policies = {o["metadata"]["name"]: o for o in rendered["prod"] if o["kind"] == "NetworkPolicy"}
    assert policies["default-deny"]["spec"]["podSelector"] == {}
    gateway = {"app.kubernetes.io/name": generate.GATEWAY, "app.kubernetes.io/component": "api"}
    for s in services:
        if s.name == generate.GATEWAY:
            continue
        (rule,) = policies[s.name]["spec"]["ingress"]
        assert rule["from"] == [{"podSelector": {"matchLabels": gateway}}]


def test_overlays_differ_in_replicas_and_tags(rendered) -> None:
    def first(overlay: str) -> dict:
        return next(o for o in rendered[overlay] if o["kind"] == "Deployment")

    dev, prod = first("dev"), first("prod")
    assert dev["spec"]["replicas"] < prod["spec"]["replicas"]
    image = dev["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image != prod["spec"]["template"]["spec"]["containers"][0]["image"]


def test_dockerfile_passes_hadolint(find_tool) -> None:
    result = subprocess.run(
        [find_tool("hadolint"), str(ROOT / "deploy" / "docker" / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_would_catch_a_bad_dockerfile(tmp_path, find_tool) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install curl\n")
    result = subprocess.run(
        [find_tool("hadolint"), str(bad)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
