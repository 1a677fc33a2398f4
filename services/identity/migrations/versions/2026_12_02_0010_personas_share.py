"""Admins may share personas with every user (`personas:share`; issue 20 item 1).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 07:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PERMISSION = "personas:share"

permissions = sa.table("permissions", sa.column("name", sa.Text), sa.column("description", sa.Text))
role_permissions = sa.table(
    "role_permissions", sa.column("role", sa.Text), sa.column("permission", sa.Text)
)


def upgrade() -> None:
    op.bulk_insert(
        permissions,
        [{"name": PERMISSION, "description": "Share arcana personas with every user"}],
    )
    op.bulk_insert(role_permissions, [{"role": "admin", "permission": PERMISSION}])


def downgrade() -> None:
    op.execute(role_permissions.delete().where(role_permissions.c.permission == PERMISSION))
    op.execute(permissions.delete().where(permissions.c.name == PERMISSION))
