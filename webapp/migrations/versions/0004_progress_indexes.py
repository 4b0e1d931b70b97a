"""progress: covering indexes for the progress dashboard's aggregates

Revision ID: 0004_progress
Revises: 0006_sso
Create Date: 2026-11-29

The dashboard sums every person's review states and the logs of a date range. Without these, each state or
log row costs a table lookup (EXPLAIN: SEARCH ... USING INDEX, then the table); with them both are read
from the index alone (USING COVERING INDEX), and the due forecast reads only the states due in the next 14 days
of each person × deck (a range on due_day). The logs index extends ix_review_logs_user_day (same leading
columns), which it replaces, so every query that served is served the same way. Undone grades are subtracted; a
partial index holds just the undo rows, so finding them does not read every log row of the period.
"""

import sqlalchemy as sa
from alembic import op

revision = '0004_progress'
down_revision = '0006_sso'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_review_logs_user_day_grade', 'review_logs',
                    ['user_id', 'study_day', 'kind', 'quality', 'ms', 'deck_id', 'card_id'])
    op.drop_index('ix_review_logs_user_day', table_name='review_logs')
    op.create_index('ix_review_logs_undo', 'review_logs', ['study_day', 'user_id', 'undoes_id'],
                    sqlite_where=sa.text("kind = 'undo'"), postgresql_where=sa.text("kind = 'undo'"))
    op.create_index('ix_review_states_user_deck_due', 'review_states',
                    ['user_id', 'deck_id', 'due_day', 'interval', 'card_id', 'last_review_day'])


def downgrade() -> None:
    op.drop_index('ix_review_logs_undo', table_name='review_logs')
    op.drop_index('ix_review_states_user_deck_due', table_name='review_states')
    op.create_index('ix_review_logs_user_day', 'review_logs', ['user_id', 'study_day'])
    op.drop_index('ix_review_logs_user_day_grade', table_name='review_logs')
