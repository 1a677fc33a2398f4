"""Admins read the platform status and metrics at the edge (`system:read`; issue 16 item 11).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 03:56:54.050373
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PERMISSION = "system:read"

permissions = sa.table("permissions", sa.column("name", sa.Text), sa.column("description", sa.Text))
role_permissions = sa.table(
    "role_permissions", sa.column("role", sa.Text), sa.column("permission", sa.Text)
)


def upgrade() -> None:
    op.bulk_insert(
        permissions,
        [{"name": PERMISSION, "description": "Read system status and metrics at the gateway"}],
    )
    op.bulk_insert(role_permissions, [{"role": "admin", "permission": PERMISSION}])


def downgrade() -> None:
    op.execute(role_permissions.delete().where(role_permissions.c.permission == PERMISSION))
    op.execute(permissions.delete().where(permissions.c.name == PERMISSION))
