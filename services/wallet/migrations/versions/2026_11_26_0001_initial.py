"""Wallet: accounts, transfers, entries, holds, outbox, inbox; the platform accounts.

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
    op.create_table('accounts',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=True),
    sa.Column('code', sa.Text(), nullable=True),
    sa.Column('status', sa.Text(), server_default='open', nullable=False),
    sa.Column('balance', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('pending', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('floor', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("(kind = 'user' AND user_id IS NOT NULL AND code IS NULL) OR (kind = 'platform' AND code IS NOT NULL AND user_id IS NULL)", name=op.f('ck_accounts_kind_owner')),
    sa.CheckConstraint("kind = 'platform' OR balance - pending >= floor", name=op.f('ck_accounts_available_above_floor')),
    sa.CheckConstraint("status IN ('open', 'closed')", name=op.f('ck_accounts_status')),
    sa.CheckConstraint('floor <= 0', name=op.f('ck_accounts_floor_not_positive')),
    sa.CheckConstraint('pending >= 0', name=op.f('ck_accounts_pending_not_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_accounts')),
    sa.UniqueConstraint('code', name=op.f('uq_accounts_code')),
    sa.UniqueConstraint('user_id', name=op.f('uq_accounts_user_id'))
    )
    op.create_table('inbox',
    sa.Column('event_id', sa.Text(), nullable=False),
    sa.Column('consumer', sa.Text(), nullable=False),
    sa.Column('event_type', sa.Text(), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('event_id', 'consumer', name=op.f('pk_inbox'))
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
    op.create_table('transfers',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('debit_account_id', sa.Uuid(), nullable=False),
    sa.Column('credit_account_id', sa.Uuid(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('idempotency_key', sa.Text(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('reference', sa.Text(), nullable=True),
    sa.Column('overdraft', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('request_hash', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_transfers_amount_positive')),
    sa.CheckConstraint('debit_account_id <> credit_account_id', name=op.f('ck_transfers_distinct_accounts')),
    sa.ForeignKeyConstraint(['credit_account_id'], ['accounts.id'], name=op.f('fk_transfers_credit_account_id_accounts')),
    sa.ForeignKeyConstraint(['debit_account_id'], ['accounts.id'], name=op.f('fk_transfers_debit_account_id_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transfers')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_transfers_idempotency_key'))
    )
    op.create_table('entries',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('transfer_id', sa.Uuid(), nullable=False),
    sa.Column('account_id', sa.Uuid(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('balance_after', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('amount <> 0', name=op.f('ck_entries_amount_not_zero')),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_entries_account_id_accounts')),
    sa.ForeignKeyConstraint(['transfer_id'], ['transfers.id'], name=op.f('fk_entries_transfer_id_transfers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_entries')),
    sa.UniqueConstraint('transfer_id', 'account_id', name=op.f('uq_entries_transfer_id_account_id'))
    )
    op.create_index('ix_entries_account_id_id', 'entries', ['account_id', 'id'], unique=False)
    op.create_table('holds',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('account_id', sa.Uuid(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('captured', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('status', sa.Text(), server_default='pending', nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('transfer_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('settled_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'captured', 'released', 'expired')", name=op.f('ck_holds_status')),
    sa.CheckConstraint('amount > 0', name=op.f('ck_holds_amount_positive')),
    sa.CheckConstraint('captured >= 0 AND captured <= amount', name=op.f('ck_holds_captured_within_amount')),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_holds_account_id_accounts')),
    sa.ForeignKeyConstraint(['transfer_id'], ['transfers.id'], name=op.f('fk_holds_transfer_id_transfers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_holds'))
    )
    op.create_index(op.f('ix_holds_account_id'), 'holds', ['account_id'], unique=False)
    op.create_index('ix_holds_pending_expires_at', 'holds', ['expires_at'], unique=False, postgresql_where=sa.text("status = 'pending'"))
    # The other side of every credit issued, earned or written off (see ledger.py).
    op.execute(
        "INSERT INTO accounts (id, kind, code) SELECT gen_random_uuid(), 'platform', code "
        "FROM unnest(ARRAY['platform:signup-bonus', 'platform:grants', "
        "'platform:usage-revenue', 'platform:closed-wallets']) AS code"
    )


def downgrade() -> None:
    op.drop_index('ix_holds_pending_expires_at', table_name='holds', postgresql_where=sa.text("status = 'pending'"))
    op.drop_index(op.f('ix_holds_account_id'), table_name='holds')
    op.drop_table('holds')
    op.drop_index('ix_entries_account_id_id', table_name='entries')
    op.drop_table('entries')
    op.drop_table('transfers')
    op.drop_index('ix_outbox_pending', table_name='outbox', postgresql_where=sa.text('sent_at IS NULL'))
    op.drop_table('outbox')
    op.drop_table('inbox')
    op.drop_table('accounts')
