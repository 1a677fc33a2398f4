"""Where things are: the repository, the state directory, the services and their ports."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PORTS = {
    "gateway": 8000,
    "identity": 8101,
    "wallet": 8102,
    "arcana": 8103,
    "cognisys": 8104,
    "myntrix": 8105,
    "neosyntis": 8106,
}
FIRST_UNKNOWN_PORT = 8110
"""Services not in the table above get ports from here on, in name order."""


@dataclass(frozen=True)
class Service:
    name: str
    directory: Path
    port: int

    @property
    def module(self) -> str:
        return f"vareon_{self.name}"

    @property
    def alembic_ini(self) -> Path | None:
        ini = self.directory / "alembic.ini"
        return ini if ini.exists() else None

    @property
    def database(self) -> str | None:
        return f"vareon_{self.name}" if self.alembic_ini else None

    @property
    def env_prefix(self) -> str:
        return self.name.upper() + "_"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def missing(self) -> str | None:
        """Why this service cannot run yet (its package is not built or not installed)."""
        src = self.directory / "src" / self.module
        if not ((src / "app.py").exists() or (src / "app" / "__init__.py").exists()):
            return f"no {self.module}/app.py yet"
        if importlib.util.find_spec(self.module) is None:
            return f"{self.module} is not installed (run `uv sync --all-packages`)"
        return None


def find_repo_root(start: Path | None = None) -> Path:
    """The workspace root: the first parent holding services/ and deploy/local/."""
    candidates = [Path.cwd() if start is None else start, Path(__file__).resolve()]
    for candidate in candidates:
        for directory in [candidate, *candidate.parents]:
            if (directory / "services").is_dir() and (directory / "deploy" / "local").is_dir():
                return directory
    raise FileNotFoundError(
        "cannot find the Vareon repository (a directory with services/ "
        "and deploy/local/); run vareon from inside it"
    )


def discover(root: Path, port_offset: int = 0) -> list[Service]:
    """Every service directory with a pyproject; the gateway last, so it starts after the rest."""
    names = sorted(p.parent.name for p in (root / "services").glob("*/pyproject.toml"))
    unknown = iter(range(FIRST_UNKNOWN_PORT, FIRST_UNKNOWN_PORT + 1000))
    services = [
        Service(
            name,
            root / "services" / name,
            (DEFAULT_PORTS[name] if name in DEFAULT_PORTS else next(unknown)) + port_offset,
        )
        for name in names
    ]
    return sorted(services, key=lambda s: s.name == "gateway")
