"""Discovery, ports, keys, the lock and database URLs (no servers needed)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from vareon_local.infra import Databases
from vareon_local.keys import ensure_signing_key
from vareon_local.layout import discover
from vareon_local.state import AlreadyRunning, StateDir


def _service(root: Path, name: str, *, alembic: bool = True) -> None:
    directory = root / "services" / name
    directory.mkdir(parents=True)
    (directory / "pyproject.toml").write_text("")
    if alembic:
        (directory / "alembic.ini").write_text("")


def test_discovery_offsets_ports_skips_dirs_without_pyproject_and_starts_gateway_last(
    tmp_path: Path,
) -> None:
    _service(tmp_path, "gateway", alembic=False)
    _service(tmp_path, "wallet")
    _service(tmp_path, "zeta")
    (tmp_path / "services" / "half-made").mkdir()

    services = discover(tmp_path, port_offset=5)

    assert [(s.name, s.port, s.database) for s in services] == [
        ("wallet", 8107, "vareon_wallet"),
        ("zeta", 8115, "vareon_zeta"),
        ("gateway", 8005, None),
    ]
    assert services[0].missing() == "no vareon_wallet/app.py yet"


def test_signing_key_is_private_and_made_only_once(tmp_path: Path) -> None:
    first = ensure_signing_key(tmp_path / "keys")

    assert first is not None and first.suffix == ".pem"
    assert stat.S_IMODE(first.stat().st_mode) == 0o600
    assert first.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert ensure_signing_key(tmp_path / "keys") is None


def test_a_second_holder_of_the_state_dir_is_refused(tmp_path: Path) -> None:
    first, second = StateDir(tmp_path), StateDir(tmp_path)
    first.acquire("up")
    try:
        with pytest.raises(AlreadyRunning, match="`vareon up`"):
            second.acquire("migrate")
    finally:
        first.release()
    second.acquire("migrate")
    second.release()


@pytest.mark.parametrize(
    ("server", "expected"),
    [
        (
            "postgresql://app:pw@db:5432/postgres",
            "postgresql+psycopg://app:pw@db:5432/vareon_wallet",
        ),
        (
            "postgresql+psycopg://app@/postgres?host=/run/pg",
            "postgresql+psycopg://app@/vareon_wallet?host=/run/pg",
        ),
    ],
)
def test_external_server_url_names_each_service_database(server: str, expected: str) -> None:
    assert Databases(Path("unused"), server).url("vareon_wallet") == expected


def test_the_gateway_runs_its_own_server_others_uvicorn(tmp_path: Path) -> None:
    """Issue 18 item 2 (deploy): `vareon up` starts the gateway as `python -m vareon_gateway`
    (uvloop, httptools, GATEWAY_WORKERS), not plain `uvicorn --factory`."""
    import sys

    from vareon_local.layout import Service
    from vareon_local.processes import serve_argv

    gateway = serve_argv(Service("gateway", tmp_path, 8000))
    wallet = serve_argv(Service("wallet", tmp_path, 8102))

    assert gateway == [sys.executable, "-m", "vareon_gateway"]
    assert wallet[1:5] == ["-m", "uvicorn", "vareon_wallet.app:create_app", "--factory"]
