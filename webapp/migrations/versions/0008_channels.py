"""channels: department group-chat robots (WeCom, DingTalk) and their deliveries

Revision ID: 0008_channels
Revises: 0007_queue_order
Create Date: 2026-11-29
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = '0008_channels'
down_revision = '0007_queue_order'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
