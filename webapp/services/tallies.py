"""Due tallies: recount, compare and rebuild the trigger-kept counts behind Today's figures.

``due_tallies`` (per person x deck x due day: live cards due, and how many of them mastered) and
``decks.live_cards`` are kept by database triggers (migration 0007_queue_order). This module is their
check: a recount from review_states and cards, the rows where the two disagree, and a rebuild.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, case, delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from scheduler.queue import MASTERED_INTERVAL

from ..models import Card, Deck, DueTally, ReviewState


@dataclass(frozen=True)
class TallyDrift:
    """One disagreement between the kept counts and a recount."""

    what: str  # "tally" or "deck"
    key: tuple
    kept: tuple[int, int] | int | None
    counted: tuple[int, int] | int | None


def _recount() -> Select:
    mastered = func.sum(case((ReviewState.interval >= MASTERED_INTERVAL, 1), else_=0))
    return (
        select(ReviewState.user_id, ReviewState.deck_id, ReviewState.due_day, func.count(), mastered)
        .join(Card, Card.id == ReviewState.card_id)
        .where(Card.retired.is_(False))
        .group_by(ReviewState.user_id, ReviewState.deck_id, ReviewState.due_day)
    )


def _live_cards() -> Select:
    return select(Card.deck_id, func.count()).where(Card.retired.is_(False)).group_by(Card.deck_id)


def drift(db: Session, limit: int = 100) -> list[TallyDrift]:
    """Where the kept counts differ from a recount (empty when the triggers did their job)."""
    counted = {(u, d, day): (int(n), int(m)) for u, d, day, n, m in db.execute(_recount())}
    found: list[TallyDrift] = []
    for t in db.execute(select(DueTally.user_id, DueTally.deck_id, DueTally.due_day, DueTally.cards,
                               DueTally.mastered)):
        key = (t.user_id, t.deck_id, t.due_day)
        expected = counted.pop(key, None)
        if expected != (t.cards, t.mastered):
            found.append(TallyDrift("tally", key, (t.cards, t.mastered), expected))
    found += [TallyDrift("tally", key, None, value) for key, value in counted.items()]
    live = {deck_id: n for deck_id, n in db.execute(_live_cards())}
    for deck_id, kept in db.execute(select(Deck.id, Deck.live_cards)):
        if kept != live.get(deck_id, 0):
            found.append(TallyDrift("deck", (deck_id,), kept, live.get(deck_id, 0)))
    return found[:limit]


def rebuild(db: Session) -> None:
    """Recount everything (``tifa check --repair``); the caller commits."""
    if db.get_bind().dialect.name == "postgresql":
        # Grades wait until the recount commits, so none lands between the recount and the swap.
        # (SQLite's writer lock, taken by session_scope(write=True), does this already.)
        db.execute(text("LOCK TABLE review_states, cards IN SHARE MODE"))
    db.execute(delete(DueTally))
    db.execute(insert(DueTally).from_select(["user_id", "deck_id", "due_day", "cards", "mastered"], _recount()))
    live = select(func.count()).where(Card.deck_id == Deck.id, Card.retired.is_(False)).scalar_subquery()
    db.execute(update(Deck).values(live_cards=live).execution_options(synchronize_session=False))
