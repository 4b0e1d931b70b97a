"""Memorization progress for admins: every figure is one SQL aggregate (GROUP BY), never a Python loop over rows.

Words (DESIGN.md "Progress words"):
- people: active users with the staff role, in the departments the filter allows (``Filters.department_ids``;
  None means every department and people without one). Deactivated staff leave the statistics.
- assigned cards of a person: live (non-retired) cards of published decks assigned to everyone, to their
  department or to them; per person × deck the earliest assignment and the earliest learn-by date count.
- 未学 new = assigned − introduced; 学习中 learning: interval < 21; 已掌握 mastered: interval >= 21.
- due today: review states due on or before today; overdue: due before today.
- retention: `review`-kind log rows graded >= 3 over all `review`-kind rows. A grade that was undone counts
  neither way: undo rows (same study day as the grade they take back) subtract their target with weight −1,
  which costs one primary-key lookup per undo instead of one anti-join probe per log row.
- active on a day: at least one kept (not undone) grade that day.

Every function takes a session, a ``Filters`` (which carries ``today``) and returns plain dataclasses, so the
weekly-report job and the exports reuse exactly the figures the page shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from sqlalchemy import Select, and_, case, func, literal, or_, select, union_all
from sqlalchemy.orm import Session, aliased

from scheduler.queue import MASTERED_INTERVAL
from scheduler.sm2 import PASSING_QUALITY

from ..models import (
    DECK_PUBLISHED,
    LOG_REVIEW,
    LOG_UNDO,
    ROLE_STAFF,
    Card,
    Deck,
    DeckAssignment,
    Department,
    Note,
    ReviewLog,
    ReviewState,
    User,
)

NO_DEPARTMENT = "（未分部门）"
FORECAST_DAYS = 14
HARDEST_LIMIT = 20
CARD_SORTS = ("retention", "lapses", "easiness")


@dataclass(frozen=True)
class Filters:
    """What the admin chose: study days [start, end], a department scope and optionally one deck."""

    today: date
    start: date
    end: date
    department_ids: frozenset[int] | None = None  # None: all departments, and people without one
    deck_id: int | None = None
    user_ids: frozenset[int] | None = None  # narrows the people further (a page of the matrix, one person)

    def only(self, user_ids: list[int] | set[int]) -> Filters:
        return replace(self, user_ids=frozenset(user_ids))

    @classmethod
    def default(cls, today: date, **kw: object) -> Filters:
        """The current study week so far: the last 7 study days ending today."""
        return cls(today=today, start=today - timedelta(days=6), end=today, **kw)  # type: ignore[arg-type]


def share(part: int | None, whole: int | None) -> float | None:
    """part / whole, or None when there is nothing to divide by (shown as “—”)."""
    return (part or 0) / whole if whole else None


# ---------------------------------------------------------------- building blocks (subqueries)

def _people(f: Filters) -> Select:
    query = select(User.id, User.department_id).where(User.active.is_(True), User.role == ROLE_STAFF)
    if f.department_ids is not None:
        query = query.where(User.department_id.in_(sorted(f.department_ids) or [-1]))
    if f.user_ids is not None:
        query = query.where(User.id.in_(sorted(f.user_ids) or [-1]))
    return query


def _people_ids(f: Filters) -> Select:
    return _people(f).with_only_columns(User.id)


def _pairs(f: Filters):  # noqa: ANN202
    """person × deck assignments: (user_id, department_id, deck_id, assigned_at, learn_by)."""
    people = _people(f).subquery("people")
    da = DeckAssignment
    target = or_(da.everyone.is_(True), da.department_id == people.c.department_id, da.user_id == people.c.id)
    query = (
        select(people.c.id.label("user_id"), people.c.department_id, da.deck_id,
               func.min(da.created_at).label("assigned_at"), func.min(da.learn_by).label("learn_by"))
        .select_from(people)
        .join(da, target)
        .join(Deck, and_(Deck.id == da.deck_id, Deck.status == DECK_PUBLISHED))
        .group_by(people.c.id, people.c.department_id, da.deck_id)
    )
    if f.deck_id is not None:
        query = query.where(da.deck_id == f.deck_id)
    return query.subquery("pairs")


def _deck_cards():  # noqa: ANN202
    return (select(Card.deck_id, func.count().label("cards")).where(Card.retired.is_(False))
            .group_by(Card.deck_id).subquery("deck_cards"))


def _live_states(f: Filters) -> list:
    # Retiring a note retires its cards (services.decks.retire_note), so cards.retired alone decides.
    where = [ReviewState.user_id.in_(_people_ids(f)),
             ReviewState.card_id.not_in(select(Card.id).where(Card.retired.is_(True)))]
    if f.deck_id is not None:
        where.append(ReviewState.deck_id == f.deck_id)
    return where


def _state_counts(f: Filters):  # noqa: ANN202
    rs = ReviewState
    return (
        select(rs.user_id, rs.deck_id,
               func.count().label("introduced"),
               func.count().filter(rs.interval >= MASTERED_INTERVAL).label("mastered"),
               func.count().filter(rs.due_day <= f.today).label("due"),
               func.count().filter(rs.due_day < f.today).label("overdue"),
               func.max(rs.last_review_day).label("last_day"))
        .where(*_live_states(f))
        .group_by(rs.user_id, rs.deck_id)
        .subquery("states")
    )


def _cells(f: Filters):  # noqa: ANN202
    """One row per person × assigned deck with its card and state counts."""
    pairs, cards, states = _pairs(f), _deck_cards(), _state_counts(f)
    zero = literal(0)
    return (
        select(pairs.c.user_id, pairs.c.department_id, pairs.c.deck_id, pairs.c.assigned_at, pairs.c.learn_by,
               func.coalesce(cards.c.cards, zero).label("cards"),
               func.coalesce(states.c.introduced, zero).label("introduced"),
               func.coalesce(states.c.mastered, zero).label("mastered"),
               func.coalesce(states.c.due, zero).label("due"),
               func.coalesce(states.c.overdue, zero).label("overdue"),
               states.c.last_day)
        .select_from(pairs)
        .outerjoin(cards, cards.c.deck_id == pairs.c.deck_id)
        .outerjoin(states, and_(states.c.user_id == pairs.c.user_id, states.c.deck_id == pairs.c.deck_id))
    )


def _kept(f: Filters, start: date, end: date, user_id: int | None = None):  # noqa: ANN202
    """Log rows of study days [start, end] with a weight: +1 for a grade, −1 for the grade an undo took back."""
    log, undo = ReviewLog, aliased(ReviewLog, name="undo")

    def scope(table) -> list:  # noqa: ANN001
        where = [table.study_day >= start, table.study_day <= end]
        where.append(table.user_id == user_id if user_id is not None else table.user_id.in_(_people_ids(f)))
        if f.deck_id is not None:
            where.append(table.deck_id == f.deck_id)
        return where

    grades = select(log.user_id, log.deck_id, log.card_id, log.study_day, log.kind, log.quality, log.ms,
                    literal(1).label("w")).where(log.kind != LOG_UNDO, *scope(log))
    undone = (select(log.user_id, log.deck_id, log.card_id, log.study_day, log.kind, log.quality, log.ms,
                     literal(-1).label("w"))
              .select_from(undo).join(log, log.id == undo.undoes_id)
              .where(undo.kind == LOG_UNDO, *scope(undo)))
    return union_all(grades, undone).subquery("kept")


def _log_sums(kept, *where: object) -> tuple:  # noqa: ANN001
    """reviews, ms, retained, retention_total over ``kept`` rows matching ``where``."""
    cond = and_(*where) if where else literal(True)
    review = and_(cond, kept.c.kind == LOG_REVIEW)
    return (
        func.coalesce(func.sum(case((cond, kept.c.w), else_=0)), 0),
        func.coalesce(func.sum(case((cond, kept.c.w * kept.c.ms), else_=0)), 0),
        func.coalesce(func.sum(case((and_(review, kept.c.quality >= PASSING_QUALITY), kept.c.w), else_=0)), 0),
        func.coalesce(func.sum(case((review, kept.c.w), else_=0)), 0),
    )


def _minutes(ms: int | None) -> int:
    return round(int(ms or 0) / 60000)


# ---------------------------------------------------------------- header

@dataclass
class Header:
    staff: int
    active_today: int
    active_7d: int
    due_today: int
    overdue: int
    queue_people: int  # had something due today or studied today
    cleared: int  # of those: studied today and nothing left due
    assigned: int
    introduced: int
    mastered: int
    retained_7d: int
    reviews_7d: int
    retained_30d: int
    reviews_30d: int

    @property
    def cleared_share(self) -> float | None:
        return share(self.cleared, self.queue_people)

    @property
    def mastered_share(self) -> float | None:
        return share(self.mastered, self.assigned)

    @property
    def retention_7d(self) -> float | None:
        return share(self.retained_7d, self.reviews_7d)

    @property
    def retention_30d(self) -> float | None:
        return share(self.retained_30d, self.reviews_30d)


def header(db: Session, f: Filters) -> Header:
    today = f.today
    cells = _cells(f).subquery("cells")
    per_user_cards = (
        select(cells.c.user_id, func.sum(cells.c.cards).label("cards"), func.sum(cells.c.introduced).label("intro"),
               func.sum(cells.c.mastered).label("mastered"), func.sum(cells.c.due).label("due"),
               func.sum(cells.c.overdue).label("overdue"))
        .group_by(cells.c.user_id).subquery("card_sums"))
    kept = _kept(f, today - timedelta(days=29), today)
    in7 = kept.c.study_day >= today - timedelta(days=6)
    per_user_logs = (
        select(kept.c.user_id,
               func.sum(case((kept.c.study_day == today, kept.c.w), else_=0)).label("today"),
               func.sum(case((in7, kept.c.w), else_=0)).label("week"),
               *[c.label(n) for c, n in zip(_log_sums(kept, in7)[2:], ("ret7", "tot7"), strict=True)],
               *[c.label(n) for c, n in zip(_log_sums(kept)[2:], ("ret30", "tot30"), strict=True)])
        .group_by(kept.c.user_id).subquery("log_sums"))
    people = _people(f).subquery("people")
    due = func.coalesce(per_user_cards.c.due, 0)
    studied = func.coalesce(per_user_logs.c.today, 0) > 0
    query = (
        select(func.count(people.c.id),
               func.count().filter(studied),
               func.count().filter(func.coalesce(per_user_logs.c.week, 0) > 0),
               func.coalesce(func.sum(due), 0),
               func.coalesce(func.sum(per_user_cards.c.overdue), 0),
               func.count().filter(or_(studied, due > 0)),
               func.count().filter(and_(studied, due == 0)),
               func.coalesce(func.sum(per_user_cards.c.cards), 0),
               func.coalesce(func.sum(per_user_cards.c.intro), 0),
               func.coalesce(func.sum(per_user_cards.c.mastered), 0),
               func.coalesce(func.sum(per_user_logs.c.ret7), 0),
               func.coalesce(func.sum(per_user_logs.c.tot7), 0),
               func.coalesce(func.sum(per_user_logs.c.ret30), 0),
               func.coalesce(func.sum(per_user_logs.c.tot30), 0))
        .select_from(people)
        .outerjoin(per_user_cards, per_user_cards.c.user_id == people.c.id)
        .outerjoin(per_user_logs, per_user_logs.c.user_id == people.c.id)
    )
    return Header(*(int(v or 0) for v in db.execute(query).one()))


# ---------------------------------------------------------------- departments

@dataclass
class DepartmentRow:
    department_id: int | None
    name: str
    staff: int
    active: int  # studied at least once in [start, end]
    reviews: int
    minutes: int
    retained: int
    retention_total: int
    assigned: int
    introduced: int
    mastered: int
    overdue: int

    @property
    def participation(self) -> float | None:
        return share(self.active, self.staff)

    @property
    def mastered_share(self) -> float | None:
        return share(self.mastered, self.assigned)

    @property
    def retention(self) -> float | None:
        return share(self.retained, self.retention_total)


def departments(db: Session, f: Filters) -> list[DepartmentRow]:
    """Per department (people in scope only), by name; figures over [start, end] where they are activity."""
    cells = _cells(f).subquery("cells")
    card_sums = (
        select(cells.c.department_id, func.sum(cells.c.cards).label("cards"),
               func.sum(cells.c.introduced).label("intro"), func.sum(cells.c.mastered).label("mastered"),
               func.sum(cells.c.overdue).label("overdue"))
        .group_by(cells.c.department_id).subquery("card_sums"))
    kept = _kept(f, f.start, f.end)
    reviews, ms, retained, total = _log_sums(kept)
    per_user = (select(kept.c.user_id, reviews.label("reviews"), ms.label("ms"), retained.label("retained"),
                       total.label("total")).group_by(kept.c.user_id).subquery("per_user"))
    people = _people(f).subquery("people")
    log_sums = (
        select(people.c.department_id, func.count(people.c.id).label("staff"),
               func.count().filter(per_user.c.reviews > 0).label("active"),
               func.coalesce(func.sum(per_user.c.reviews), 0).label("reviews"),
               func.coalesce(func.sum(per_user.c.ms), 0).label("ms"),
               func.coalesce(func.sum(per_user.c.retained), 0).label("retained"),
               func.coalesce(func.sum(per_user.c.total), 0).label("total"))
        .select_from(people).outerjoin(per_user, per_user.c.user_id == people.c.id)
        .group_by(people.c.department_id).subquery("log_sums"))
    dept_name = func.coalesce(Department.name, NO_DEPARTMENT)
    query = (
        select(log_sums.c.department_id, dept_name, log_sums.c.staff, log_sums.c.active, log_sums.c.reviews,
               log_sums.c.ms, log_sums.c.retained, log_sums.c.total,
               func.coalesce(card_sums.c.cards, 0), func.coalesce(card_sums.c.intro, 0),
               func.coalesce(card_sums.c.mastered, 0), func.coalesce(card_sums.c.overdue, 0))
        .select_from(log_sums)
        .outerjoin(Department, Department.id == log_sums.c.department_id)
        .outerjoin(card_sums, or_(card_sums.c.department_id == log_sums.c.department_id,
                                  and_(card_sums.c.department_id.is_(None), log_sums.c.department_id.is_(None))))
        .order_by(dept_name)
    )
    return [DepartmentRow(dept_id, name, int(staff), int(active), int(reviews), _minutes(ms), int(retained),
                          int(total), int(cards), int(intro), int(mastered), int(overdue))
            for dept_id, name, staff, active, reviews, ms, retained, total, cards, intro, mastered, overdue
            in db.execute(query)]


# ---------------------------------------------------------------- staff × deck matrix

PACE_DONE, PACE_ON, PACE_BEHIND, PACE_NONE = "done", "on_pace", "behind", "none"
PACE_LABELS = {PACE_DONE: "已完成", PACE_ON: "按计划", PACE_BEHIND: "落后", PACE_NONE: "未设期限"}


def pace(introduced: int, cards: int, assigned_day: date, learn_by: date | None, today: date) -> str:
    """done: every card introduced; on pace: introduced share >= elapsed share of [assigned day, learn by]."""
    if introduced >= cards:
        return PACE_DONE
    if learn_by is None:
        return PACE_NONE
    span = (learn_by - assigned_day).days
    elapsed = 1.0 if span <= 0 else min(1.0, max(0.0, (today - assigned_day).days / span))
    return PACE_ON if introduced / cards >= elapsed else PACE_BEHIND


@dataclass
class Cell:
    deck_id: int
    cards: int
    introduced: int
    mastered: int
    overdue: int
    last_day: date | None
    assigned_day: date
    learn_by: date | None
    status: str

    @property
    def introduced_share(self) -> float | None:
        return share(self.introduced, self.cards)

    @property
    def mastered_share(self) -> float | None:
        return share(self.mastered, self.cards)


@dataclass
class MatrixRow:
    user_id: int
    username: str
    name: str
    department: str
    cells: dict[int, Cell] = field(default_factory=dict)

    @property
    def last_day(self) -> date | None:
        days = [c.last_day for c in self.cells.values() if c.last_day]
        return max(days) if days else None


@dataclass
class Matrix:
    decks: list[tuple[int, str]]  # (id, title) of the decks that have at least one cell
    rows: list[MatrixRow]
    total_people: int


def matrix(db: Session, f: Filters, tz: str, limit: int | None = None, offset: int = 0) -> Matrix:
    """Staff (by department, then staff number) × their assigned decks; ``limit`` pages through staff."""
    from scheduler.study_day import study_day

    dept_name = func.coalesce(Department.name, NO_DEPARTMENT)
    people = (select(User.id, User.username, User.name, dept_name.label("dept"))
              .outerjoin(Department, Department.id == User.department_id)
              .where(User.id.in_(_people_ids(f))).order_by(dept_name, User.username))
    total = db.scalar(select(func.count()).select_from(people.order_by(None).subquery())) or 0
    if limit is not None:
        people = people.limit(limit).offset(offset)
    rows = {uid: MatrixRow(uid, username, name, dept) for uid, username, name, dept in db.execute(people)}
    cells = _cells(f.only(rows)).subquery("cells")
    query = select(cells)
    deck_ids: set[int] = set()
    for r in db.execute(query).mappings():
        assigned_at: datetime = r["assigned_at"]
        assigned_day = study_day(assigned_at, tz)
        cell = Cell(r["deck_id"], int(r["cards"]), int(r["introduced"]), int(r["mastered"]), int(r["overdue"]),
                    r["last_day"], assigned_day, r["learn_by"],
                    pace(int(r["introduced"]), int(r["cards"]), assigned_day, r["learn_by"], f.today))
        rows[r["user_id"]].cells[cell.deck_id] = cell
        deck_ids.add(cell.deck_id)
    decks = [(d.id, d.title) for d in db.execute(
        select(Deck.id, Deck.title).where(Deck.id.in_(sorted(deck_ids) or [-1]))
        .order_by(Deck.term, Deck.week, Deck.id))]
    return Matrix(decks, list(rows.values()), int(total))


# ---------------------------------------------------------------- forecast and trend

def forecast(db: Session, f: Filters, days: int = FORECAST_DAYS) -> list[tuple[date, int]]:
    """Cards due per study day from today on (overdue ones count for today), live assigned cards only."""
    cells_states = _live_states(f)
    day = case((ReviewState.due_day < f.today, f.today), else_=ReviewState.due_day)
    last = f.today + timedelta(days=days - 1)
    assigned = _pairs(f)
    query = (select(day.label("day"), func.count())
             .join(assigned, and_(assigned.c.user_id == ReviewState.user_id,
                                  assigned.c.deck_id == ReviewState.deck_id))
             .where(*cells_states, ReviewState.due_day <= last).group_by(day))
    counts = {_as_date(d): int(n) for d, n in db.execute(query)}
    return [(f.today + timedelta(days=i), counts.get(f.today + timedelta(days=i), 0)) for i in range(days)]


def _as_date(value: date | str) -> date:
    # SQLite returns the CASE of a date column as text.
    return value if isinstance(value, date) else date.fromisoformat(value)


@dataclass
class TrendDay:
    day: date
    reviews: int
    people: int
    minutes: int


def trend(db: Session, f: Filters) -> list[TrendDay]:
    """Kept grades, people who studied and minutes per study day of [start, end] (days without any: zeros)."""
    kept = _kept(f, f.start, f.end)
    per_user_day = (select(kept.c.study_day, kept.c.user_id, func.sum(kept.c.w).label("n"),
                           func.sum(kept.c.w * kept.c.ms).label("ms"))
                    .group_by(kept.c.study_day, kept.c.user_id).subquery("per_user_day"))
    query = (select(per_user_day.c.study_day, func.sum(per_user_day.c.n),
                    func.count().filter(per_user_day.c.n > 0), func.sum(per_user_day.c.ms))
             .group_by(per_user_day.c.study_day))
    by_day = {_as_date(d): (int(n or 0), int(p or 0), _minutes(ms)) for d, n, p, ms in db.execute(query)}
    span = (f.end - f.start).days + 1
    return [TrendDay(d, *by_day.get(d, (0, 0, 0))) for d in (f.start + timedelta(days=i) for i in range(span))]


# ---------------------------------------------------------------- hardest cards

@dataclass
class HardCard:
    card_id: int
    note_id: int
    deck_id: int
    deck_title: str
    text: str
    ord: int
    learners: int
    lapses: int
    easiness_cents: float | None
    retained: int
    retention_total: int

    @property
    def retention(self) -> float | None:
        return share(self.retained, self.retention_total)

    @property
    def easiness(self) -> float | None:
        return round(self.easiness_cents / 100, 2) if self.easiness_cents is not None else None


def hardest_cards(db: Session, f: Filters, sort: str = "retention", limit: int = HARDEST_LIMIT,
                  user_id: int | None = None) -> list[HardCard]:
    """Live cards people in scope have learned, hardest first: lowest retention over [start, end], most lapses,
    or lowest mean easiness. ``user_id`` narrows it to one person (their own states and grades)."""
    rs = ReviewState
    state_where = _live_states(f) if user_id is None else [
        rs.user_id == user_id, rs.card_id.not_in(select(Card.id).where(Card.retired.is_(True)))]
    states = (select(rs.card_id, func.count().label("learners"), func.sum(rs.lapses).label("lapses"),
                     func.avg(rs.easiness_cents).label("ef"))
              .where(*state_where).group_by(rs.card_id).subquery("card_states"))
    kept = _kept(f, f.start, f.end, user_id)
    _, _, retained, total = _log_sums(kept)
    logs = (select(kept.c.card_id, retained.label("retained"), total.label("total"))
            .group_by(kept.c.card_id).subquery("card_logs"))
    retention = case((func.coalesce(logs.c.total, 0) > 0, logs.c.retained * 1.0 / logs.c.total), else_=None)
    order = {
        "retention": [retention.is_(None), retention, states.c.lapses.desc(), states.c.ef],
        "lapses": [states.c.lapses.desc(), states.c.ef, retention.is_(None), retention],
        "easiness": [states.c.ef, states.c.lapses.desc(), retention.is_(None), retention],
    }[sort if sort in CARD_SORTS else "retention"]
    query = (select(Card.id, Card.note_id, Card.deck_id, Deck.title, Note.text, Card.ord, states.c.learners,
                    states.c.lapses, states.c.ef, func.coalesce(logs.c.retained, 0), func.coalesce(logs.c.total, 0))
             .select_from(states).join(Card, Card.id == states.c.card_id).join(Note, Note.id == Card.note_id)
             .join(Deck, Deck.id == Card.deck_id).outerjoin(logs, logs.c.card_id == states.c.card_id)
             .order_by(*order, Card.id).limit(limit))
    return [HardCard(cid, nid, did, title, text, ord_, int(n), int(lapses or 0),
                     float(ef) if ef is not None else None, int(ret), int(tot))
            for cid, nid, did, title, text, ord_, n, lapses, ef, ret, tot in db.execute(query)]


# ---------------------------------------------------------------- one person

@dataclass
class PersonDay:
    day: date
    reviews: int
    minutes: int


@dataclass
class Person:
    user_id: int
    username: str
    name: str
    department: str
    assigned: int
    introduced: int
    learning: int
    mastered: int
    due_today: int
    overdue: int
    retained_7d: int
    reviews_7d: int
    retained_30d: int
    reviews_30d: int
    streak: int
    days: list[PersonDay]

    @property
    def new(self) -> int:
        return max(0, self.assigned - self.introduced)

    @property
    def retention_7d(self) -> float | None:
        return share(self.retained_7d, self.reviews_7d)

    @property
    def retention_30d(self) -> float | None:
        return share(self.retained_30d, self.reviews_30d)


def person(db: Session, f: Filters, user_id: int) -> Person | None:
    """One person's figures (None when they are not among the people ``f`` covers)."""
    own = f.only({user_id})
    dept_name = func.coalesce(Department.name, NO_DEPARTMENT)
    who = db.execute(select(User.id, User.username, User.name, dept_name)
                     .outerjoin(Department, Department.id == User.department_id)
                     .where(User.id == user_id, User.id.in_(_people_ids(own)))).first()
    if who is None:
        return None
    cells = _cells(own).subquery("cells")
    sums = [func.coalesce(func.sum(c), 0) for c in (cells.c.cards, cells.c.introduced, cells.c.mastered,
                                                     cells.c.due, cells.c.overdue)]
    counts = db.execute(select(*sums)).one()
    assigned, introduced, mastered, due, overdue = (int(v) for v in counts)
    today = f.today
    kept30 = _kept(own, today - timedelta(days=29), today, user_id)
    in7 = kept30.c.study_day >= today - timedelta(days=6)
    _, _, ret7, tot7 = _log_sums(kept30, in7)
    _, _, ret30, tot30 = _log_sums(kept30)
    r7, t7, r30, t30 = (int(v) for v in db.execute(select(ret7, tot7, ret30, tot30)).one())
    kept = _kept(own, f.start, f.end, user_id)
    per_day = {_as_date(d): (int(n), _minutes(ms)) for d, n, ms in db.execute(
        select(kept.c.study_day, func.sum(kept.c.w), func.sum(kept.c.w * kept.c.ms)).group_by(kept.c.study_day))}
    span = (f.end - f.start).days + 1
    days = [PersonDay(d, *per_day.get(d, (0, 0))) for d in (f.start + timedelta(days=i) for i in range(span))]
    return Person(who[0], who[1], who[2], who[3], assigned, introduced, introduced - mastered, mastered, due,
                  overdue, r7, t7, r30, t30, streak(db, user_id, today), days)


STREAK_LOOKBACK = 366


def streak(db: Session, user_id: int, today: date) -> int:
    """Consecutive study days, ending today (or yesterday while today's cards are still due), on which the
    person studied and left no due card undone. A day is missed when a card due on or before it was
    reviewed only later (a `review` row with before_due <= that day < its study day) or is still overdue."""
    first = today - timedelta(days=STREAK_LOOKBACK)
    log, undo = ReviewLog, aliased(ReviewLog)
    not_undone = ~select(undo.id).where(undo.undoes_id == log.id).exists()
    mine = [log.user_id == user_id, log.study_day >= first, log.kind != LOG_UNDO, not_undone]
    # The latest day a due card was left: the day before the latest late review, or yesterday if overdue now.
    late = db.scalar(select(func.max(log.study_day)).where(*mine, log.kind == LOG_REVIEW,
                                                           log.before_due < log.study_day))
    missed = _as_date(late) - timedelta(days=1) if late else None
    overdue_now = db.scalar(select(func.count()).select_from(ReviewState).where(
        ReviewState.user_id == user_id, ReviewState.due_day < today,
        ReviewState.card_id.not_in(select(Card.id).where(Card.retired.is_(True))))) or 0
    if overdue_now:
        missed = today - timedelta(days=1)
    due_today = db.scalar(select(func.count()).select_from(ReviewState).where(
        ReviewState.user_id == user_id, ReviewState.due_day <= today,
        ReviewState.card_id.not_in(select(Card.id).where(Card.retired.is_(True))))) or 0
    active = {_as_date(d) for d in db.scalars(select(log.study_day).where(*mine).group_by(log.study_day))}
    day = today if (today in active and not due_today) else today - timedelta(days=1)
    count = 0
    while day in active and (missed is None or day > missed):
        count += 1
        day -= timedelta(days=1)
    return count
