"""Shell sessions and the commands they received.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 16:52:55.624309
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('shell_sessions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('chat_session_id', sa.Uuid(), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('close_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['chat_session_id'], ['chat_sessions.id'], name=op.f('fk_shell_sessions_chat_session_id_chat_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shell_sessions'))
    )
    op.create_index(op.f('ix_shell_sessions_chat_session_id'), 'shell_sessions', ['chat_session_id'], unique=False)
    op.create_index(op.f('ix_shell_sessions_user_id'), 'shell_sessions', ['user_id'], unique=False)
    op.create_table('shell_commands',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('seq', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('shell_session_id', sa.Uuid(), nullable=False),
    sa.Column('line', sa.Text(), nullable=False),
    sa.Column('command', sa.Text(), nullable=True),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('usage_id', sa.Uuid(), nullable=True),
    sa.Column('cost', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['shell_session_id'], ['shell_sessions.id'], name=op.f('fk_shell_commands_shell_session_id_shell_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shell_commands')),
    sa.UniqueConstraint('seq', name=op.f('uq_shell_commands_seq'))
    )
    op.create_index('ix_shell_commands_shell_seq', 'shell_commands', ['shell_session_id', 'seq'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_shell_commands_shell_seq', table_name='shell_commands')
    op.drop_table('shell_commands')
    op.drop_index(op.f('ix_shell_sessions_user_id'), table_name='shell_sessions')
    op.drop_index(op.f('ix_shell_sessions_chat_session_id'), table_name='shell_sessions')
    op.drop_table('shell_sessions')
