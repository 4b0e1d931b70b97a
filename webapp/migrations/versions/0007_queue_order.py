"""queue: overdue order by index, and due tallies so Today's counts do not read every card

Revision ID: 0007_queue_order
Revises: 0004_progress
Create Date: 2026-11-29

Two costs grew with a person's card count (bench/growth.py: 16x per grade, 44x per Today page from 1k to
100k cards):

- The next overdue card was ordered by (due_day, deck_id, cards.position): every overdue row was read and
  sorted to find the first. The order is now (due_day, deck_id, card_id), which the new index
  ix_review_states_user_due_order serves in order, so the first card is one index step. It replaces
  ix_review_states_user_due (same leading columns).
- Today's counts (due, overdue, learning, mastered, unseen) counted the person's review states. They now sum
  ``due_tallies``: per person x deck x due day, how many live cards fall due then and how many of those are
  mastered; and ``decks.live_cards``. Both are kept by triggers on review_states and cards, so every writer
  (grading, undo, retiring or restoring a card, a bulk reschedule, a hand-run UPDATE) keeps them right
  without knowing they exist. ``tifa check`` compares them with a recount and ``tifa check --repair``
  rebuilds them.

Mastered means interval >= 21 days (DESIGN.md, scheduler.queue.MASTERED_INTERVAL); the number is written into
the trigger bodies, as a migration is frozen in time. On PostgreSQL the trigger that moves a card from one due
day to another locks the two tally rows in day order, so two grades of one person never deadlock.
SQLite drops a table's triggers when a batch migration recreates the table: a later migration that rebuilds
review_states or cards must recreate them (``create_triggers`` below).
"""

import sqlalchemy as sa
from alembic import op

revision = '0007_queue_order'
down_revision = '0004_progress'
branch_labels = None
depends_on = None

MASTERED = 21


def _sqlite_add(row: str) -> str:
    """Count the review state ``row`` (NEW) on its day."""
    return f"""INSERT INTO due_tallies (user_id, deck_id, due_day, cards, mastered)
  VALUES ({row}.user_id, {row}.deck_id, {row}.due_day, 1, {row}.interval >= {MASTERED})
  ON CONFLICT (user_id, deck_id, due_day) DO UPDATE SET cards = cards + 1, mastered = mastered + excluded.mastered;"""


def _sqlite_subtract(row: str) -> str:
    """Uncount the review state ``row`` (OLD) from its day; a row at zero goes."""
    return f"""UPDATE due_tallies SET cards = cards - 1, mastered = mastered - ({row}.interval >= {MASTERED})
  WHERE user_id = {row}.user_id AND deck_id = {row}.deck_id AND due_day = {row}.due_day;
  DELETE FROM due_tallies
  WHERE user_id = {row}.user_id AND deck_id = {row}.deck_id AND due_day = {row}.due_day AND cards <= 0;"""


def _sqlite_subtract_card(card: str) -> str:
    """Uncount every review state of the card ``card`` (retired or deleted) and the deck's live card."""
    states = f"SELECT user_id, deck_id, due_day FROM review_states WHERE card_id = {card}.id"
    return f"""UPDATE decks SET live_cards = live_cards - 1 WHERE id = {card}.deck_id;
  UPDATE due_tallies
  SET cards = cards - 1,
      mastered = mastered - (SELECT s.interval >= {MASTERED} FROM review_states s
                             WHERE s.card_id = {card}.id AND s.user_id = due_tallies.user_id)
  WHERE (user_id, deck_id, due_day) IN ({states});
  DELETE FROM due_tallies WHERE cards <= 0 AND (user_id, deck_id, due_day) IN ({states});"""


SQLITE_TRIGGERS = f"""
CREATE TRIGGER due_tallies_state_insert AFTER INSERT ON review_states
WHEN (SELECT retired FROM cards WHERE id = NEW.card_id) = 0
BEGIN
  {_sqlite_add("NEW")}
END;

CREATE TRIGGER due_tallies_state_delete AFTER DELETE ON review_states
WHEN (SELECT retired FROM cards WHERE id = OLD.card_id) = 0
BEGIN
  {_sqlite_subtract("OLD")}
END;

CREATE TRIGGER due_tallies_state_update AFTER UPDATE OF due_day, interval ON review_states
WHEN (OLD.due_day IS NOT NEW.due_day OR (OLD.interval >= {MASTERED}) <> (NEW.interval >= {MASTERED}))
  AND (SELECT retired FROM cards WHERE id = NEW.card_id) = 0
BEGIN
  {_sqlite_subtract("OLD")}
  {_sqlite_add("NEW")}
END;

CREATE TRIGGER due_tallies_card_insert AFTER INSERT ON cards
WHEN NEW.retired = 0
BEGIN
  UPDATE decks SET live_cards = live_cards + 1 WHERE id = NEW.deck_id;
END;

CREATE TRIGGER due_tallies_card_retire AFTER UPDATE OF retired ON cards
WHEN OLD.retired = 0 AND NEW.retired = 1
BEGIN
  {_sqlite_subtract_card("NEW")}
END;

CREATE TRIGGER due_tallies_card_restore AFTER UPDATE OF retired ON cards
WHEN OLD.retired = 1 AND NEW.retired = 0
BEGIN
  UPDATE decks SET live_cards = live_cards + 1 WHERE id = NEW.deck_id;
  INSERT INTO due_tallies (user_id, deck_id, due_day, cards, mastered)
  SELECT user_id, deck_id, due_day, 1, interval >= {MASTERED} FROM review_states WHERE card_id = NEW.id AND true
  ON CONFLICT (user_id, deck_id, due_day) DO UPDATE SET cards = cards + 1, mastered = mastered + excluded.mastered;
END;

CREATE TRIGGER due_tallies_card_delete BEFORE DELETE ON cards
WHEN OLD.retired = 0
BEGIN
  {_sqlite_subtract_card("OLD")}
END;
"""

POSTGRES_TRIGGERS = f"""
CREATE FUNCTION due_tally_add(p_user integer, p_deck integer, p_day date, p_cards integer, p_mastered integer)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF p_cards > 0 THEN
    INSERT INTO due_tallies (user_id, deck_id, due_day, cards, mastered)
    VALUES (p_user, p_deck, p_day, p_cards, p_mastered)
    ON CONFLICT (user_id, deck_id, due_day)
    DO UPDATE SET cards = due_tallies.cards + EXCLUDED.cards, mastered = due_tallies.mastered + EXCLUDED.mastered;
  ELSE
    UPDATE due_tallies SET cards = cards + p_cards, mastered = mastered + p_mastered
    WHERE user_id = p_user AND deck_id = p_deck AND due_day = p_day;
    DELETE FROM due_tallies WHERE user_id = p_user AND deck_id = p_deck AND due_day = p_day AND cards <= 0;
  END IF;
END $$;

CREATE FUNCTION due_tallies_on_state() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  live boolean;
BEGIN
  IF TG_OP = 'DELETE' THEN
    SELECT NOT retired INTO live FROM cards WHERE id = OLD.card_id;
    IF coalesce(live, false) THEN
      PERFORM due_tally_add(OLD.user_id, OLD.deck_id, OLD.due_day, -1, -(OLD.interval >= {MASTERED})::integer);
    END IF;
    RETURN NULL;
  END IF;
  SELECT NOT retired INTO live FROM cards WHERE id = NEW.card_id;
  IF NOT coalesce(live, false) THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'INSERT' THEN
    PERFORM due_tally_add(NEW.user_id, NEW.deck_id, NEW.due_day, 1, (NEW.interval >= {MASTERED})::integer);
  ELSIF OLD.due_day IS DISTINCT FROM NEW.due_day OR (OLD.interval >= {MASTERED}) <> (NEW.interval >= {MASTERED}) THEN
    -- Lock the two rows in day order: two grades of one person never wait on each other in a cycle.
    IF OLD.due_day <= NEW.due_day THEN
      PERFORM due_tally_add(OLD.user_id, OLD.deck_id, OLD.due_day, -1, -(OLD.interval >= {MASTERED})::integer);
      PERFORM due_tally_add(NEW.user_id, NEW.deck_id, NEW.due_day, 1, (NEW.interval >= {MASTERED})::integer);
    ELSE
      PERFORM due_tally_add(NEW.user_id, NEW.deck_id, NEW.due_day, 1, (NEW.interval >= {MASTERED})::integer);
      PERFORM due_tally_add(OLD.user_id, OLD.deck_id, OLD.due_day, -1, -(OLD.interval >= {MASTERED})::integer);
    END IF;
  END IF;
  RETURN NULL;
END $$;

CREATE FUNCTION due_tallies_on_card() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  card cards%ROWTYPE;
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF NOT NEW.retired THEN
      UPDATE decks SET live_cards = live_cards + 1 WHERE id = NEW.deck_id;
    END IF;
    RETURN NULL;
  END IF;
  IF TG_OP = 'UPDATE' AND NEW.retired = OLD.retired THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'DELETE' AND OLD.retired THEN
    RETURN OLD;
  END IF;
  IF TG_OP = 'UPDATE' AND NOT NEW.retired THEN
    UPDATE decks SET live_cards = live_cards + 1 WHERE id = NEW.deck_id;
    INSERT INTO due_tallies (user_id, deck_id, due_day, cards, mastered)
    SELECT user_id, deck_id, due_day, 1, (interval >= {MASTERED})::integer FROM review_states WHERE card_id = NEW.id
    ON CONFLICT (user_id, deck_id, due_day)
    DO UPDATE SET cards = due_tallies.cards + EXCLUDED.cards, mastered = due_tallies.mastered + EXCLUDED.mastered;
    RETURN NULL;
  END IF;
  -- Retired, or deleted while live (BEFORE DELETE: its review states are still there to subtract).
  card := OLD;
  UPDATE decks SET live_cards = live_cards - 1 WHERE id = card.deck_id;
  UPDATE due_tallies t SET cards = t.cards - 1, mastered = t.mastered - (s.interval >= {MASTERED})::integer
  FROM review_states s
  WHERE s.card_id = card.id AND t.user_id = s.user_id AND t.deck_id = s.deck_id AND t.due_day = s.due_day;
  DELETE FROM due_tallies t USING review_states s
  WHERE s.card_id = card.id AND t.user_id = s.user_id AND t.deck_id = s.deck_id AND t.due_day = s.due_day
    AND t.cards <= 0;
  IF TG_OP = 'DELETE' THEN
    RETURN OLD;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER due_tallies_state AFTER INSERT OR DELETE OR UPDATE OF due_day, interval ON review_states
FOR EACH ROW EXECUTE FUNCTION due_tallies_on_state();
CREATE TRIGGER due_tallies_card AFTER INSERT OR UPDATE OF retired ON cards
FOR EACH ROW EXECUTE FUNCTION due_tallies_on_card();
CREATE TRIGGER due_tallies_card_delete BEFORE DELETE ON cards
FOR EACH ROW EXECUTE FUNCTION due_tallies_on_card();
"""

SQLITE_DROP = """
DROP TRIGGER IF EXISTS due_tallies_state_insert;
DROP TRIGGER IF EXISTS due_tallies_state_delete;
DROP TRIGGER IF EXISTS due_tallies_state_update;
DROP TRIGGER IF EXISTS due_tallies_card_insert;
DROP TRIGGER IF EXISTS due_tallies_card_retire;
DROP TRIGGER IF EXISTS due_tallies_card_restore;
DROP TRIGGER IF EXISTS due_tallies_card_delete;
"""

POSTGRES_DROP = """
DROP TRIGGER IF EXISTS due_tallies_state ON review_states;
DROP TRIGGER IF EXISTS due_tallies_card ON cards;
DROP TRIGGER IF EXISTS due_tallies_card_delete ON cards;
DROP FUNCTION IF EXISTS due_tallies_on_card();
DROP FUNCTION IF EXISTS due_tallies_on_state();
DROP FUNCTION IF EXISTS due_tally_add(integer, integer, date, integer, integer);
"""

RECOUNT_TALLIES = f"""
INSERT INTO due_tallies (user_id, deck_id, due_day, cards, mastered)
SELECT s.user_id, s.deck_id, s.due_day, count(*), sum(CASE WHEN s.interval >= {MASTERED} THEN 1 ELSE 0 END)
FROM review_states s JOIN cards c ON c.id = s.card_id
WHERE NOT c.retired
GROUP BY s.user_id, s.deck_id, s.due_day
"""

RECOUNT_LIVE_CARDS = """
UPDATE decks SET live_cards = (SELECT count(*) FROM cards c WHERE c.deck_id = decks.id AND NOT c.retired)
"""


def create_triggers() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    # Statements are separated by blank lines: trigger and function bodies hold semicolons.
    for statement in (SQLITE_TRIGGERS if sqlite else POSTGRES_TRIGGERS).split("\n\n"):
        if statement.strip():
            op.execute(statement.strip())


def drop_triggers() -> None:
    dialect = op.get_bind().dialect.name
    for statement in (SQLITE_DROP if dialect == "sqlite" else POSTGRES_DROP).split(";"):
        if statement.strip():
            op.execute(statement.strip())


def upgrade() -> None:
    op.create_index('ix_review_states_user_due_order', 'review_states', ['user_id', 'due_day', 'deck_id', 'card_id'])
    op.drop_index('ix_review_states_user_due', table_name='review_states')
    with op.batch_alter_table('decks') as batch:
        batch.add_column(sa.Column('live_cards', sa.Integer(), server_default='0', nullable=False))
    op.create_table(
        'due_tallies',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('deck_id', sa.Integer(), nullable=False),
        sa.Column('due_day', sa.Date(), nullable=False),
        sa.Column('cards', sa.Integer(), nullable=False),
        sa.Column('mastered', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_due_tallies_user_id_users'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['deck_id'], ['decks.id'], name=op.f('fk_due_tallies_deck_id_decks'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_id', 'deck_id', 'due_day', name=op.f('pk_due_tallies')),
    )
    op.execute(RECOUNT_LIVE_CARDS)
    op.execute(RECOUNT_TALLIES)
    create_triggers()


def downgrade() -> None:
    drop_triggers()
    op.drop_table('due_tallies')
    with op.batch_alter_table('decks') as batch:
        batch.drop_column('live_cards')
    op.create_index('ix_review_states_user_due', 'review_states', ['user_id', 'due_day'])
    op.drop_index('ix_review_states_user_due_order', table_name='review_states')
