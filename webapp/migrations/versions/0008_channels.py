"""channels: department group-chat robots (WeCom, DingTalk) and their deliveries

Revision ID: 0008_channels
Revises: 0007_queue_order
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = '0008_channels'
down_revision = '0007_queue_order'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'department_channels',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('department_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('webhook_url', sa.String(length=1000), nullable=False),
        sa.Column('secret', sa.String(length=200), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind in ('wecom', 'dingtalk')", name=op.f('ck_department_channels_kind')),
        sa.ForeignKeyConstraint(['department_id'], ['departments.id'],
                                name=op.f('fk_department_channels_department_id_departments'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_department_channels')),
        sa.UniqueConstraint('department_id', 'kind', name=op.f('uq_department_channels_department_kind')),
    )
    op.create_table(
        'channel_deliveries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('channel_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=30), nullable=False),
        sa.Column('period', sa.String(length=20), nullable=False),
        sa.Column('title', sa.String(length=200), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('error', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind in ('remind', 'weekly_report')", name=op.f('ck_channel_deliveries_kind')),
        sa.CheckConstraint("status in ('pending', 'sent', 'failed')", name=op.f('ck_channel_deliveries_status')),
        sa.ForeignKeyConstraint(['channel_id'], ['department_channels.id'],
                                name=op.f('fk_channel_deliveries_channel_id_department_channels'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_channel_deliveries')),
        sa.UniqueConstraint('channel_id', 'kind', 'period',
                            name=op.f('uq_channel_deliveries_channel_kind_period')),
    )
    op.create_index('ix_channel_deliveries_status', 'channel_deliveries', ['status', 'updated_at'])


def downgrade() -> None:
    op.drop_index('ix_channel_deliveries_status', table_name='channel_deliveries')
    op.drop_table('channel_deliveries')
    op.drop_table('department_channels')
