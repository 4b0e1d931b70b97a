"""calendar: terms and holiday pauses

Revision ID: 0009_calendar
Revises: 0008_channels
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = '0009_calendar'
down_revision = '0008_channels'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'terms',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('first_day', sa.Date(), nullable=False),
        sa.Column('last_day', sa.Date(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('last_day >= first_day', name=op.f('ck_terms_days')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_terms')),
    )
    op.create_table(
        'pauses',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('first_day', sa.Date(), nullable=False),
        sa.Column('last_day', sa.Date(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('last_day >= first_day', name=op.f('ck_pauses_days')),
        sa.CheckConstraint("kind in ('寒假', '暑假', '节假日', '其他')", name=op.f('ck_pauses_kind')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_pauses')),
    )
    op.create_index(op.f('ix_pauses_last_day'), 'pauses', ['last_day'])


def downgrade() -> None:
    op.drop_index(op.f('ix_pauses_last_day'), table_name='pauses')
    op.drop_table('pauses')
    op.drop_table('terms')
