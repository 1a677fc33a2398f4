"""Message search (issue 21): a session's language, each message's text search config and
its generated tsvector with a GIN index.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 08:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "chat_sessions", sa.Column("language", sa.Text(), server_default="english", nullable=False)
    )
    op.add_column(
        "messages",
        sa.Column(
            "search_config",
            postgresql.REGCONFIG(),
            server_default=sa.text("'english'::regconfig"),
            nullable=False,
        ),
    )
    op.add_column(
        "messages",
        sa.Column(
            "search_vector",
            postgresql.TSVECTOR(),
            sa.Computed("to_tsvector(search_config, content)", persisted=True),
            nullable=True,
        ),
    )
    op.create_index(
        "ix_messages_search_vector",
        "messages",
        ["search_vector"],
        unique=False,
        postgresql_using="gin",
    )


def downgrade() -> None:
    op.drop_index("ix_messages_search_vector", table_name="messages", postgresql_using="gin")
    op.drop_column("messages", "search_vector")
    op.drop_column("messages", "search_config")
    op.drop_column("chat_sessions", "language")
