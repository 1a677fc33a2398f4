"""Shared helpers for the deployment checks: the generator module and the rendered overlays."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
OVERLAYS = ("dev", "prod")


def _generator() -> ModuleType:
    """The deploy/generate package, importable by the tests as ``vareon_deploy_generate``."""
    name = "vareon_deploy_generate"
    package = ROOT / "deploy" / "generate"
    spec = importlib.util.spec_from_file_location(
        name, package / "__init__.py", submodule_search_locations=[str(package)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


generate = _generator()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "image_install: replays the Dockerfile's install step for one service"
    )


@pytest.fixture(scope="session")
def services() -> list:
    return generate.discover(ROOT)


def tool(name: str) -> str:
    """A binary from the root dev group, next to this interpreter (no PATH needed)."""
    path = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    assert path, f"{name} missing: it comes with the root dev group (uv sync --all-packages)"
    return path


@pytest.fixture(scope="session")
def find_tool():
    return tool


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[dict]]:
    """`kubectl kustomize` output of each overlay, as objects."""
    out = {}
    for overlay in OVERLAYS:
        result = subprocess.run(
            [tool("kubectl"), "kustomize", str(ROOT / "deploy" / "k8s" / "overlays" / overlay)],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        out[overlay] = [d for d in yaml.safe_load_all(result.stdout) if d]
    return out


@pytest.fixture(scope="session")
def compose_file() -> dict:
    return yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
