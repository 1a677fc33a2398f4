"""Admins read any user's wallet (wallet's `wallet:read-any`; issue 16 item 16).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 03:41:23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PERMISSION = "wallet:read-any"

permissions = sa.table(
    "permissions", sa.column("name", sa.Text), sa.column("description", sa.Text)
)
role_permissions = sa.table(
    "role_permissions", sa.column("role", sa.Text), sa.column("permission", sa.Text)
)


def upgrade() -> None:
    op.bulk_insert(permissions, [{"name": PERMISSION, "description": "Read any user's wallet"}])
    op.bulk_insert(role_permissions, [{"role": "admin", "permission": PERMISSION}])


def downgrade() -> None:
    op.execute(role_permissions.delete().where(role_permissions.c.permission == PERMISSION))
    op.execute(permissions.delete().where(permissions.c.name == PERMISSION))
