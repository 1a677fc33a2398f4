"""Synthetic testing (issue 20): scenarios, their runs and each conversation's result.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 14:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = postgresql.JSONB(astext_type=sa.Text())


def _at(name: str, *, now: bool) -> sa.Column:
    default = sa.text("now()") if now else None
    return sa.Column(name, sa.DateTime(timezone=True), server_default=default, nullable=not now)


def upgrade() -> None:
    op.create_table(
        "scenarios",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("spec", JSON, nullable=False),
        _at("created_at", now=True),
        _at("updated_at", now=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scenarios")),
    )
    op.create_index(
        "ix_scenarios_owner_created", "scenarios", ["owner_id", "created_at", "id"], unique=False
    )
    op.create_table(
        "scenario_runs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("scenario_id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("roles", JSON, nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("charge", sa.Boolean(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("plan", JSON, nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), server_default="0", nullable=False),
        sa.Column("passed", sa.Integer(), server_default="0", nullable=False),
        sa.Column("failed", sa.Integer(), server_default="0", nullable=False),
        _at("lease_until", now=False),
        _at("created_at", now=True),
        _at("started_at", now=False),
        _at("finished_at", now=False),
        sa.ForeignKeyConstraint(
            ["scenario_id"],
            ["scenarios.id"],
            name=op.f("fk_scenario_runs_scenario_id_scenarios"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scenario_runs")),
    )
    op.create_index(
        "ix_scenario_runs_scenario_created",
        "scenario_runs",
        ["scenario_id", "created_at"],
        unique=False,
    )
    op.create_index(
        "ix_scenario_runs_status_lease", "scenario_runs", ["status", "lease_until"], unique=False
    )
    op.create_table(
        "scenario_results",
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("rule", sa.Text(), nullable=True),
        sa.Column("provider", sa.Text(), nullable=True),
        sa.Column("model", sa.Text(), nullable=True),
        sa.Column("tokens_in", sa.Integer(), nullable=False),
        sa.Column("tokens_out", sa.Integer(), nullable=False),
        sa.Column("cost", sa.BigInteger(), nullable=False),
        sa.Column("ttft_ms", sa.Float(), nullable=True),
        sa.Column("total_ms", sa.Float(), nullable=False),
        sa.Column("checks", JSON, nullable=False),
        sa.Column("turns", JSON, nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["scenario_runs.id"],
            name=op.f("fk_scenario_results_run_id_scenario_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "position", name=op.f("pk_scenario_results")),
    )


def downgrade() -> None:
    op.drop_table("scenario_results")
    op.drop_index("ix_scenario_runs_status_lease", table_name="scenario_runs")
    op.drop_index("ix_scenario_runs_scenario_created", table_name="scenario_runs")
    op.drop_table("scenario_runs")
    op.drop_index("ix_scenarios_owner_created", table_name="scenarios")
    op.drop_table("scenarios")
