"""Which cards a person reviews today, and in what order (DESIGN.md, SM-2 section).

Order: overdue reviews (oldest due first, then by deck and card), reviews due today (by deck and
card), same-day repeats of cards graded below 4 (oldest grade first), then new cards in deck
order (by position) up to the deck's daily limit. The web app runs the same
rules as indexed SQL; tests check both agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import IntEnum

from .sm2 import check_quality

#: Grades below this bring a card back in the same session (SM-2 step 7).
RELEARN_BELOW = 4
DEFAULT_NEW_PER_DAY = 20
MASTERED_INTERVAL = 21


class Bucket(IntEnum):
    """Queue buckets in the order they are served."""

    OVERDUE = 0
    DUE = 1
    RELEARN = 2
    NEW = 3


@dataclass(frozen=True, slots=True)
class QueueCard:
    """What the queue needs to know about one card for one person."""

    card_id: int
    deck_id: int
    position: int  # order within the deck (note position, then cloze number)
    due: date | None = None  # None while the card is new
    relearn_pending: bool = False  # graded below 4 today and not yet passed with >= 4
    last_reviewed: datetime | None = None


def needs_relearn(quality: int) -> bool:
    """A grade below 4 brings the card back in the same session."""
    return check_quality(quality) < RELEARN_BELOW


def bucket(card: QueueCard, today: date) -> Bucket | None:
    """The card's bucket today, or None when it is not to be shown today."""
    if card.relearn_pending:
        return Bucket.RELEARN
    if card.due is None:
        return Bucket.NEW
    if card.due < today:
        return Bucket.OVERDUE
    if card.due == today:
        return Bucket.DUE
    return None


def order_today(cards: Iterable[QueueCard], today: date,
                new_left: Mapping[int, int] | None = None,
                default_new_left: int = DEFAULT_NEW_PER_DAY) -> list[QueueCard]:
    """Today's queue in serving order.

    ``new_left`` maps deck id to how many new cards that deck may still introduce today
    (its limit minus those introduced already).
    """
    buckets: dict[Bucket, list[QueueCard]] = {b: [] for b in Bucket}
    for card in cards:
        b = bucket(card, today)
        if b is not None:
            buckets[b].append(card)
    # Reviews by (due, deck, card), not by position: an index on those columns serves them in order
    # (webapp's ix_review_states_user_due_order), so finding the next one costs the same at any size.
    buckets[Bucket.OVERDUE].sort(key=lambda c: (c.due, c.deck_id, c.card_id))
    buckets[Bucket.DUE].sort(key=lambda c: (c.deck_id, c.card_id))
    buckets[Bucket.RELEARN].sort(key=lambda c: (c.last_reviewed or datetime.min, c.card_id))
    buckets[Bucket.NEW].sort(key=lambda c: (c.deck_id, c.position, c.card_id))
    allowance = dict(new_left or {})
    new_cards = []
    for card in buckets[Bucket.NEW]:
        left = allowance.get(card.deck_id, default_new_left)
        if left > 0:
            new_cards.append(card)
            allowance[card.deck_id] = left - 1
    buckets[Bucket.NEW] = new_cards
    return [c for b in Bucket for c in buckets[b]]


def next_card(cards: Iterable[QueueCard], today: date, new_left: Mapping[int, int] | None = None,
              just_graded: int | None = None,
              default_new_left: int = DEFAULT_NEW_PER_DAY) -> QueueCard | None:
    """The card to show next; the card just graded waits unless it is the only one left."""
    queue = order_today(cards, today, new_left, default_new_left)
    for card in queue:
        if card.card_id != just_graded:
            return card
    return queue[0] if queue else None


def progress_word(interval: int | None, graded: bool) -> str:
    """未学 / 学习中 / 已掌握 as admins see them (mastered = interval >= 21 days)."""
    if not graded:
        return "new"
    return "mastered" if (interval or 0) >= MASTERED_INTERVAL else "learning"
