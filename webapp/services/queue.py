"""Today's review queue in SQL: the rules of scheduler.queue as indexed queries.

Order (DESIGN.md): overdue reviews oldest first, reviews due today, same-day repeats of cards
graded below 4, then new cards up to each deck's ``new_per_day``. Every query is bounded by
an index range (the person's due or overdue cards, today's grades, one deck's new cards), so
the cost of a request does not grow with how many cards a person has already learned.

A ``relearn_pending`` flag only counts on the day it was set: a repeat left over from an
earlier day is simply a card due again by its schedule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Date, Select, and_, func, literal, not_, select
from sqlalchemy.orm import Session, aliased

from scheduler.queue import Bucket
from scheduler.sm2 import PASSING_QUALITY

from ..models import LOG_REVIEW, LOG_UNDO, Card, Deck, DueTally, Note, ReviewLog, ReviewState, User
from .visibility import assigned_deck_ids

#: How far back the streak looks; older history does not change today's figure much.
STREAK_LOOKBACK_DAYS = 366


@dataclass(frozen=True, slots=True)
class QueueItem:
    card_id: int
    deck_id: int
    bucket: Bucket


@dataclass
class SessionCounts:
    """What is left today, as the review page shows it (Anki's new / learning / review)."""

    new: int = 0
    learning: int = 0
    review: int = 0

    @property
    def left(self) -> int:
        return self.new + self.learning + self.review

    def as_dict(self) -> dict[str, int]:
        return {"new": self.new, "learning": self.learning, "review": self.review, "left": self.left}


@dataclass
class DeckToday:
    """One assigned deck on the Today page."""

    deck_id: int
    title: str
    term: str
    week: int | None
    new_per_day: int
    overdue: int = 0
    due: int = 0
    relearn: int = 0
    new_today: int = 0  # new cards still to introduce today (limit minus introduced, capped by unseen)
    unseen: int = 0  # 未学
    learning: int = 0  # 学习中
    mastered: int = 0  # 已掌握

    @property
    def left(self) -> int:
        return self.overdue + self.due + self.relearn + self.new_today

    @property
    def total(self) -> int:
        return self.unseen + self.learning + self.mastered


@dataclass
class Today:
    decks: list[DeckToday] = field(default_factory=list)
    streak: int = 0
    due_tomorrow: int = 0

    @property
    def counts(self) -> SessionCounts:
        return SessionCounts(
            new=sum(d.new_today for d in self.decks),
            learning=sum(d.relearn for d in self.decks),
            review=sum(d.overdue + d.due for d in self.decks),
        )


def assigned(db: Session, user: User) -> list[int]:
    """The ids of the published decks assigned to ``user``, looked up once per session (request)."""
    key = ("tifa.assigned_decks", user.id)
    if key not in db.info:
        db.info[key] = list(db.scalars(assigned_deck_ids(user)))
    return db.info[key]


def _live_card(deck_ids: list[int]) -> list:
    """Conditions that keep a card in play: in an assigned deck, neither it nor its note retired."""
    return [Card.deck_id.in_(deck_ids), Card.retired.is_(False), Note.retired.is_(False)]


def _relearn_today(today: date) -> list:
    return [ReviewState.relearn_pending.is_(True), ReviewState.last_review_day == today]


def _state_cards(db: Session, user: User) -> Select:
    return (
        select(ReviewState.card_id, ReviewState.deck_id)
        .join(Card, Card.id == ReviewState.card_id)
        .join(Note, Note.id == Card.note_id)
        .where(ReviewState.user_id == user.id, *_live_card(assigned(db, user)))
    )


@dataclass
class DeckTally:
    """One person's counts in one deck, summed from due_tallies (kept by triggers, models.DueTally)."""

    overdue: int = 0
    due: int = 0
    learned: int = 0  # cards with a review state (学习中 + 已掌握)
    mastered: int = 0
    relearn: int = 0
    live_cards: int = 0

    @property
    def unseen(self) -> int:
        return max(0, self.live_cards - self.learned)


def deck_tallies(db: Session, user: User, today: date) -> dict[int, DeckTally]:
    """Per assigned deck: due, overdue, learned, mastered, today's repeats and live cards.

    Reads the person's tally rows (one per deck and due day) and today's graded states, never every
    card: Retiring a note retires its cards too (services.decks.retire_note), so ``cards.retired``
    alone decides what is live. A card repeated today is counted as a repeat, not as due: its due day
    is after today already (an interval is at least one day); subtracting keeps that exact.
    """
    ids = assigned(db, user)
    if not ids:
        return {}
    result = {deck_id: DeckTally(live_cards=n)
              for deck_id, n in db.execute(select(Deck.id, Deck.live_cards).where(Deck.id.in_(ids)))}
    rows = db.execute(
        select(DueTally.deck_id, func.sum(DueTally.cards).filter(DueTally.due_day < today),
               func.sum(DueTally.cards).filter(DueTally.due_day == today), func.sum(DueTally.cards),
               func.sum(DueTally.mastered))
        .where(DueTally.user_id == user.id, DueTally.deck_id.in_(ids))
        .group_by(DueTally.deck_id)
    )
    for deck_id, overdue, due, learned, mastered in rows:
        t = result[deck_id]
        t.overdue, t.due, t.learned, t.mastered = int(overdue or 0), int(due or 0), int(learned), int(mastered)
    repeats = db.execute(
        select(ReviewState.deck_id, func.count(), func.count().filter(ReviewState.due_day < today),
               func.count().filter(ReviewState.due_day == today))
        .join(Card, Card.id == ReviewState.card_id)
        .where(ReviewState.user_id == user.id, ReviewState.deck_id.in_(ids), Card.retired.is_(False),
               *_relearn_today(today))
        .group_by(ReviewState.deck_id)
    )
    for deck_id, relearn, overdue, due in repeats:
        t = result[deck_id]
        t.relearn, t.overdue, t.due = relearn, t.overdue - overdue, t.due - due
    return result


def _scheduled(db: Session, user: User, today: date, overdue: bool) -> Select:
    """Overdue cards oldest due first, then by deck and card; due ones by deck and card.

    The order is the columns of ix_review_states_user_due_order, so the first card is read off the
    index without sorting the person's overdue cards.
    """
    not_relearn = not_(and_(*_relearn_today(today)))
    if overdue:
        return (_state_cards(db, user).where(ReviewState.due_day < today, not_relearn)
                .order_by(ReviewState.due_day, ReviewState.deck_id, ReviewState.card_id))
    return (_state_cards(db, user).where(ReviewState.due_day == today, not_relearn)
            .order_by(ReviewState.deck_id, ReviewState.card_id))


def _relearn(db: Session, user: User, today: date) -> Select:
    return (_state_cards(db, user).where(*_relearn_today(today))
            .order_by(ReviewState.last_reviewed_at, ReviewState.card_id))


def _unseen(user: User, deck_id: int) -> Select:
    learned = select(ReviewState.id).where(ReviewState.user_id == user.id, ReviewState.card_id == Card.id)
    return (
        select(Card.id, Card.deck_id)
        .join(Note, Note.id == Card.note_id)
        .where(Card.deck_id == deck_id, Card.retired.is_(False), Note.retired.is_(False), ~learned.exists())
        .order_by(Card.position, Card.id)
    )


def new_left(db: Session, user: User, today: date) -> dict[int, int]:
    """Per assigned deck: how many new cards it may still introduce today."""
    introduced = (
        select(ReviewState.deck_id, func.count().label("n"))
        .where(ReviewState.user_id == user.id, ReviewState.deck_id.in_(assigned(db, user)),
               ReviewState.introduced_day == today)
        .group_by(ReviewState.deck_id)
        .subquery()
    )
    rows = db.execute(
        select(Deck.id, Deck.new_per_day, func.coalesce(introduced.c.n, 0))
        .outerjoin(introduced, introduced.c.deck_id == Deck.id)
        .where(Deck.id.in_(assigned(db, user)))
        .order_by(Deck.id)
    )
    return {deck_id: max(0, limit - done) for deck_id, limit, done in rows}


def queue_today(db: Session, user: User, today: date, limit: int | None = None,
                allowance: dict[int, int] | None = None) -> list[QueueItem]:
    """Today's queue in serving order (the SQL twin of ``scheduler.queue.order_today``).

    ``limit`` stops early: the review page only ever needs the first two cards.
    """
    items: list[QueueItem] = []

    def take(query: Select, bucket: Bucket, cap: int | None = None) -> bool:
        want = None if limit is None else limit - len(items)
        if cap is not None:
            want = cap if want is None else min(want, cap)
        if want is not None and want <= 0:
            return limit is not None and len(items) >= limit
        if want is not None:
            query = query.limit(want)
        items.extend(QueueItem(card_id, deck_id, bucket) for card_id, deck_id in db.execute(query))
        return limit is not None and len(items) >= limit

    if take(_scheduled(db, user, today, overdue=True), Bucket.OVERDUE):
        return items
    if take(_scheduled(db, user, today, overdue=False), Bucket.DUE):
        return items
    if take(_relearn(db, user, today), Bucket.RELEARN):
        return items
    if allowance is None:
        allowance = new_left(db, user, today)
    if any(allowance.values()):
        tallies = deck_tallies(db, user, today)
        for deck_id, left in allowance.items():
            # A deck whose cards are all learned is skipped without looking for an unseen card in it.
            if left > 0 and tallies[deck_id].unseen and take(_unseen(user, deck_id), Bucket.NEW, cap=left):
                return items
    return items


def next_item(db: Session, user: User, today: date, just_graded: int | None,
              allowance: dict[int, int] | None = None) -> QueueItem | None:
    """The card to show next; the card just graded waits unless it is the only one left."""
    head = queue_today(db, user, today, limit=2, allowance=allowance)
    for item in head:
        if item.card_id != just_graded:
            return item
    return head[0] if head else None


def last_graded_card(db: Session, user: User, today: date) -> int | None:
    """The card of the person's latest grade today, unless that grade was just undone."""
    row = db.execute(
        select(ReviewLog.card_id, ReviewLog.kind)
        .where(ReviewLog.user_id == user.id, ReviewLog.study_day == today)
        .order_by(ReviewLog.id.desc())
        .limit(1)
    ).first()
    if row is None or row.kind == LOG_UNDO:
        return None
    return row.card_id


def today_summary(db: Session, user: User, today: date) -> Today:
    """Per-deck counts for the Today page, from the person's due tallies."""
    decks = list(db.scalars(select(Deck).where(Deck.id.in_(assigned(db, user)))
                            .order_by(Deck.term, Deck.week, Deck.id)))
    result = Today(decks=[DeckToday(d.id, d.title, d.term, d.week, d.new_per_day) for d in decks])
    if not decks:
        return result
    tallies = deck_tallies(db, user, today)
    allowance = new_left(db, user, today)
    for deck in result.decks:
        t = tallies[deck.deck_id]
        deck.overdue, deck.due, deck.relearn = t.overdue, t.due, t.relearn
        deck.mastered, deck.learning, deck.unseen = t.mastered, t.learned - t.mastered, t.unseen
        deck.new_today = min(t.unseen, allowance.get(deck.deck_id, 0))
    result.due_tomorrow = due_on(db, user, today + timedelta(days=1))
    result.streak = streak(db, user, today, done_today=all(d.overdue + d.due + d.relearn == 0
                                                           for d in result.decks))
    return result


def today_summary_counts(db: Session, user: User, today: date,
                         allowance: dict[int, int] | None = None) -> SessionCounts:
    """What is left today, for the review page's counters (Anki's new / learning / review)."""
    if allowance is None:
        allowance = new_left(db, user, today)
    counts = SessionCounts()
    for deck_id, t in deck_tallies(db, user, today).items():
        counts.review += t.overdue + t.due
        counts.learning += t.relearn
        counts.new += min(t.unseen, allowance.get(deck_id, 0))
    return counts


def due_on(db: Session, user: User, day: date) -> int:
    """Reviews that will be due on ``day`` (overdue ones included) if nothing else is studied."""
    return db.scalar(
        select(func.coalesce(func.sum(DueTally.cards), 0))
        .where(DueTally.user_id == user.id, DueTally.deck_id.in_(assigned(db, user)), DueTally.due_day <= day)
    )


def streak(db: Session, user: User, today: date, done_today: bool) -> int:
    """Consecutive study days with all due cards done, counted in days the person studied.

    A day breaks the run when a card due on it was left for later: a later ``review`` log row
    with ``before_due`` on or before that day, or a card still overdue now. Days with nothing due
    and nothing studied neither break nor extend the run. Today counts once its work is done.

    Holiday pauses (services.calendar) neither break nor extend it: days studied inside a pause are
    not counted, and a card due inside a pause is not late until the first study day after it
    (normally the calendar has moved such cards out already; this covers a pause entered late).
    """
    from . import calendar  # imported here so the calendar's change to this module stays inside this function

    since = today - timedelta(days=STREAK_LOOKBACK_DAYS)
    days = calendar.calendar(db, since=since)
    pauses = days.pauses
    mine = [ReviewLog.user_id == user.id, ReviewLog.study_day >= since]
    late_rows = [ReviewLog.kind == LOG_REVIEW, ReviewLog.before_due < ReviewLog.study_day]
    if (excused_late := calendar.late_excused(days)) is not None:
        late_rows.append(not_(excused_late))
    late = db.scalar(select(func.max(ReviewLog.study_day)).where(*mine, *late_rows))
    broken_after = since
    if late is not None:
        broken_after = max(broken_after, late - timedelta(days=1))
    overdue = [ReviewState.due_day < today, not_(and_(*_relearn_today(today)))]
    if (excused := calendar.still_excused(days, today)) is not None:
        overdue.append(not_(excused))
    still_overdue = db.scalar(
        select(func.count()).select_from(_state_cards(db, user).where(*overdue).limit(1).subquery())
    )
    if still_overdue:
        broken_after = max(broken_after, today - timedelta(days=1))
    outside_pauses = [not_(ReviewLog.study_day.between(p.first, p.last)) for p in pauses if p.last > broken_after]
    studied = _studied_days(db, user, broken_after, today, outside_pauses)
    studied_today = db.scalar(
        select(ReviewLog.id).where(ReviewLog.user_id == user.id, ReviewLog.study_day == today,
                                   ReviewLog.kind != LOG_UNDO).limit(1)
    ) is not None
    paused_today = any(today in p for p in pauses)
    return studied + (1 if done_today and studied_today and not paused_today else 0)


def _studied_days(db: Session, user: User, after: date, before: date, where: list) -> int:
    """How many days in (after, before) the person graded something, as a loose index scan.

    COUNT(DISTINCT study_day) would read every grade of the period (a year of a busy person's log);
    this asks the (user, study_day, kind) index for the first day after the last one found, once per
    studied day, so the cost follows the days, not the grades.
    """
    def first_after(day: Any) -> Any:
        return (select(func.min(ReviewLog.study_day))
                .where(ReviewLog.user_id == user.id, ReviewLog.study_day > day, ReviewLog.study_day < before,
                       ReviewLog.kind != LOG_UNDO, *where)
                .scalar_subquery())

    days = select(first_after(literal(after, Date)).label("day")).cte("studied_days", recursive=True)
    days = days.union_all(select(first_after(days.c.day)).where(days.c.day.is_not(None)))
    return db.scalar(select(func.count(days.c.day))) or 0


def day_figures(db: Session, user: User, today: date) -> dict[str, int]:
    """The end-of-session summary: today's grades (undone ones left out), time, and tomorrow's load."""
    undo = aliased(ReviewLog)
    kept = [ReviewLog.user_id == user.id, ReviewLog.study_day == today, ReviewLog.kind != LOG_UNDO,
            ~select(undo.id).where(undo.undoes_id == ReviewLog.id).exists()]
    reviewed, correct, ms = db.execute(
        select(func.count(), func.count().filter(ReviewLog.quality >= PASSING_QUALITY),
               func.coalesce(func.sum(ReviewLog.ms), 0)).where(*kept)
    ).one()
    counts = today_summary_counts(db, user, today)
    return {
        "reviewed": reviewed,
        "correct": correct,
        "ms": int(ms),
        "left": counts.left,
        "due_tomorrow": due_on(db, user, today + timedelta(days=1)),
        "streak": streak(db, user, today, done_today=counts.review + counts.learning == 0),
    }
