"""Datasets, model registry (immutable versions, alias history), open lab, outbox, inbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-26 16:39:07.728687
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('datasets',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('owner_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_datasets'))
    )
    op.create_index('ix_datasets_owner_created', 'datasets', ['owner_id', 'created_at', 'id'], unique=False)
    op.create_index('uq_datasets_owner_name_live', 'datasets', ['owner_id', 'name'], unique=True, postgresql_where=sa.text('deleted_at IS NULL'))
    op.create_table('inbox',
    sa.Column('event_id', sa.Text(), nullable=False),
    sa.Column('consumer', sa.Text(), nullable=False),
    sa.Column('event_type', sa.Text(), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('event_id', 'consumer', name=op.f('pk_inbox'))
    )
    op.create_table('lab_operations',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('owner_id', sa.Uuid(), nullable=False),
    sa.Column('dataset_version_id', sa.Uuid(), nullable=True),
    sa.Column('operation', sa.Text(), nullable=False),
    sa.Column('parameters', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('progress', sa.Float(), server_default='0', nullable=False),
    sa.Column('result', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('cached', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lab_operations'))
    )
    op.create_index(op.f('ix_lab_operations_owner_id'), 'lab_operations', ['owner_id'], unique=False)
    op.create_table('lab_results',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('dataset_digest', sa.Text(), nullable=False),
    sa.Column('operation', sa.Text(), nullable=False),
    sa.Column('parameters_key', sa.Text(), nullable=False),
    sa.Column('result', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lab_results'))
    )
    op.create_index('uq_lab_results_key', 'lab_results', ['dataset_digest', 'operation', 'parameters_key'], unique=True)
    op.create_table('models',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('owner_id', sa.Uuid(), nullable=True),
    sa.Column('description', sa.Text(), server_default='', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_models')),
    sa.UniqueConstraint('name', name=op.f('uq_models_name'))
    )
    op.create_index(op.f('ix_models_owner_id'), 'models', ['owner_id'], unique=False)
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
    op.create_table('alias_history',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('model_id', sa.Uuid(), nullable=False),
    sa.Column('alias', sa.Text(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=True),
    sa.Column('valid_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('valid_to', sa.DateTime(timezone=True), nullable=True),
    sa.Column('moved_by', sa.Uuid(), nullable=True),
    sa.ForeignKeyConstraint(['model_id'], ['models.id'], name=op.f('fk_alias_history_model_id_models')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alias_history'))
    )
    op.create_index('ix_alias_history_lookup', 'alias_history', ['model_id', 'alias', 'valid_from'], unique=False)
    op.create_index('uq_alias_history_current', 'alias_history', ['model_id', 'alias'], unique=True, postgresql_where=sa.text('valid_to IS NULL'))
    op.create_table('dataset_versions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('dataset_id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('format', sa.Text(), nullable=False),
    sa.Column('size_bytes', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.Text(), nullable=False),
    sa.Column('row_count', sa.BigInteger(), nullable=False),
    sa.Column('columns', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('storage_key', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['dataset_id'], ['datasets.id'], name=op.f('fk_dataset_versions_dataset_id_datasets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dataset_versions'))
    )
    op.create_index(op.f('ix_dataset_versions_sha256'), 'dataset_versions', ['sha256'], unique=False)
    op.create_index('uq_dataset_versions_dataset_version', 'dataset_versions', ['dataset_id', 'version'], unique=True)
    op.create_table('model_versions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('model_id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('registered_by', sa.Uuid(), nullable=True),
    sa.Column('training_job_id', sa.Uuid(), nullable=True),
    sa.Column('dataset_version_id', sa.Uuid(), nullable=True),
    sa.Column('dataset_digest', sa.Text(), nullable=True),
    sa.Column('parameters', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('metrics', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('artifact_digest', sa.Text(), nullable=False),
    sa.Column('artifact_uri', sa.Text(), nullable=True),
    sa.Column('framework', sa.Text(), nullable=True),
    sa.Column('registered_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['dataset_version_id'], ['dataset_versions.id'], name=op.f('fk_model_versions_dataset_version_id_dataset_versions'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['model_id'], ['models.id'], name=op.f('fk_model_versions_model_id_models')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_model_versions'))
    )
    op.create_index(op.f('ix_model_versions_dataset_version_id'), 'model_versions', ['dataset_version_id'], unique=False)
    op.create_index('uq_model_versions_model_version', 'model_versions', ['model_id', 'version'], unique=True)

    # Registered versions never change; erasure may only clear who registered them and the
    # link to an erased dataset version (the digest stays as anonymous lineage).
    op.execute("""
        CREATE FUNCTION model_versions_immutable() RETURNS trigger AS $$
        BEGIN
            IF TG_OP = 'DELETE' THEN
                RAISE EXCEPTION 'model versions are immutable' USING ERRCODE = 'P0001';
            END IF;
            IF (NEW.registered_by IS NOT NULL AND NEW.registered_by IS DISTINCT FROM OLD.registered_by)
               OR (NEW.dataset_version_id IS NOT NULL
                   AND NEW.dataset_version_id IS DISTINCT FROM OLD.dataset_version_id)
               OR (to_jsonb(NEW) - 'registered_by' - 'dataset_version_id')
                  IS DISTINCT FROM (to_jsonb(OLD) - 'registered_by' - 'dataset_version_id') THEN
                RAISE EXCEPTION 'model versions are immutable' USING ERRCODE = 'P0001';
            END IF;
            RETURN NEW;
        END $$ LANGUAGE plpgsql
    """)
    op.execute("""
        CREATE TRIGGER model_versions_immutable BEFORE UPDATE OR DELETE ON model_versions
        FOR EACH ROW EXECUTE FUNCTION model_versions_immutable()
    """)


def downgrade() -> None:
    op.execute("DROP TRIGGER model_versions_immutable ON model_versions")
    op.execute("DROP FUNCTION model_versions_immutable()")
    op.drop_index('uq_model_versions_model_version', table_name='model_versions')
    op.drop_index(op.f('ix_model_versions_dataset_version_id'), table_name='model_versions')
    op.drop_table('model_versions')
    op.drop_index('uq_dataset_versions_dataset_version', table_name='dataset_versions')
    op.drop_index(op.f('ix_dataset_versions_sha256'), table_name='dataset_versions')
    op.drop_table('dataset_versions')
    op.drop_index('uq_alias_history_current', table_name='alias_history', postgresql_where=sa.text('valid_to IS NULL'))
    op.drop_index('ix_alias_history_lookup', table_name='alias_history')
    op.drop_table('alias_history')
    op.drop_index('ix_outbox_pending', table_name='outbox', postgresql_where=sa.text('sent_at IS NULL'))
    op.drop_table('outbox')
    op.drop_index(op.f('ix_models_owner_id'), table_name='models')
    op.drop_table('models')
    op.drop_index('uq_lab_results_key', table_name='lab_results')
    op.drop_table('lab_results')
    op.drop_index(op.f('ix_lab_operations_owner_id'), table_name='lab_operations')
    op.drop_table('lab_operations')
    op.drop_table('inbox')
    op.drop_index('uq_datasets_owner_name_live', table_name='datasets', postgresql_where=sa.text('deleted_at IS NULL'))
    op.drop_index('ix_datasets_owner_created', table_name='datasets')
    op.drop_table('datasets')
