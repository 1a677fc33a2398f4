"""Every service has the same rooms (docs/conventions.md, "Layout of a service").

Read from the source text (AST), nothing imported: a newcomer who knows one service knows
where each behaviour lives in the others.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest
from vareon_contracts.services import SERVICES

ROOT = Path(__file__).resolve().parents[2]
NAMES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "pyproject.toml").exists())
STATELESS = {"gateway"}
"""No database: no tables, no outbox (the gateway proxies; it owns nothing)."""
PENDING: dict[tuple[str, str], str] = {}
"""Known and being moved; strict: once fixed the entry must go."""
SESSION_CALLS = {"execute", "scalars", "scalar", "get", "add", "add_all", "delete", "merge"}
"""A router that calls these on a session runs queries itself: orchestration belongs in a
use-case module (the router parses, calls, renders)."""


def each(check: str, names: list[str] = NAMES) -> list[object]:
    return [
        pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=PENDING[check, n]))
        if (check, n) in PENDING
        else n
        for n in names
    ]


def src(name: str) -> Path:
    return ROOT / "services" / name / "src" / f"vareon_{name}"


def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def aggregate_packages(name: str) -> list[Path]:
    """Subpackages holding one aggregate each, with their own routers (neosyntis)."""
    return sorted(p.parent for p in src(name).glob("*/api.py"))


def router_modules(name: str) -> list[Path]:
    base = src(name)
    found = [base / "api.py"] if (base / "api.py").exists() else []
    found += sorted((base / "api").glob("*.py")) if (base / "api").is_dir() else []
    found += [p / "api.py" for p in aggregate_packages(name)]
    return found


def imports(module: ast.Module) -> Iterator[tuple[str, int]]:
    for node in ast.walk(module):
        if isinstance(node, ast.Import):
            yield from ((a.name, node.lineno) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module, node.lineno


@pytest.mark.parametrize("name", NAMES)
def test_every_service_has_the_rooms(name: str) -> None:
    base = src(name)
    for room in ("app.py", "settings.py", "errors.py"):
        assert (base / room).exists(), f"{name}: no {room}"
    assert router_modules(name), f"{name}: no api.py, api/ or <aggregate>/api.py"
    assert not ((base / "api.py").exists() and (base / "api").exists()), f"{name}: both"
    assert (ROOT / "services" / name / "README.md").exists()
    for place in aggregate_packages(name) or [base]:
        assert (place / "schemas.py").exists(), f"{name}: no schemas.py in {place.name}"
    consumes = bool(SERVICES[name].consumes)
    assert (base / "consumers.py").exists() == consumes, (
        f"{name}: consumers.py must exist exactly when it consumes events (SERVICES)"
    )


@pytest.mark.parametrize("name", sorted(set(NAMES) - STATELESS))
def test_tables_open_with_service_tables(name: str) -> None:
    """One opening (metadata + outbox + inbox, source ``vareon-<name>``): ``models.py``, or for
    a service of aggregate packages ``db.py`` (the opening) + ``tables.py`` (every table)."""
    base = src(name)
    if aggregate_packages(name):
        opening = base / "db.py"
        assert (base / "tables.py").exists(), f"{name}: no tables.py collecting the packages"
        assert not (base / "models.py").exists(), f"{name}: models.py would hold no model"
    else:
        opening = base / "models.py"
    text = opening.read_text()
    assert f'service_tables("{name}", inbox={bool(SERVICES[name].consumes)})' in text
    for path in base.rglob("*.py"):
        body = path.read_text()
        for written in ("define_outbox(", "define_inbox(", "Outbox(", "new_metadata("):
            assert written not in body, f"{path.relative_to(ROOT)}: {written} (service_tables)"


@pytest.mark.parametrize("name", NAMES)
def test_routes_live_in_the_router_rooms(name: str) -> None:
    """A module that makes an APIRouter is api.py, api/<x>.py or <aggregate>/api.py; or the
    socket of a feature package that keeps its entrypoint with its parts (arcana's shell)."""
    rooms = set(router_modules(name)) | set(src(name).glob("*/socket.py"))
    stray = [
        str(p.relative_to(ROOT))
        for p in sorted(src(name).rglob("*.py"))
        if "APIRouter(" in p.read_text() and p not in rooms
    ]
    assert not stray, f"routes outside api.py / api/: {stray}"


@pytest.mark.parametrize("name", NAMES)
def test_api_packages_hold_several_routers(name: str) -> None:
    package = src(name) / "api"
    if not package.is_dir():
        return
    routers = [p for p in package.glob("*.py") if "APIRouter(" in p.read_text()]
    assert len(routers) >= 2, f"{name}: an api/ package for one router; use api.py"


@pytest.mark.parametrize("name", each("routers"))
def test_routers_parse_call_and_render(name: str) -> None:
    """No queries in routers: no sqlalchemy beyond the AsyncSession type, no session calls."""
    found = []
    for path in router_modules(name):
        module = tree(path)
        rel = path.relative_to(ROOT)
        for imported, line in imports(module):
            if imported.startswith("sqlalchemy") and imported != "sqlalchemy.ext.asyncio":
                found.append(f"{rel}:{line} imports {imported}")
        for node in ast.walk(module):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id in {"session", "db"}
                and node.func.attr in SESSION_CALLS
            ):
                found.append(f"{rel}:{node.lineno} {node.func.value.id}.{node.func.attr}()")
    assert not found, f"queries in routers; move them to a use-case module: {found}"


@pytest.mark.parametrize("name", each("app"))
def test_app_is_wiring_only(name: str) -> None:
    """Settings from load_settings (errors name the variable); extra startup and shutdown
    through create_service(resources=...), never by replacing the chassis lifespan."""
    path = src(name) / "app.py"
    module = tree(path)
    text = path.read_text()
    assert "lifespan_context" not in text, f"{name}: lifespan patched; use resources="
    assert "load_settings(" in text, f"{name}: settings built without load_settings"
    for node in ast.walk(module):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert not node.func.id.endswith("Settings"), f"{name}:{node.lineno} Settings()"
    for imported, line in imports(module):
        assert not imported.startswith("sqlalchemy"), f"{name}/app.py:{line} {imported}"


def _hand_loops(path: Path) -> Iterator[int]:
    """``while True`` loops that sleep between rounds: a periodic task written by hand."""
    for node in ast.walk(tree(path)):
        if isinstance(node, ast.While) and isinstance(node.test, ast.Constant):
            for inner in ast.walk(node):
                if (
                    isinstance(inner, ast.Call)
                    and isinstance(inner.func, ast.Attribute)
                    and inner.func.attr == "sleep"
                    and not (inner.args and isinstance(inner.args[0], ast.Constant))
                ):
                    yield node.lineno
                    break


@pytest.mark.parametrize("name", each("loops"))
def test_background_loops_use_the_chassis(name: str) -> None:
    """vareon_chassis.periodic (app-long) or repeat (a task's own): one loop, one behaviour."""
    found = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in sorted(src(name).rglob("*.py"))
        for line in _hand_loops(path)
    ]
    assert not found, found


@pytest.mark.parametrize("name", NAMES)
def test_no_service_writes_its_own_cursor_or_permission_helper(name: str) -> None:
    for path in src(name).rglob("*.py"):
        for node in ast.walk(tree(path)):
            if isinstance(node, ast.ClassDef):
                assert node.name != "InvalidCursor", f"{path}: vareon_chassis.pagination"
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                assert node.name not in {"require_any", "require_permission"}, (
                    f"{path}: {node.name} is vareon_chassis.auth's"
                )


@pytest.mark.parametrize("name", each("pages"))
def test_cursor_lists_take_the_chassis_page_size(name: str) -> None:
    """One page-size bound (``PageSize``, 1 to 200) for every cursor-paginated list."""
    found = []
    for path in router_modules(name):
        for node in ast.walk(tree(path)):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            params = {a.arg: a.annotation for a in node.args.args + node.args.kwonlyargs}
            if "cursor" in params and "limit" in params:
                annotation = params["limit"]
                if not (isinstance(annotation, ast.Name) and annotation.id == "PageSize"):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
    assert not found, found
