"""review: indexes for today's relearn cards and per-deck progress counts

Revision ID: 0002_review
Revises: 0001
Create Date: 2026-11-29
"""

from alembic import op

revision = '0002_review'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Same-day repeats: the cards a person graded today (bounded by the day's work, not their card count).
    op.create_index('ix_review_states_user_last_review', 'review_states', ['user_id', 'last_review_day'])
    # Today page: learning / mastered counts per deck read from the index alone.
    op.create_index('ix_review_states_user_deck_interval', 'review_states', ['user_id', 'deck_id', 'interval'])


def downgrade() -> None:
    op.drop_index('ix_review_states_user_deck_interval', table_name='review_states')
    op.drop_index('ix_review_states_user_last_review', table_name='review_states')
