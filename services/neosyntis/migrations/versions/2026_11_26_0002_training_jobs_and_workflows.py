"""training jobs and workflows

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 16:56:43.875368
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql
revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('workflows',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('owner_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('description', sa.Text(), server_default='', nullable=False),
    sa.Column('steps', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('revision', sa.Integer(), server_default='1', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workflows'))
    )
    op.create_index('ix_workflows_owner_created', 'workflows', ['owner_id', 'created_at', 'id'], unique=False)
    op.create_index('uq_workflows_owner_name_live', 'workflows', ['owner_id', 'name'], unique=True, postgresql_where=sa.text('deleted_at IS NULL'))
    op.create_table('workflow_runs',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('workflow_id', sa.Uuid(), nullable=False),
    sa.Column('workflow_revision', sa.Integer(), nullable=False),
    sa.Column('owner_id', sa.Uuid(), nullable=False),
    sa.Column('state', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['workflow_id'], ['workflows.id'], name=op.f('fk_workflow_runs_workflow_id_workflows')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workflow_runs'))
    )
    op.create_index(op.f('ix_workflow_runs_owner_id'), 'workflow_runs', ['owner_id'], unique=False)
    op.create_index('ix_workflow_runs_workflow_created', 'workflow_runs', ['workflow_id', 'created_at'], unique=False)
    op.create_table('training_jobs',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('owner_id', sa.Uuid(), nullable=False),
    sa.Column('dataset_version_id', sa.Uuid(), nullable=True),
    sa.Column('dataset_digest', sa.Text(), nullable=False),
    sa.Column('target', sa.Text(), nullable=False),
    sa.Column('algorithm', sa.Text(), nullable=False),
    sa.Column('hyperparameters', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('test_fraction', sa.Float(), nullable=False),
    sa.Column('seed', sa.Integer(), nullable=False),
    sa.Column('model_name', sa.Text(), nullable=True),
    sa.Column('state', sa.Text(), nullable=False),
    sa.Column('progress', sa.Float(), server_default='0', nullable=False),
    sa.Column('budget_micro', sa.BigInteger(), nullable=False),
    sa.Column('price_micro_per_cpu_s', sa.BigInteger(), nullable=False),
    sa.Column('cpu_seconds', sa.Float(), server_default='0', nullable=False),
    sa.Column('cost_micro', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('charged_micro', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=False),
    sa.Column('fencing_token', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('lease_owner', sa.Text(), nullable=True),
    sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('metrics', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('artifact_uri', sa.Text(), nullable=True),
    sa.Column('artifact_digest', sa.Text(), nullable=True),
    sa.Column('model_version', sa.Integer(), nullable=True),
    sa.Column('failure_reason', sa.Text(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('workflow_run_id', sa.Uuid(), nullable=True),
    sa.Column('workflow_step', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('charged_micro <= cost_micro', name=op.f('ck_training_jobs_charged_within_cost')),
    sa.CheckConstraint('cost_micro <= budget_micro', name=op.f('ck_training_jobs_cost_within_budget')),
    sa.ForeignKeyConstraint(['dataset_version_id'], ['dataset_versions.id'], name=op.f('fk_training_jobs_dataset_version_id_dataset_versions'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_jobs'))
    )
    op.create_index('ix_training_jobs_leased', 'training_jobs', ['lease_expires_at'], unique=False, postgresql_where=sa.text("state IN ('running', 'cancelling')"))
    op.create_index('ix_training_jobs_owner_created', 'training_jobs', ['owner_id', 'created_at', 'id'], unique=False)
    op.create_index('ix_training_jobs_queued', 'training_jobs', ['created_at'], unique=False, postgresql_where=sa.text("state = 'queued'"))
    op.create_index(op.f('ix_training_jobs_workflow_run_id'), 'training_jobs', ['workflow_run_id'], unique=False)
    op.create_table('workflow_run_steps',
    sa.Column('run_id', sa.Uuid(), nullable=False),
    sa.Column('step_id', sa.Text(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('definition', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('state', sa.Text(), nullable=False),
    sa.Column('attempt', sa.Integer(), server_default='0', nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outputs', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('training_job_id', sa.Uuid(), nullable=True),
    sa.Column('deployment_id', sa.Uuid(), nullable=True),
    sa.Column('retry_delay_s', sa.Float(), server_default='0', nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['workflow_runs.id'], name=op.f('fk_workflow_run_steps_run_id_workflow_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', 'step_id', name=op.f('pk_workflow_run_steps'))
    )
    op.create_index('ix_workflow_run_steps_deployment', 'workflow_run_steps', ['deployment_id'], unique=False)
    op.create_index('ix_workflow_run_steps_retry_due', 'workflow_run_steps', ['next_attempt_at'], unique=False, postgresql_where=sa.text("state = 'retrying'"))
    op.create_index('ix_workflow_run_steps_training_job', 'workflow_run_steps', ['training_job_id'], unique=False)
    op.create_table('training_job_logs',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('job_id', sa.Uuid(), nullable=False),
    sa.Column('fencing_token', sa.BigInteger(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('clock_timestamp()'), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['training_jobs.id'], name=op.f('fk_training_job_logs_job_id_training_jobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_job_logs'))
    )
    op.create_index('ix_training_job_logs_job', 'training_job_logs', ['job_id', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_training_job_logs_job', table_name='training_job_logs')
    op.drop_table('training_job_logs')
    op.drop_index('ix_workflow_run_steps_training_job', table_name='workflow_run_steps')
    op.drop_index('ix_workflow_run_steps_retry_due', table_name='workflow_run_steps', postgresql_where=sa.text("state = 'retrying'"))
    op.drop_index('ix_workflow_run_steps_deployment', table_name='workflow_run_steps')
    op.drop_table('workflow_run_steps')
    op.drop_index(op.f('ix_training_jobs_workflow_run_id'), table_name='training_jobs')
    op.drop_index('ix_training_jobs_queued', table_name='training_jobs', postgresql_where=sa.text("state = 'queued'"))
    op.drop_index('ix_training_jobs_owner_created', table_name='training_jobs')
    op.drop_index('ix_training_jobs_leased', table_name='training_jobs', postgresql_where=sa.text("state IN ('running', 'cancelling')"))
    op.drop_table('training_jobs')
    op.drop_index('ix_workflow_runs_workflow_created', table_name='workflow_runs')
    op.drop_index(op.f('ix_workflow_runs_owner_id'), table_name='workflow_runs')
    op.drop_table('workflow_runs')
    op.drop_index('uq_workflows_owner_name_live', table_name='workflows', postgresql_where=sa.text('deleted_at IS NULL'))
    op.drop_index('ix_workflows_owner_created', table_name='workflows')
    op.drop_table('workflows')
