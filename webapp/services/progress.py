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

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, case, func, literal, or_, select, union_all
from sqlalchemy.orm import Session, aliased

from scheduler.calendar import Calendar
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
from . import queue

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


def _live_states(f: Filters, exact: bool = True) -> list:
    """States of live cards (of the filter's deck) of the people in scope. ``exact=False`` leaves the people
    check to a later join with ``_pairs`` when the scope is everyone, saving a lookup per state."""
    # Retiring a note retires its cards (services.decks.retire_note), so cards.retired alone decides.
    return [ReviewState.card_id.not_in(select(Card.id).where(Card.retired.is_(True))), *_state_scope(f, exact)]


def _state_scope(f: Filters, exact: bool = False) -> list:
    where = []
    if exact or f.department_ids is not None or f.user_ids is not None:
        where.append(ReviewState.user_id.in_(_people_ids(f)))
    if f.deck_id is not None:
        where.append(ReviewState.deck_id == f.deck_id)
    return where


def _retired_ids() -> Select:
    return select(Card.id).where(Card.retired.is_(True))


def _net_of_retired(build: Callable[[int], Select], keys: list[str], sums: list[str], name: str):  # noqa: ANN202
    """``build(sign)`` aggregates states (sign 1: every state; sign −1: states of retired cards only, negated);
    their sum is the aggregate over live cards. Few cards are retired, so this beats a NOT IN probe per state."""
    both = union_all(build(1), build(-1)).subquery(f"{name}_parts")
    return (select(*[both.c[k] for k in keys], *[func.sum(both.c[n]).label(n) for n in sums])
            .group_by(*[both.c[k] for k in keys]).subquery(name))


def _state_counts(f: Filters, last_day: bool = False):  # noqa: ANN202
    """Per person × deck: introduced, mastered, due today (overdue included), overdue [, last review day]."""
    rs = ReviewState
    if last_day:  # the matrix: a page of people, so the exact per-state check is cheap
        return (select(rs.user_id, rs.deck_id, func.count().label("introduced"),
                       func.count().filter(rs.interval >= MASTERED_INTERVAL).label("mastered"),
                       func.count().filter(rs.due_day <= f.today).label("due"),
                       func.count().filter(rs.due_day < f.today).label("overdue"),
                       func.max(rs.last_review_day).label("last_day"))
                .where(*_live_states(f, exact=False)).group_by(rs.user_id, rs.deck_id).subquery("states"))

    def build(sign: int) -> Select:
        query = (select(rs.user_id, rs.deck_id, (func.count() * sign).label("introduced"),
                        (func.count().filter(rs.interval >= MASTERED_INTERVAL) * sign).label("mastered"),
                        (func.count().filter(rs.due_day <= f.today) * sign).label("due"),
                        (func.count().filter(rs.due_day < f.today) * sign).label("overdue"))
                 .where(*_state_scope(f)).group_by(rs.user_id, rs.deck_id))
        return query if sign > 0 else query.where(rs.card_id.in_(_retired_ids()))

    return _net_of_retired(build, ["user_id", "deck_id"], ["introduced", "mastered", "due", "overdue"], "states")


def _cells(f: Filters, last_day: bool = False):  # noqa: ANN202
    """One row per person × assigned deck with its card and state counts."""
    pairs, cards, states = _pairs(f), _deck_cards(), _state_counts(f, last_day)
    zero = literal(0)
    return (
        select(pairs.c.user_id, pairs.c.department_id, pairs.c.deck_id, pairs.c.assigned_at, pairs.c.learn_by,
               func.coalesce(cards.c.cards, zero).label("cards"),
               func.coalesce(states.c.introduced, zero).label("introduced"),
               func.coalesce(states.c.mastered, zero).label("mastered"),
               func.coalesce(states.c.due, zero).label("due"),
               func.coalesce(states.c.overdue, zero).label("overdue"),
               (states.c.last_day if last_day else literal(None)).label("last_day"))
        .select_from(pairs)
        .outerjoin(cards, cards.c.deck_id == pairs.c.deck_id)
        .outerjoin(states, and_(states.c.user_id == pairs.c.user_id, states.c.deck_id == pairs.c.deck_id))
    )


Sum = Callable[[Any], Any]  # builds one aggregate from a review_logs alias


def _grades(f: Filters, start: date, end: date, by: list[str], sums: dict[str, Sum], user_id: int | None = None,
            exact: bool = True, kind: str | None = None, card_ids: list[int] | None = None):  # noqa: ANN202
    """Aggregates of the grades of study days [start, end] grouped by review_logs columns ``by``.

    Undone grades count neither way: the same aggregates over the grades that undo rows point at are subtracted
    (an undo has the study day of its grade, so it falls in the same group). Two plain GROUP BYs read from the
    covering index cost far less than an anti-join probe per log row. ``exact=False`` leaves the people check to
    a later join with the people when the scope is everyone. ``kind`` keeps only grades of that kind (an index
    range instead of a filter).
    """
    log, undo, target = ReviewLog, aliased(ReviewLog, name="undo"), aliased(ReviewLog, name="target")

    def scope(table) -> list:  # noqa: ANN001
        where = [table.study_day >= start, table.study_day <= end]
        if user_id is not None:
            where.append(table.user_id == user_id)
        elif exact or f.department_ids is not None or f.user_ids is not None:
            where.append(table.user_id.in_(_people_ids(f)))
        if f.deck_id is not None:
            where.append(table.deck_id == f.deck_id)
        if card_ids is not None:
            where.append(table.card_id.in_(card_ids))
        return where

    def aggregate(table) -> Select:  # noqa: ANN001
        keys = [getattr(table, c).label(c) for c in by]
        return select(*keys, *[build(table).label(name) for name, build in sums.items()]).group_by(*keys)

    grades = aggregate(log).where(log.kind == kind if kind else log.kind != LOG_UNDO, *scope(log)).subquery("grades")
    undone = (aggregate(target).select_from(undo).join(target, target.id == undo.undoes_id)
              .where(undo.kind == LOG_UNDO, *scope(undo), *([target.kind == kind] if kind else []))
              .subquery("undone"))
    return (
        select(*[grades.c[c] for c in by],
               *[(func.coalesce(grades.c[n], 0) - func.coalesce(undone.c[n], 0)).label(n) for n in sums])
        .select_from(grades)
        .outerjoin(undone, and_(*[grades.c[c] == undone.c[c] for c in by]))
        .subquery("kept")
    )


def _count(*where: Any) -> Sum:
    return lambda t: func.count().filter(*[w(t) for w in where]) if where else func.count()


def _ms(*where: Any) -> Sum:
    return lambda t: func.coalesce(func.sum(t.ms).filter(*[w(t) for w in where]) if where else func.sum(t.ms), 0)


def is_review(t: Any) -> Any:
    return t.kind == LOG_REVIEW


def passed(t: Any) -> Any:
    return t.quality >= PASSING_QUALITY


def failed(t: Any) -> Any:
    return t.quality < PASSING_QUALITY


def _between(start: date, end: date) -> Callable[[Any], Any]:
    return lambda t: and_(t.study_day >= start, t.study_day <= end)


def _minutes(ms: int | None) -> int:
    return round(int(ms or 0) / 60000)


# ---------------------------------------------------------------- departments and the header

class _Shares:
    """The shares shown for a department row and for the header (both carry the same counts)."""

    staff: int
    active: int
    retained: int
    retention_total: int
    queue_people: int
    cleared: int
    assigned: int
    mastered: int

    @property
    def participation(self) -> float | None:
        return share(self.active, self.staff)

    @property
    def mastered_share(self) -> float | None:
        return share(self.mastered, self.assigned)

    @property
    def retention(self) -> float | None:
        return share(self.retained, self.retention_total)

    @property
    def cleared_share(self) -> float | None:
        return share(self.cleared, self.queue_people)


@dataclass
class DepartmentRow(_Shares):
    """One department's people in scope. Activity figures cover [start, end] unless named after today / 7 days;
    card figures are the current state. Every field is additive, so the header is their sum."""

    department_id: int | None
    name: str
    staff: int
    active: int  # studied at least once in [start, end]
    reviews: int
    minutes: int
    retained: int
    retention_total: int
    active_today: int
    active_7d: int
    queue_people: int  # had something due today or studied today
    cleared: int  # of those: studied today and nothing left due
    assigned: int
    introduced: int
    mastered: int
    due_today: int
    overdue: int


def departments(db: Session, f: Filters) -> list[DepartmentRow]:
    """Per department (people in scope only), by name: one query, one pass over states and over the logs of
    [min(start, today − 6), max(end, today)]."""
    today, week = f.today, f.today - timedelta(days=6)
    cells = _cells(f).subquery("cells")
    per_user_cards = (
        select(cells.c.user_id, func.sum(cells.c.cards).label("cards"), func.sum(cells.c.introduced).label("intro"),
               func.sum(cells.c.mastered).label("mastered"), func.sum(cells.c.due).label("due"),
               func.sum(cells.c.overdue).label("overdue"))
        .group_by(cells.c.user_id).subquery("card_sums"))
    in_range = _between(f.start, f.end)
    per_user_logs = _grades(f, min(f.start, week), max(f.end, today), ["user_id"], {
        "reviews": _count(in_range), "ms": _ms(in_range), "retained": _count(in_range, is_review, passed),
        "total": _count(in_range, is_review), "today": _count(_between(today, today)),
        "week": _count(_between(week, today))}, exact=False)
    people = _people(f).subquery("people")
    logs, cards = per_user_logs.c, per_user_cards.c
    due = func.coalesce(cards.due, 0)
    studied = func.coalesce(logs.today, 0) > 0

    def total_of(column) -> object:  # noqa: ANN001
        return func.coalesce(func.sum(column), 0)

    per_dept = (
        select(people.c.department_id,
               func.count(people.c.id).label("staff"),
               func.count().filter(func.coalesce(logs.reviews, 0) > 0).label("active"),
               total_of(logs.reviews).label("reviews"), total_of(logs.ms).label("ms"),
               total_of(logs.retained).label("retained"), total_of(logs.total).label("total"),
               func.count().filter(studied).label("active_today"),
               func.count().filter(func.coalesce(logs.week, 0) > 0).label("active_7d"),
               func.count().filter(or_(studied, due > 0)).label("queue_people"),
               func.count().filter(and_(studied, due == 0)).label("cleared"),
               total_of(cards.cards).label("cards"), total_of(cards.intro).label("intro"),
               total_of(cards.mastered).label("mastered"), total_of(due).label("due"),
               total_of(cards.overdue).label("overdue"))
        .select_from(people)
        .outerjoin(per_user_cards, cards.user_id == people.c.id)
        .outerjoin(per_user_logs, logs.user_id == people.c.id)
        .group_by(people.c.department_id).subquery("per_dept"))
    dept_name = func.coalesce(Department.name, NO_DEPARTMENT)
    query = (select(dept_name, per_dept).outerjoin(Department, Department.id == per_dept.c.department_id)
             .order_by(dept_name))
    rows = []
    for r in db.execute(query):
        name, dept_id, staff, active, n, ms_, ret, tot, act_today, act_7d, queue, cleared, *counts = r
        rows.append(DepartmentRow(dept_id, name, int(staff), int(active), int(n), _minutes(ms_), int(ret), int(tot),
                                  int(act_today), int(act_7d), int(queue), int(cleared), *(int(c) for c in counts)))
    return rows


@dataclass
class Header(_Shares):
    """The whole scope: the sum of the department rows (so the header always agrees with the table)."""

    staff: int
    active: int
    reviews: int
    minutes: int
    retained: int
    retention_total: int
    active_today: int
    active_7d: int
    queue_people: int
    cleared: int
    assigned: int
    introduced: int
    mastered: int
    due_today: int
    overdue: int


HEADER_FIELDS = ("staff", "active", "reviews", "minutes", "retained", "retention_total", "active_today",
                 "active_7d", "queue_people", "cleared", "assigned", "introduced", "mastered", "due_today", "overdue")


def header_of(rows: list[DepartmentRow]) -> Header:
    """Totals of already-computed department rows (departments partition the people)."""
    return Header(*(sum(getattr(r, name) for r in rows) for name in HEADER_FIELDS))


def header(db: Session, f: Filters) -> Header:
    return header_of(departments(db, f))


# ---------------------------------------------------------------- staff × deck matrix

PACE_DONE, PACE_ON, PACE_BEHIND, PACE_NONE = "done", "on_pace", "behind", "none"
PACE_LABELS = {PACE_DONE: "已完成", PACE_ON: "按计划", PACE_BEHIND: "落后", PACE_NONE: "未设期限"}


def pace(introduced: int, cards: int, assigned_day: date, learn_by: date | None, today: date,
         calendar: Calendar | None = None) -> str:
    """done: every card introduced; on pace: introduced share >= elapsed share of [assigned day, learn by].

    Both the span and the elapsed part count study days only: holiday pauses (``calendar``) stop the clock.
    """
    if introduced >= cards:
        return PACE_DONE
    if learn_by is None:
        return PACE_NONE
    days = calendar or Calendar()
    span = days.study_days(assigned_day, learn_by)
    elapsed = 1.0 if span <= 0 else min(1.0, max(0.0, days.study_days(assigned_day, today) / span))
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
    from .calendar import calendar

    pauses = calendar(db)  # pace counts study days: holidays stop the clock
    cells = _cells(f.only(rows), last_day=True).subquery("cells")
    query = select(cells)
    deck_ids: set[int] = set()
    for r in db.execute(query).mappings():
        assigned_at: datetime = r["assigned_at"]
        assigned_day = study_day(assigned_at, tz)
        cell = Cell(r["deck_id"], int(r["cards"]), int(r["introduced"]), int(r["mastered"]), int(r["overdue"]),
                    r["last_day"], assigned_day, r["learn_by"],
                    pace(int(r["introduced"]), int(r["cards"]), assigned_day, r["learn_by"], f.today, pauses))
        rows[r["user_id"]].cells[cell.deck_id] = cell
        deck_ids.add(cell.deck_id)
    decks = [(d.id, d.title) for d in db.execute(
        select(Deck.id, Deck.title).where(Deck.id.in_(sorted(deck_ids) or [-1]))
        .order_by(Deck.term, Deck.week, Deck.id))]
    return Matrix(decks, list(rows.values()), int(total))


# ---------------------------------------------------------------- forecast and trend

def forecast(db: Session, f: Filters, days: int = FORECAST_DAYS) -> list[tuple[date, int]]:
    """Cards due per study day from today on (overdue ones count for today): live cards of assigned decks."""
    rs, pairs = ReviewState, _pairs(f)
    last = f.today + timedelta(days=days - 1)
    # Group by the stored day first (read in index order), then fold the overdue days into today.
    per_day = (select(rs.due_day, func.count().label("n"))
               .join(pairs, and_(pairs.c.user_id == rs.user_id, pairs.c.deck_id == rs.deck_id))
               .where(*_live_states(f, exact=False), rs.due_day <= last).group_by(rs.due_day).subquery("per_day"))
    day = case((per_day.c.due_day < f.today, f.today), else_=per_day.c.due_day)
    counts = {_as_date(d): int(n) for d, n in db.execute(select(day, func.sum(per_day.c.n)).group_by(day))}
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
    # (user, day) is the covering index's order, so this GROUP BY streams without a sort.
    per_user_day = _grades(f, f.start, f.end, ["user_id", "study_day"], {"n": _count(), "ms": _ms()})
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
    learners: int  # people in scope who have learned the card
    lapses: int  # all-time, summed over those people
    easiness_cents: float | None  # their mean EF in hundredths
    retained: int  # scheduled reviews in [start, end] graded >= 3 ...
    retention_total: int  # ... out of these
    failed: int  # scheduled reviews in [start, end] graded < 3 (lapses in the period)

    @property
    def retention(self) -> float | None:
        return share(self.retained, self.retention_total)

    @property
    def easiness(self) -> float | None:
        return round(self.easiness_cents / 100, 2) if self.easiness_cents is not None else None


def hardest_cards(db: Session, f: Filters, sort: str = "retention", limit: int = HARDEST_LIMIT,
                  user_id: int | None = None) -> list[HardCard]:
    """Live cards people in scope have learned, hardest first: lowest retention over [start, end] or most failed
    reviews over [start, end] (ranked from that period's logs), or lowest mean EF now (ranked from the states).
    ``user_id`` narrows it to one person. The state figures are then read for the chosen cards only."""
    rs = ReviewState
    scope = f.only({user_id}) if user_id is not None else f
    sums = {"retained": _count(passed), "total": _count(), "failed": _count(failed)}
    sort = sort if sort in CARD_SORTS else "retention"
    if sort == "easiness":
        ranked = (select(rs.card_id).where(*_live_states(scope)).group_by(rs.card_id)
                  .order_by(func.avg(rs.easiness_cents), rs.card_id).limit(limit))
        chosen = list(db.scalars(ranked))
        logs = _grades(scope, f.start, f.end, ["card_id"], sums, user_id, kind=LOG_REVIEW, card_ids=chosen)
        rows = db.execute(select(logs)).all() if chosen else []
    else:
        logs = _grades(scope, f.start, f.end, ["card_id"], sums, user_id, kind=LOG_REVIEW)
        rate = logs.c.retained * 1.0 / logs.c.total
        order = [rate, logs.c.total.desc()] if sort == "retention" else [logs.c.failed.desc(), rate]
        rows = db.execute(select(logs).where(logs.c.card_id.not_in(_retired_ids()), logs.c.total > 0)
                          .order_by(*order, logs.c.card_id).limit(limit)).all()
        chosen = [row[0] for row in rows]
    if not chosen:
        return []
    period = {cid: (int(r), int(t), int(x)) for cid, r, t, x in rows}
    states = dict((cid, (n, lapses, ef)) for cid, n, lapses, ef in db.execute(
        select(rs.card_id, func.count(), func.sum(rs.lapses), func.avg(rs.easiness_cents))
        .where(rs.card_id.in_(chosen), rs.user_id.in_(_people_ids(scope))).group_by(rs.card_id)))
    info = {cid: rest for cid, *rest in db.execute(
        select(Card.id, Card.note_id, Card.deck_id, Deck.title, Note.text, Card.ord)
        .join(Note, Note.id == Card.note_id).join(Deck, Deck.id == Card.deck_id).where(Card.id.in_(chosen)))}
    out = []
    for cid in chosen:
        n, lapses, ef = states.get(cid, (0, 0, None))
        out.append(HardCard(cid, *info[cid], int(n), int(lapses or 0), float(ef) if ef is not None else None,
                            *period.get(cid, (0, 0, 0))))
    return out


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
    in7 = _between(today - timedelta(days=6), today)
    month = _grades(own, today - timedelta(days=29), today, ["user_id"], {
        "ret7": _count(in7, is_review, passed), "tot7": _count(in7, is_review),
        "ret30": _count(is_review, passed), "tot30": _count(is_review)}, user_id)
    r7, t7, r30, t30 = (int(v) for v in db.execute(select(month.c.ret7, month.c.tot7, month.c.ret30, month.c.tot30))
                        .first() or (0, 0, 0, 0))
    daily = _grades(own, f.start, f.end, ["study_day"], {"n": _count(), "ms": _ms()}, user_id)
    per_day = {_as_date(d): (int(n), _minutes(ms)) for d, n, ms in db.execute(select(daily))}
    span = (f.end - f.start).days + 1
    days = [PersonDay(d, *per_day.get(d, (0, 0))) for d in (f.start + timedelta(days=i) for i in range(span))]
    return Person(who[0], who[1], who[2], who[3], assigned, introduced, introduced - mastered, mastered, due,
                  overdue, r7, t7, r30, t30, streak(db, user_id, today), days)


def streak(db: Session, user_id: int, today: date) -> int:
    """The person's streak exactly as they see it on 今日 (services.queue.streak): one definition for both pages,
    so an admin never reads a different number than the person does."""
    user = db.get(User, user_id)
    if user is None:
        return 0
    counts = queue.today_summary_counts(db, user, today)
    return queue.streak(db, user, today, done_today=counts.review + counts.learning == 0)
