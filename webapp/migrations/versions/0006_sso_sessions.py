"""sso: server-side record of CAS logins (ticket) so CAS single logout can revoke them

Revision ID: 0006_sso
Revises: 0002_review
Create Date: 2026-11-29
"""

from alembic import op
import sqlalchemy as sa

revision = '0006_sso'
down_revision = '0002_review'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'sso_sessions',
        sa.Column('ticket', sa.String(length=255), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_sso_sessions_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('ticket', name=op.f('pk_sso_sessions')),
    )
    op.create_index(op.f('ix_sso_sessions_user_id'), 'sso_sessions', ['user_id'])
    op.create_index(op.f('ix_sso_sessions_created_at'), 'sso_sessions', ['created_at'])


def downgrade() -> None:
    op.drop_index(op.f('ix_sso_sessions_created_at'), table_name='sso_sessions')
    op.drop_index(op.f('ix_sso_sessions_user_id'), table_name='sso_sessions')
    op.drop_table('sso_sessions')
