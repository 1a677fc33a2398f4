"""The mail sender: delivers `mail_outbox` rows over SMTP, after the transaction that wrote them.

It runs as a periodic step of the app (``vareon_chassis.periodic``), woken after a commit
that queued mail. Rows are claimed with FOR UPDATE SKIP LOCKED (so
replicas never send one twice), deleted once the SMTP server accepted them (the body holds a
live token: it is not kept), and retried with exponential backoff otherwise; after
``mail_max_attempts`` the row is marked failed and left for an operator.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import aiosmtplib
import structlog
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from vareon_chassis.periodic import periodic
from vareon_chassis.service import Resource

from vareon_identity.models import OutgoingMail
from vareon_identity.settings import IdentitySettings

log = structlog.get_logger(__name__)
BATCH = 20
MAX_BACKOFF_S = 600.0


def backoff_s(attempts: int) -> float:
    return min(MAX_BACKOFF_S, 2.0**attempts)


class MailSender:
    def __init__(self, settings: IdentitySettings) -> None:
        self.settings = settings
        self._wakeup = asyncio.Event()
        self._warned = False

    def wake(self) -> None:
        """Called after a commit that queued mail, so it leaves now rather than at the next poll."""
        self._wakeup.set()

    def loop(self) -> Resource:
        """The app's sender: every ``mail_poll_interval_s``, or at once when woken."""
        return periodic(
            "mail-sender", self.step, every_s=self.settings.mail_poll_interval_s, wake=self._wakeup
        )

    async def step(self, app: FastAPI) -> bool:
        """Send one batch of due mail; True when the batch was full (more may be due)."""
        if not self.settings.smtp_host:
            if not self._warned:
                log.warning("IDENTITY_SMTP_HOST is not set: mails wait in mail_outbox, unsent")
                self._warned = True
            return False
        return await self.send_due(app.state.sessionmaker) >= BATCH

    async def send_due(self, sessionmaker: async_sessionmaker[AsyncSession]) -> int:
        async with sessionmaker() as session, session.begin():
            rows = (
                await session.scalars(
                    select(OutgoingMail)
                    .where(
                        OutgoingMail.failed_at.is_(None),
                        OutgoingMail.next_attempt_at <= func.now(),
                    )
                    .order_by(OutgoingMail.id)
                    .limit(BATCH)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            for row in rows:
                try:
                    await self.deliver(row)
                except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                    self._failed(row, exc)
                else:
                    await session.delete(row)
                    log.info("mail sent", mail_id=row.id, subject=row.subject)
            return len(rows)

    def _failed(self, row: OutgoingMail, exc: Exception) -> None:
        now = datetime.now(UTC)
        row.attempts += 1
        row.last_error = f"{type(exc).__name__}: {exc}"[:1000]
        if row.attempts >= self.settings.mail_max_attempts:
            row.failed_at = now
            log.error("mail given up", mail_id=row.id, error=row.last_error)
        else:
            row.next_attempt_at = now + timedelta(seconds=backoff_s(row.attempts))
            log.warning("mail not sent; will retry", mail_id=row.id, error=row.last_error)

    async def deliver(self, row: OutgoingMail) -> None:
        s = self.settings
        message = EmailMessage()
        message["From"] = s.mail_from
        message["To"] = row.recipient
        message["Subject"] = row.subject
        message["Date"] = format_datetime(datetime.now(UTC))
        message["Message-ID"] = make_msgid(domain="vareon.local")
        message.set_content(row.body)
        assert s.smtp_host is not None
        await aiosmtplib.send(
            message,
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username,
            password=s.smtp_password,
            start_tls=s.smtp_starttls,
            timeout=s.smtp_timeout_s,
        )
