"""Titles and feedback (issue 21): whether a session's title was given or generated (a
session whose title is not the default counts as titled), and a verdict per answer.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 08:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "chat_sessions",
        sa.Column("titled", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    op.execute("UPDATE chat_sessions SET titled = title <> 'New chat'")
    op.add_column("messages", sa.Column("feedback_rating", sa.Text(), nullable=True))
    op.add_column("messages", sa.Column("feedback_comment", sa.Text(), nullable=True))
    op.add_column(
        "messages", sa.Column("feedback_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("messages", "feedback_at")
    op.drop_column("messages", "feedback_comment")
    op.drop_column("messages", "feedback_rating")
    op.drop_column("chat_sessions", "titled")
