"""calendar: terms and holiday pauses

Revision ID: 0009_calendar
Revises: 0008_channels
Create Date: 2026-11-29
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = '0009_calendar'
down_revision = '0008_channels'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
