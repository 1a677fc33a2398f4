"""`vareon up`, stopped and started again: the memory broker is re-seeded from the outboxes.

A rule changed while arcana could not consume (SIGSTOPped, then killed by the shutdown)
reaches arcana after the restart, and arcana still has every rule and balance it had.
The first start is also the one test_up.py's checks run on (one cold start fewer).
"""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest

from .test_up import (
    ROOT,
    _free_offset,
    _read_state,
    _vareon,
    _wait_for,
    check_serves_every_service,
    check_stopped_cleanly,
)

DEFAULT_RULE = "00000000-0000-0000-0000-000000000001"


def _start(state_dir: Path, offset: int, log: Path) -> tuple[subprocess.Popen[bytes], dict]:
    up = subprocess.Popen(
        _vareon(
            "up",
            "--state-dir",
            str(state_dir),
            "--port-offset",
            str(offset),
            "--ready-timeout",
            "240",
        ),
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    state_file = state_dir / "state.json"
    state = _wait_for(
        lambda: (s := _read_state(state_file)) and s["status"] == "ready" and s,
        240,
        "readiness",
        up,
        log,
    )
    return up, state


def _stop(up: subprocess.Popen[bytes]) -> int:
    up.send_signal(signal.SIGTERM)
    return up.wait(60)


def _query(state: dict, service: str, sql: str, *args: object) -> list[tuple]:
    url = state["services"][service]["database_url"].replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(url) as conn:
        return conn.execute(sql, args).fetchall()


def _arcana_rule_name(state: dict) -> str | None:
    rows = _query(
        state,
        "arcana",
        "SELECT payload->>'name' FROM routing_rules WHERE rule_id = %s",
        DEFAULT_RULE,
    )
    return rows[0][0] if rows else None


@pytest.mark.timeout(720)  # two cold starts on a machine shared with other work
def test_up_serves_supervises_stops_and_a_restarted_platform_loses_no_event(
    pg_tmp: Path,
) -> None:
    state_dir, log = pg_tmp / "state", pg_tmp / "up.log"
    offset = _free_offset()
    email, password = f"admin-{uuid.uuid4().hex[:6]}@example.com", "restart-" + uuid.uuid4().hex
    up, state = _start(state_dir, offset, log)
    seen_pids: set[int] = set()
    try:
        seen_pids = check_serves_every_service(up, state, offset, log)
        state = _read_state(state_dir / "state.json") or state  # a service was restarted
        seeded = subprocess.run(
            _vareon(
                "seed-admin",
                "--email",
                email,
                "--password",
                password,
                "--state-dir",
                str(state_dir),
            ),
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
        )
        assert seeded.returncode == 0, seeded.stdout + seeded.stderr
        user_id = _query(state, "identity", "SELECT id FROM users WHERE email = %s", email)[0][0]
        _wait_for(lambda: _arcana_rule_name(state), 120, "arcana's default rule", up, log)
        _wait_for(
            lambda: _query(state, "arcana", "SELECT 1 FROM balances WHERE user_id = %s", user_id),
            120,
            "arcana's replica of the admin's balance",
            up,
            log,
        )
        balance = _query(
            state, "arcana", "SELECT balance FROM balances WHERE user_id = %s", user_id
        )[0][0]
        gateway = state["gateway_url"]
        token = httpx.post(
            f"{gateway}/api/v1/auth/login", json={"email": email, "password": password}, timeout=30
        ).json()["access_token"]

        os.kill(state["services"]["arcana"]["pid"], signal.SIGSTOP)  # it consumes nothing now
        renamed = "default, renamed while arcana was down"
        response = httpx.patch(
            f"{gateway}/api/v1/cognisys/routing-rules/{DEFAULT_RULE}",
            json={"name": renamed},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        _wait_for(
            lambda: not _query(state, "cognisys", "SELECT 1 FROM outbox WHERE sent_at IS NULL"),
            60,
            "cognisys's relay to publish the change",
            up,
            log,
        )
    finally:
        code = _stop(up)  # arcana, stopped, is killed after the supervisor's stop timeout
    check_stopped_cleanly(code, log, seen_pids)
    assert _arcana_rule_name_offline(pg_tmp, state) != renamed, "arcana consumed it before"

    up, state = _start(state_dir, offset, log)
    try:
        _wait_for(
            lambda: _arcana_rule_name(state) == renamed,
            120,
            "the rule changed while arcana was down, in arcana",
            up,
            log,
        )
        rows = _query(state, "arcana", "SELECT balance FROM balances WHERE user_id = %s", user_id)
        assert rows == [(balance,)]
        assert "broker re-seeded from the outboxes" in log.read_text()
    finally:
        _stop(up)


def _arcana_rule_name_offline(pg_tmp: Path, state: dict) -> str | None:
    """Arcana's replica while the platform is down: start its PostgreSQL for a moment."""
    from vareon_local.infra import Databases

    databases = Databases(pg_tmp / "state" / "pgdata")
    databases.start()
    try:
        url = databases.url("vareon_arcana").replace("postgresql+psycopg", "postgresql")
        with psycopg.connect(url) as conn:
            row = conn.execute(
                "SELECT payload->>'name' FROM routing_rules WHERE rule_id = %s", (DEFAULT_RULE,)
            ).fetchone()
        return row[0] if row else None
    finally:
        databases.stop()
