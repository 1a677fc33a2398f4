"""Install each workspace package alone from the lock and import every one of its modules.

CI deploys services one by one (`uv sync --locked --package vareon-<name>`), so an import a
package does not declare must fail here, not in production.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UV = str(ROOT / ".tools" / "bin" / "uv")
IMPORT_ALL = """
import importlib, pkgutil, sys
root = importlib.import_module(sys.argv[1])
skip = tuple(sys.argv[2:])
for info in pkgutil.walk_packages(root.__path__, root.__name__ + "."):
    if not info.name.startswith(skip) and not info.name.endswith(".__main__"):
        importlib.import_module(info.name)
print("ok", sys.argv[1])
"""
EXTRAS = {"vareon-chassis": ["--all-extras"]}
SKIP = {"vareon_chassis": ["vareon_chassis.testing"]}


def packages() -> list[tuple[str, str]]:
    found = []
    for pyproject in sorted(
        [
            *ROOT.glob("libs/*/pyproject.toml"),
            *ROOT.glob("services/*/pyproject.toml"),
            ROOT / "deploy/local/pyproject.toml",
        ]
    ):
        name = tomllib.loads(pyproject.read_text())["project"]["name"]
        found.append((name, name.replace("-", "_")))
    return found


def main() -> int:
    failed = []
    with tempfile.TemporaryDirectory(prefix="vareon-pkg-") as tmp:
        for name, module in packages():
            env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(Path(tmp) / name)}
            sync = subprocess.run(  # noqa: S603 - fixed argv
                [
                    UV,
                    "sync",
                    "--locked",
                    "--no-dev",
                    "--package",
                    name,
                    "--quiet",
                    *EXTRAS.get(name, []),
                ],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
            )
            python = str(Path(tmp) / name / "bin" / "python")
            run = (
                sync
                if sync.returncode
                else subprocess.run(  # noqa: S603
                    [python, "-c", IMPORT_ALL, module, *SKIP.get(module, [])],
                    cwd=tmp,
                    capture_output=True,
                    text=True,
                )
            )
            if run.returncode:
                failed.append(name)
                print(f"FAIL {name}\n{run.stdout}{run.stderr}")
            else:
                print(f"ok   {name}")
    if failed:
        print(f"{len(failed)} package(s) do not install and import alone: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
