"""Default roles and permissions: admin has every permission, user has none of them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 16:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PERMISSIONS = {
    "wallet:grant": "Grant credits to a wallet",
    "users:read": "List and read users",
    "users:write": "Change users' roles",
    "routing:write": "Change routing rules",
    "models:write": "Register and change models",
    "devices:write": "Change hardware devices",
}
ROLES = {"user": "Every registered user", "admin": "Operators of the platform"}

permissions = sa.table("permissions", sa.column("name", sa.Text),
                       sa.column("description", sa.Text))
roles = sa.table("roles", sa.column("name", sa.Text), sa.column("description", sa.Text))
role_permissions = sa.table("role_permissions", sa.column("role", sa.Text),
                            sa.column("permission", sa.Text))


def upgrade() -> None:
    op.bulk_insert(permissions, [{"name": n, "description": d} for n, d in PERMISSIONS.items()])
    op.bulk_insert(roles, [{"name": n, "description": d} for n, d in ROLES.items()])
    op.bulk_insert(role_permissions, [{"role": "admin", "permission": n} for n in PERMISSIONS])


def downgrade() -> None:
    op.execute(role_permissions.delete().where(role_permissions.c.role == "admin"))
    op.execute(roles.delete().where(roles.c.name.in_(list(ROLES))))
    op.execute(permissions.delete().where(permissions.c.name.in_(list(PERMISSIONS))))
