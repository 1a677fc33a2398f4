"""Replays deploy/docker/Dockerfile without Docker: the build context (after .dockerignore),
the same `uv sync`, the same alembic files and the same command (deploy/docker/serve.sh), for
every service.
The fresh environment then has to migrate its database and answer /health/ready."""

from __future__ import annotations

import asyncio
import fnmatch
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import vareon_deploy_generate as generate

ROOT = Path(__file__).resolve().parents[2]
UV = ROOT / ".tools" / "bin" / "uv"
SERVICES = [
    p.name for p in sorted((ROOT / "services").iterdir()) if (p / "pyproject.toml").is_file()
]


def ignored(relative: str, patterns: list[str]) -> bool:
    parts = relative.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        anywhere = pattern.removeprefix("**/")
        for prefix in prefixes:
            if fnmatch.fnmatchcase(prefix, pattern) or (
                anywhere != pattern and fnmatch.fnmatchcase(prefix.rsplit("/", 1)[-1], anywhere)
            ):
                return True
    return False


@pytest.fixture(scope="module")
def build_context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What `docker build` would send: the repository minus .dockerignore."""
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    context = tmp_path_factory.mktemp("context")

    def skip(directory: str, names: list[str]) -> list[str]:
        rel = Path(directory).relative_to(ROOT)
        return [n for n in names if ignored((rel / n).as_posix().removeprefix("./"), patterns)]

    shutil.copytree(ROOT, context / "src", ignore=skip, symlinks=True)
    return context / "src"


def clean_env() -> dict[str, str]:
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("VIRTUAL_ENV", "UV_", "PYTHONPATH"))
    }


@pytest.fixture(scope="module")
def environments(
    build_context: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path | str]:
    """Each service's `uv sync` of the Dockerfile, all at once (uv's cache makes them cheap);
    a failed one maps to its output."""
    root = tmp_path_factory.mktemp("venvs")
    started = {}
    for name in SERVICES:
        env = {
            **clean_env(),
            "UV_PROJECT_ENVIRONMENT": str(root / name),
            "UV_PYTHON_DOWNLOADS": "never",
            "UV_PYTHON": sys.executable,
        }
        started[name] = subprocess.Popen(
            [
                str(UV),
                "sync",
                "--frozen",
                "--no-dev",
                "--no-editable",
                "--package",
                f"vareon-{name}",
            ],
            env=env,
            cwd=build_context,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
    out: dict[str, Path | str] = {}
    for name, process in started.items():
        output = process.communicate(timeout=300)[0].decode(errors="replace")
        out[name] = root / name if process.returncode == 0 else output[-4000:]
    return out


def free_port() -> int:
    from vareon_chassis.embedded import free_port as port

    return port()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def servers(
    build_context: Path, environments, infrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[dict[str, Any]]:
    """Every service started from its fresh environment at once (imports overlap on 2 cores);
    each test then waits for its own. A failure to start maps to the reason."""
    started: dict[str, Any] = {}
    for service in generate.discover(ROOT):
        venv = environments[service.name]
        if not isinstance(venv, Path):
            started[service.name] = f"uv sync failed:\n{venv}"
            continue
        started[service.name] = await start(
            service, venv, build_context, infrastructure, tmp_path_factory.mktemp(service.name)
        )
    yield started
    for entry in started.values():
        if isinstance(entry, tuple) and entry[1].poll() is None:
            entry[1].kill()
            entry[1].wait(timeout=10)


async def start(
    service: Any, venv: Path, build_context: Path, infrastructure: Any, tmp: Path
) -> tuple[str, subprocess.Popen[bytes], Path]:
    app_dir = tmp / "service"
    app_dir.mkdir()
    source = build_context / "services" / service.name
    env = {**clean_env(), "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
    env[service.env("kafka_bootstrap")] = infrastructure.kafka_bootstrap
    env[service.env("kafka_session_timeout_ms")] = "3000"
    env[service.env("kafka_heartbeat_interval_ms")] = "1000"
    env[service.env("log_json")] = "false"
    if service.has_database:
        # The alembic files the image carries, migrated here in-process (an image runs them
        # as `alembic upgrade head` in its migration container or Job).
        shutil.copy(source / "alembic.ini", app_dir)
        shutil.copytree(source / "migrations", app_dir / "migrations")
        env[service.env("database_url")] = await infrastructure.migrated_database(
            service.name, app_dir / "alembic.ini"
        )
    if service.signs_tokens:
        from vareon_local.keys import ensure_signing_key

        ensure_signing_key(tmp / "keys")
        env[service.env("signing_keys_dir")] = str(tmp / "keys")
    port = free_port()
    env |= {
        "VAREON_SERVICE": service.name,
        # the image's default is one gateway worker per core; one is enough to prove it serves
        "GATEWAY_WORKERS": "1",
        "UVICORN_APP": f"vareon_{service.name}.app:create_app",
        "UVICORN_HOST": "127.0.0.1",
        "UVICORN_PORT": str(port),
    }
    log = tmp / "server.log"
    server = spawn(["sh", str(ROOT / "deploy" / "docker" / "serve.sh")], env, app_dir, log)
    return f"http://127.0.0.1:{port}", server, log


def spawn(args: list[str], env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            args,
            env=env,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


@pytest.mark.image_install
@pytest.mark.parametrize("name", SERVICES)
async def test_image_install_step_serves_ready(name: str, servers: dict[str, Any]) -> None:
    entry = servers[name]
    assert isinstance(entry, tuple), entry
    url, server, log = entry
    try:
        await wait_ready(f"{url}/health/ready", server, log)
    finally:
        server.terminate()
        server.wait(timeout=20)
    output = tail(log)
    # uvicorn re-raises the SIGTERM it handled once the shutdown has finished.
    assert server.returncode in (0, -15), output
    assert "Application shutdown complete" in output, output


async def wait_ready(
    url: str, server: subprocess.Popen[bytes], log: Path, timeout_s: float = 60
) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    last = "no answer"
    async with httpx.AsyncClient(timeout=2) as client:
        while asyncio.get_running_loop().time() < deadline:
            if server.poll() is not None:
                pytest.fail("exited before it was ready:\n" + tail(log))
            try:
                response = await client.get(url)
                if response.status_code == 200:
                    return
                last = f"{response.status_code} {response.text[:300]}"
            except httpx.TransportError as exc:
                last = repr(exc)
            await asyncio.sleep(0.2)
    pytest.fail(f"{url} never became ready: {last}\n" + tail(log))
