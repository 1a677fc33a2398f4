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
    assert not stale, "run `uv run python deploy/generate`; out of date: " + ", ".join(
        str(p.relative_to(ROOT)) for p in stale
    )


def deployables(services) -> set[str]:
    """Every long-running process: each service's API and, when it has one, its worker."""
    return {s.name for s in services} | {f"{s.name}-worker" for s in services if s.worker}


def test_every_deployable_is_in_compose_and_every_overlay(services, compose_file, rendered) -> None:
    names = deployables(services)
    assert names <= set(compose_file["services"])
    for overlay, objects in rendered.items():
        deployments = {o["metadata"]["name"] for o in objects if o["kind"] == "Deployment"}
        assert names <= deployments, overlay
        jobs = {o["metadata"]["name"] for o in objects if o["kind"] == "Job"}
        assert {f"{s.name}-migrate" for s in services if s.has_database} <= jobs, overlay


def test_the_neosyntis_worker_is_found_from_its_console_script(services) -> None:
    (neosyntis,) = [s for s in services if s.name == "neosyntis"]
    assert neosyntis.worker == ("vareon-neosyntis", "worker")
    assert not [s for s in services if s.worker and s.name != "neosyntis"]


def compose_env(compose_file: dict, service) -> dict[str, str]:
    env: dict[str, str] = {}
    for name in (service.name, f"{service.name}-migrate", f"{service.name}-worker"):
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


def test_env_check_sees_the_worker(services, compose_file) -> None:
    (s,) = [s for s in services if s.worker]
    broken = {"services": {f"{s.name}-worker": {"environment": {s.env("no_such_thing"): "1"}}}}
    with pytest.raises(AssertionError, match="not fields"):
        check_env(set(compose_env(broken, s)), s, "compose")


def test_a_worker_starts_after_its_migration_and_shares_the_files(services, compose_file) -> None:
    for s in (s for s in services if s.worker):
        app, worker = compose_file["services"][s.name], compose_file["services"][f"{s.name}-worker"]
        assert worker["image"] == app["image"]
        assert worker["command"] == list(s.worker)
        gate = worker["depends_on"][f"{s.name}-migrate"]
        assert gate == {"condition": "service_completed_successfully"}
        assert (
            worker["environment"][s.env("database_url")]
            == app["environment"][s.env("database_url")]
        )
        assert "ports" not in worker
        assert not [k for k in worker["environment"] if "KAFKA" in k], "a worker only polls"
        if s.shares_files:
            dir_ = s.env("storage_dir")
            assert worker["environment"][dir_] == app["environment"][dir_]
            assert worker["volumes"] == app["volumes"]
            volume = app["volumes"][0].split(":")[0]
            assert volume in compose_file["volumes"]


def test_identity_mail_goes_to_the_catcher_in_compose(services, compose_file) -> None:
    for s in (s for s in services if s.sends_mail):
        env = compose_file["services"][s.name]["environment"]
        assert env[s.env("smtp_host")] == "mailpit"
        assert env[s.env("smtp_port")] == "1025"
        assert env[s.env("public_base_url")].startswith("http://localhost:")
        assert compose_file["services"]["mailpit"]["image"].startswith("axllent/mailpit:")


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
    """Secrets come from the environment (`${VAR:?...}`) or files, never the repository."""
    for name, entry in compose_file["services"].items():
        for key, value in (entry.get("environment") or {}).items():
            if any(w in key for w in ("PASSWORD", "SECRET", "PRIVATE_KEY")):
                assert value.startswith(("${", "/run/secrets/")), (name, key)
        for key, value in (entry.get("environment") or {}).items():
            if key.endswith("DATABASE_URL") and ":" in value.split("@")[0].split("//")[1]:
                assert value.split("//")[1].split(":", 1)[1].startswith("${"), (name, key)
    assert all("file" in s or "environment" in s for s in compose_file.get("secrets", {}).values())


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_objects_validate_against_kubernetes_schemas(rendered, overlay) -> None:
    for o in rendered[overlay]:
        if o["apiVersion"].startswith("monitoring.coreos.com/"):
            continue  # the Prometheus Operator's kinds: checked in test_observability.py
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
            component = o["metadata"]["labels"]["app.kubernetes.io/component"]
            if o["kind"] == "Deployment" and component == "worker":
                # No HTTP in a worker: an exec liveness probe, nothing to be ready for.
                assert c["livenessProbe"]["exec"]["command"]
                assert "ports" not in c and "readinessProbe" not in c
            elif o["kind"] == "Deployment":
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


def test_workers_are_unreachable_and_reach_only_their_data(services, rendered) -> None:
    objects = rendered["prod"]
    policies = {o["metadata"]["name"]: o for o in objects if o["kind"] == "NetworkPolicy"}
    for s in (s for s in services if s.worker):
        name = f"{s.name}-worker"
        assert not [o for o in objects if o["kind"] == "Service" and o["metadata"]["name"] == name]
        spec = policies[name]["spec"]
        assert spec["policyTypes"] == ["Ingress", "Egress"] and spec["ingress"] == []
        database = {"vareon.dev/database": s.name}
        assert [r["to"][0]["podSelector"]["matchLabels"] for r in spec["egress"] if "to" in r] == [
            database
        ]
        assert [r for r in spec["egress"] if "to" not in r] == (
            [{"ports": [{"protocol": "TCP", "port": 443}]}] if s.shares_files else []
        )
        # The API's policy must not also select the worker's pods (policies add up).
        api = policies[s.name]["spec"]["podSelector"]["matchLabels"]
        assert api["app.kubernetes.io/component"] == "api"
        hpa = next(
            o
            for o in objects
            if o["kind"] == "HorizontalPodAutoscaler" and o["metadata"]["name"] == name
        )
        assert hpa["spec"]["scaleTargetRef"]["name"] == name
        assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"


def test_shared_files_default_to_s3_in_kubernetes(services, rendered) -> None:
    for overlay, objects in rendered.items():
        for s in (s for s in services if s.shares_files):
            maps = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ConfigMap"}
            assert maps[f"{s.name}-storage"]["data"][s.env("storage_backend")] == "s3", overlay
            for name in (s.name, f"{s.name}-worker"):
                deployment = next(
                    o
                    for o in objects
                    if o["kind"] == "Deployment" and o["metadata"]["name"] == name
                )
                (c,) = deployment["spec"]["template"]["spec"]["containers"]
                assert {"configMapRef": {"name": f"{s.name}-storage"}} in c["envFrom"]
                keys = {e["valueFrom"]["secretKeyRef"]["name"] for e in c["env"]}
                assert f"{s.name}-s3" in keys


def test_kubernetes_mail_settings_come_from_a_config_map_and_a_secret(services, rendered) -> None:
    for overlay, objects in rendered.items():
        for s in (s for s in services if s.sends_mail):
            maps = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ConfigMap"}
            mail = maps[f"{s.name}-mail"]["data"]
            assert mail[s.env("smtp_host")] and mail[s.env("smtp_port")]
            assert mail[s.env("public_base_url")] == generate.OVERLAYS[overlay]["public_url"]
            deployment = next(
                o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == s.name
            )
            (c,) = deployment["spec"]["template"]["spec"]["containers"]
            password = next(e for e in c["env"] if e["name"] == s.env("smtp_password"))
            assert password["valueFrom"]["secretKeyRef"]["name"] == f"{s.name}-smtp"


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


def test_the_gateway_runs_its_own_server_in_production_mode(compose_file, rendered) -> None:
    """Issue 18 item 2 (deploy): the image starts the gateway with `python -m vareon_gateway`
    (GATEWAY_WORKERS processes, uvloop, httptools), not one plain uvicorn worker; compose and
    every overlay run it as production, with the CORS origins a setting."""
    dockerfile = (ROOT / "deploy" / "docker" / "Dockerfile").read_text()
    serve = (ROOT / "deploy" / "docker" / "serve.sh").read_text()
    assert 'CMD ["/app/serve.sh"]' in dockerfile
    assert "exec python -m vareon_gateway" in serve
    env = compose_file["services"]["gateway"]["environment"]
    assert env["GATEWAY_ENVIRONMENT"] == "production"
    assert env["GATEWAY_CORS_ORIGINS"].startswith("${VAREON_CORS_ORIGINS")
    for overlay, objects in rendered.items():
        (config,) = [o for o in objects if o["metadata"]["name"] == "gateway-config"]
        assert config["data"]["GATEWAY_ENVIRONMENT"] == "production", overlay
        origins = json.loads(config["data"]["GATEWAY_CORS_ORIGINS"])
        assert origins == [generate.OVERLAYS[overlay]["public_url"]], overlay
