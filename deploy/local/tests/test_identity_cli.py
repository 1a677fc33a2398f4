"""`vareon mail`, `vareon keys rotate` and `vareon seed-admin` (identity's local tooling)."""

from __future__ import annotations

import smtplib
import stat
import time
from email.message import EmailMessage
from pathlib import Path

import psycopg
from typer.testing import CliRunner
from vareon_chassis.migrations import upgrade
from vareon_local.cli import app
from vareon_local.keys import ensure_signing_key
from vareon_local.layout import find_repo_root
from vareon_local.mail import MailCatcher, list_mails

IDENTITY_INI = find_repo_root(Path(__file__).parent) / "services" / "identity" / "alembic.ini"
runner = CliRunner()


def _send(port: int, to: str, subject: str, body: str) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "id@vareon.local", to, subject
    message.set_content(body)
    with smtplib.SMTP("127.0.0.1", port, timeout=5) as smtp:
        smtp.send_message(message)


def test_the_catcher_keeps_each_mail_and_the_cli_reads_them(tmp_path: Path) -> None:
    catcher = MailCatcher(tmp_path / "mail")
    catcher.start()
    try:
        _send(catcher.port, "ada@example.com", "Confirm", "token: abc123\n")
        _send(catcher.port, "bob@example.com", "Second", "hello bob\n")
        for _ in range(100):
            if len(list_mails(tmp_path / "mail")) == 2:
                break
            time.sleep(0.05)
    finally:
        catcher.stop()
    assert catcher.process is not None and catcher.process.poll() is not None

    listed = runner.invoke(app, ["mail", "list", "--state-dir", str(tmp_path)])
    assert listed.exit_code == 0, listed.output
    assert "ada@example.com" in listed.output and "Second" in listed.output
    shown = runner.invoke(app, ["mail", "show", "1", "--state-dir", str(tmp_path)])
    assert shown.exit_code == 0
    assert "To: ada@example.com" in shown.output and "token: abc123" in shown.output
    missing = runner.invoke(app, ["mail", "show", "9", "--state-dir", str(tmp_path)])
    assert missing.exit_code == 1


def test_keys_rotate_adds_a_private_key_that_sorts_last(tmp_path: Path) -> None:
    first = ensure_signing_key(tmp_path / "keys")
    result = runner.invoke(app, ["keys", "rotate", "--state-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    paths = sorted((tmp_path / "keys").glob("*.pem"))
    assert len(paths) == 2 and paths[0] == first
    assert stat.S_IMODE(paths[1].stat().st_mode) == 0o600
    assert paths[1].read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    listed = runner.invoke(app, ["keys", "list", "--state-dir", str(tmp_path)])
    assert f"{paths[1].name}  (active)" in listed.output


def test_seed_admin_creates_then_promotes(infrastructure, tmp_path: Path) -> None:
    url = infrastructure.create_database("identity")
    upgrade(str(IDENTITY_INI), url)
    args = ["seed-admin", "--database-url", url, "--state-dir", str(tmp_path)]

    created = runner.invoke(app, [*args, "--email", "Root@Example.com"])
    assert created.exit_code == 0, created.output
    assert "created" in created.output and "password (shown once)" in created.output
    again = runner.invoke(app, [*args, "--email", "root@example.com"])
    assert again.exit_code == 0 and "promoted" in again.output
    weak = runner.invoke(app, [*args, "--email", "new@example.com", "--password", "short"])
    assert weak.exit_code == 1 and "refused" in weak.output

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        rows = conn.execute(
            "SELECT u.email, u.email_verified_at IS NOT NULL, r.role FROM users u "
            "JOIN user_roles r ON r.user_id = u.id ORDER BY r.role"
        ).fetchall()
    assert rows == [("root@example.com", True, "admin"), ("root@example.com", True, "user")]
