"""Myntrix: agents, commands, devices, model replica, deployments, outbox, inbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = '0001'
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('agents',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('owner_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('model', sa.Text(), nullable=False),
    sa.Column('configuration', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('status', sa.Text(), server_default='stopped', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("kind IN ('chat', 'worker', 'inference')", name=op.f('ck_agents_kind')),
    sa.CheckConstraint("status IN ('stopped', 'starting', 'running', 'stopping', 'failed')", name=op.f('ck_agents_status')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agents'))
    )
    op.create_index('ix_agents_owner_created', 'agents', ['owner_id', 'created_at', 'id'], unique=False)
    op.create_table('deployments',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('model_name', sa.Text(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('previous_version', sa.Integer(), nullable=True),
    sa.Column('rollback_of', sa.Uuid(), nullable=True),
    sa.Column('requested_by', sa.Uuid(), nullable=True),
    sa.Column('state', sa.Text(), server_default='rolling_out', nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('batch_size', sa.Integer(), nullable=False),
    sa.Column('pause_s', sa.Double(), nullable=False),
    sa.Column('failure_threshold', sa.Double(), nullable=False),
    sa.Column('device_timeout_s', sa.Double(), nullable=False),
    sa.Column('next_batch_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("state IN ('rolling_out', 'succeeded', 'failed', 'aborted')", name=op.f('ck_deployments_state')),
    sa.CheckConstraint('batch_size >= 1', name=op.f('ck_deployments_batch_size_positive')),
    sa.CheckConstraint('failure_threshold >= 0 AND failure_threshold <= 1', name=op.f('ck_deployments_threshold')),
    sa.ForeignKeyConstraint(['rollback_of'], ['deployments.id'], name=op.f('fk_deployments_rollback_of_deployments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deployments'))
    )
    op.create_index('ix_deployments_active', 'deployments', ['id'], unique=False, postgresql_where=sa.text("state = 'rolling_out'"))
    op.create_index('ix_deployments_created', 'deployments', ['created_at', 'id'], unique=False)
    op.create_index(op.f('ix_deployments_requested_by'), 'deployments', ['requested_by'], unique=False)
    op.create_table('devices',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('registered_by', sa.Uuid(), nullable=True),
    sa.Column('capabilities', postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'::text[]"), nullable=False),
    sa.Column('admin_state', sa.Text(), server_default='active', nullable=False),
    sa.Column('credential_hash', sa.LargeBinary(), nullable=False),
    sa.Column('inactivity_timeout_s', sa.Double(), nullable=False),
    sa.Column('last_heartbeat_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_reported_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('load', sa.Double(), nullable=True),
    sa.Column('memory_percent', sa.Double(), nullable=True),
    sa.Column('temperature_c', sa.Double(), nullable=True),
    sa.Column('running_models', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('desired_models', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('pinned_models', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('published_connectivity', sa.Text(), server_default='offline', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("admin_state IN ('active', 'maintenance', 'retired')", name=op.f('ck_devices_admin_state')),
    sa.CheckConstraint("published_connectivity IN ('online', 'offline')", name=op.f('ck_devices_published')),
    sa.CheckConstraint('inactivity_timeout_s > 0', name=op.f('ck_devices_timeout_positive')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_devices')),
    sa.UniqueConstraint('credential_hash', name=op.f('uq_devices_credential_hash'))
    )
    op.create_index('ix_devices_created', 'devices', ['created_at', 'id'], unique=False)
    op.create_index(op.f('ix_devices_registered_by'), 'devices', ['registered_by'], unique=False)
    op.create_table('inbox',
    sa.Column('event_id', sa.Text(), nullable=False),
    sa.Column('consumer', sa.Text(), nullable=False),
    sa.Column('event_type', sa.Text(), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('event_id', 'consumer', name=op.f('pk_inbox'))
    )
    op.create_table('model_aliases',
    sa.Column('model_name', sa.Text(), nullable=False),
    sa.Column('alias', sa.Text(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=True),
    sa.Column('moved_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('model_name', 'alias', name=op.f('pk_model_aliases'))
    )
    op.create_table('model_versions',
    sa.Column('model_name', sa.Text(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('model_id', sa.Uuid(), nullable=False),
    sa.Column('artifact_digest', sa.Text(), nullable=False),
    sa.Column('artifact_uri', sa.Text(), nullable=True),
    sa.Column('framework', sa.Text(), nullable=True),
    sa.Column('registered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('replicated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('model_name', 'version', name=op.f('pk_model_versions'))
    )
    op.create_table('outbox',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('event_id', sa.Uuid(), nullable=False),
    sa.Column('topic', sa.Text(), nullable=False),
    sa.Column('key', sa.Text(), nullable=True),
    sa.Column('event_type', sa.Text(), nullable=False),
    sa.Column('headers', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox')),
    sa.UniqueConstraint('event_id', name=op.f('uq_outbox_event_id'))
    )
    op.create_index('ix_outbox_pending', 'outbox', ['id'], unique=False, postgresql_where=sa.text('sent_at IS NULL'))
    op.create_table('commands',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('agent_id', sa.Uuid(), nullable=False),
    sa.Column('owner_id', sa.Uuid(), nullable=False),
    sa.Column('action', sa.Text(), nullable=False),
    sa.Column('idempotency_key', sa.Text(), nullable=False),
    sa.Column('state', sa.Text(), server_default='queued', nullable=False),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("action IN ('start', 'stop', 'restart')", name=op.f('ck_commands_action')),
    sa.CheckConstraint("state IN ('queued', 'sent', 'acknowledged', 'succeeded', 'failed', 'expired')", name=op.f('ck_commands_state')),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_commands_agent_id_agents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_commands')),
    sa.UniqueConstraint('idempotency_key', 'agent_id', name=op.f('uq_commands_idempotency_key_agent_id'))
    )
    op.create_index(op.f('ix_commands_agent_id'), 'commands', ['agent_id'], unique=False)
    op.create_index('ix_commands_open_expiry', 'commands', ['expires_at'], unique=False, postgresql_where=sa.text("state IN ('queued', 'sent', 'acknowledged')"))
    op.create_index(op.f('ix_commands_owner_id'), 'commands', ['owner_id'], unique=False)
    op.create_table('deployment_targets',
    sa.Column('deployment_id', sa.Uuid(), nullable=False),
    sa.Column('device_id', sa.Uuid(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('state', sa.Text(), server_default='pending', nullable=False),
    sa.Column('previous_version', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("state IN ('pending', 'in_progress', 'succeeded', 'failed', 'skipped', 'cancelled')", name=op.f('ck_deployment_targets_state')),
    sa.ForeignKeyConstraint(['deployment_id'], ['deployments.id'], name=op.f('fk_deployment_targets_deployment_id_deployments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_deployment_targets_device_id_devices')),
    sa.PrimaryKeyConstraint('deployment_id', 'device_id', name=op.f('pk_deployment_targets'))
    )
    op.create_index(op.f('ix_deployment_targets_device_id'), 'deployment_targets', ['device_id'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(op.f('ix_deployment_targets_device_id'), table_name='deployment_targets')
    op.drop_table('deployment_targets')
    op.drop_index(op.f('ix_commands_owner_id'), table_name='commands')
    op.drop_index('ix_commands_open_expiry', table_name='commands', postgresql_where=sa.text("state IN ('queued', 'sent', 'acknowledged')"))
    op.drop_index(op.f('ix_commands_agent_id'), table_name='commands')
    op.drop_table('commands')
    op.drop_index('ix_outbox_pending', table_name='outbox', postgresql_where=sa.text('sent_at IS NULL'))
    op.drop_table('outbox')
    op.drop_table('model_versions')
    op.drop_table('model_aliases')
    op.drop_table('inbox')
    op.drop_index(op.f('ix_devices_registered_by'), table_name='devices')
    op.drop_index('ix_devices_created', table_name='devices')
    op.drop_table('devices')
    op.drop_index(op.f('ix_deployments_requested_by'), table_name='deployments')
    op.drop_index('ix_deployments_created', table_name='deployments')
    op.drop_index('ix_deployments_active', table_name='deployments', postgresql_where=sa.text("state = 'rolling_out'"))
    op.drop_table('deployments')
    op.drop_index('ix_agents_owner_created', table_name='agents')
    op.drop_table('agents')
