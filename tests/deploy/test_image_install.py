"""Replays deploy/docker/Dockerfile without Docker: the build context (after .dockerignore),
the same `uv sync`, the same alembic files and the same uvicorn command, for every service.
The fresh environment then has to migrate its database and answer /health/ready."""

from __future__ import annotations

import asyncio
import fnmatch
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import vareon_deploy_generate as generate

ROOT = Path(__file__).resolve().parents[2]
UV = ROOT / ".tools" / "bin" / "uv"
SERVICES = [p.name for p in sorted((ROOT / "services").iterdir())
            if (p / "pyproject.toml").is_file()]


def ignored(relative: str, patterns: list[str]) -> bool:
    parts = relative.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        anywhere = pattern.removeprefix("**/")
        for prefix in prefixes:
            if fnmatch.fnmatchcase(prefix, pattern) or (
                    anywhere != pattern and fnmatch.fnmatchcase(prefix.rsplit("/", 1)[-1],
                                                                anywhere)):
                return True
    return False


@pytest.fixture(scope="module")
def build_context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What `docker build` would send: the repository minus .dockerignore."""
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    context = tmp_path_factory.mktemp("context")

    def skip(directory: str, names: list[str]) -> list[str]:
        rel = Path(directory).relative_to(ROOT)
        return [n for n in names if ignored((rel / n).as_posix().removeprefix("./"), patterns)]

    shutil.copytree(ROOT, context / "src", ignore=skip, symlinks=True)
    return context / "src"


def run(*args: str | Path, env: dict[str, str], cwd: Path) -> None:
    result = subprocess.run([str(a) for a in args], env=env, cwd=cwd,  # noqa: S603
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]


def free_port() -> int:
    from vareon_chassis.embedded import free_port as port

    return port()


@pytest.mark.image_install
@pytest.mark.parametrize("name", SERVICES)
async def test_image_install_step_serves_ready(name: str, build_context: Path, tmp_path: Path,
                                               infrastructure) -> None:
    (service,) = [s for s in generate.discover(ROOT) if s.name == name]
    venv = tmp_path / "venv"
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("VIRTUAL_ENV", "UV_", "PYTHONPATH"))}
    run(UV, "sync", "--frozen", "--no-dev", "--no-editable", "--package", f"vareon-{name}",
        env={**base, "UV_PROJECT_ENVIRONMENT": str(venv), "UV_PYTHON_DOWNLOADS": "never",
             "UV_PYTHON": sys.executable}, cwd=build_context)
    app_dir = tmp_path / "service"
    app_dir.mkdir()
    source = build_context / "services" / name
    env = {**base, "PATH": f"{venv / 'bin'}{os.pathsep}{base.get('PATH', '')}"}
    env[service.env("kafka_bootstrap")] = infrastructure.kafka_bootstrap
    env[service.env("kafka_session_timeout_ms")] = "3000"
    env[service.env("kafka_heartbeat_interval_ms")] = "1000"
    env[service.env("log_json")] = "false"
    if service.has_database:
        shutil.copy(source / "alembic.ini", app_dir)
        shutil.copytree(source / "migrations", app_dir / "migrations")
        env[service.env("database_url")] = await asyncio.to_thread(
            infrastructure.create_database, name)
        run(venv / "bin" / "alembic", "upgrade", "head", env=env, cwd=app_dir)
    if service.signs_tokens:
        from vareon_local.keys import ensure_signing_key

        ensure_signing_key(tmp_path / "keys")
        env[service.env("signing_keys_dir")] = str(tmp_path / "keys")
    port = free_port()
    env |= {"UVICORN_APP": f"vareon_{name}.app:create_app", "UVICORN_HOST": "127.0.0.1",
            "UVICORN_PORT": str(port)}
    server = subprocess.Popen(  # noqa: S603
        [str(venv / "bin" / "uvicorn"), "--factory", "--timeout-graceful-shutdown", "5"],
        env=env, cwd=app_dir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        await wait_ready(f"http://127.0.0.1:{port}/health/ready", server)
    finally:
        server.terminate()
        output = server.communicate(timeout=20)[0].decode(errors="replace")
    assert server.returncode == 0, f"no clean exit on SIGTERM:\n{output[-3000:]}"


async def wait_ready(url: str, server: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    last = "no answer"
    async with httpx.AsyncClient(timeout=2) as client:
        while asyncio.get_running_loop().time() < deadline:
            assert server.poll() is None, "the service exited before it was ready"
            try:
                response = await client.get(url)
                if response.status_code == 200:
                    return
                last = f"{response.status_code} {response.text[:300]}"
            except httpx.TransportError as exc:
                last = repr(exc)
            await asyncio.sleep(0.2)
    pytest.fail(f"{url} never became ready: {last}")
