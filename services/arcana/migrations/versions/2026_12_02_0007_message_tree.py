"""Message tree (issue 21): a parent per message and the session's current leaf; the linear
history of existing sessions becomes a chain (each message's parent is the one before it).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 08:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("chat_sessions", sa.Column("current_id", sa.Uuid(), nullable=True))
    op.add_column("messages", sa.Column("parent_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_messages_parent_id_messages"),
        "messages",
        "messages",
        ["parent_id"],
        ["id"],
        ondelete="CASCADE",
    )
    op.create_index(op.f("ix_messages_parent_id"), "messages", ["parent_id"], unique=False)
    op.execute(
        """
        UPDATE messages AS m SET parent_id = chain.previous
        FROM (
            SELECT id, lag(id) OVER (PARTITION BY session_id ORDER BY seq) AS previous
            FROM messages
        ) AS chain
        WHERE m.id = chain.id AND chain.previous IS NOT NULL
        """
    )
    op.execute(
        """
        UPDATE chat_sessions AS c SET current_id = (
            SELECT m.id FROM messages AS m WHERE m.session_id = c.id ORDER BY m.seq DESC LIMIT 1
        )
        """
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_messages_parent_id"), table_name="messages")
    op.drop_constraint(op.f("fk_messages_parent_id_messages"), "messages", type_="foreignkey")
    op.drop_column("messages", "parent_id")
    op.drop_column("chat_sessions", "current_id")
