from __future__ import annotations

import psycopg


async def test_default_roles_are_seeded(database_url):
    url = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    async with await psycopg.AsyncConnection.connect(url) as conn:
        rows = await (
            await conn.execute(
                "SELECT r.name, count(rp.permission) FROM roles r "
                "LEFT JOIN role_permissions rp ON rp.role = r.name GROUP BY r.name"
            )
        ).fetchall()
    assert dict(rows) == {"admin": 13, "user": 0}
