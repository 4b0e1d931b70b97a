"""Terms and holiday pauses in the database, and moving cards out of pauses (the rules: scheduler.calendar).

Cards due inside a pause are moved ("reflowed") to the study days after it, spread by each person's
usual daily load. It runs for everyone when an admin saves a pause (within a time budget), every night
after the 04:00 rollover (job ``calendar_reflow``), and is idempotent: once nothing is due inside a
pause there is nothing to move. Grading places a fresh due day itself (services.review). Deleting a
pause moves nothing back.

Scale: people are taken in batches of :data:`BATCH_PEOPLE`; a batch is one query over the
``(user_id, due_day)`` index for the paused ranges, one for the usual loads and one for the due
counts of those with a card to move, then one UPDATE (an array join on PostgreSQL, executemany on
SQLite). Each batch is its own short write transaction, so reviews go on meanwhile. Measured on
PostgreSQL on the 2-core development machine: about 7,000 moved cards a second (the row and index
updates and the due-tally triggers dominate); nothing to move costs one indexed query per batch.

Every moved row gets ``version + 1`` under a compare-and-set on the version read: a card handed out
before the move is no longer the same card (its due day changed), so grading it answers 409 "stale"
like any other change made elsewhere; a row graded meanwhile is skipped and next night's run looks again.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import ColumnElement, and_, bindparam, func, or_, select, text, update
from sqlalchemy.orm import Session

from scheduler import calendar as cal

from ..db import begin_write
from ..models import LOG_LEARN, LOG_REVIEW, PAUSE_KINDS, Pause, ReviewLog, ReviewState, Term, User
from .audit import audit

BATCH_PEOPLE = 500
#: Pauses that ended longer ago than this are history: their cards are not moved any more.
REFLOW_LOOKBACK_DAYS = 366
NAME_MAX = 100


class CalendarError(ValueError):
    """A refused term or pause; the message says what to correct (Chinese)."""


# -- reading ---------------------------------------------------------------------------------------

def calendar(db: Session, since: date | None = None) -> cal.Calendar:
    """The pauses (all, or those not over before ``since``), merged."""
    query = select(Pause.name, Pause.first_day, Pause.last_day)
    if since is not None:
        query = query.where(Pause.last_day >= since)
    return cal.Calendar(cal.Pause(name, first, last) for name, first, last in db.execute(query))


def pause_on(db: Session, day: date) -> cal.Pause | None:
    """The pause covering ``day`` (or None on a study day): the merged span, named after the pauses that
    cover that very day (寒假 on a day of the winter break, even when 春节 is merged into it)."""
    merged = calendar(db, since=day).pause_on(day)
    if merged is None:
        return None
    names = db.scalars(select(Pause.name).where(Pause.first_day <= day, Pause.last_day >= day)
                       .order_by(Pause.first_day, Pause.id))
    return cal.Pause("、".join(dict.fromkeys(names)), merged.first, merged.last)


def usual_loads(db: Session, user_ids: list[int], today: date) -> dict[int, int]:
    """Each person's usual daily load (scheduler.calendar.usual_daily_load) from the last weeks' grades,
    in one query over the (user_id, study_day, kind, ...) index."""
    since = today - timedelta(days=cal.LOAD_WINDOW_DAYS)
    rows = db.execute(
        select(ReviewLog.user_id, func.count())
        .where(ReviewLog.user_id.in_(user_ids), ReviewLog.study_day >= since, ReviewLog.study_day < today,
               ReviewLog.kind.in_((LOG_LEARN, LOG_REVIEW)))
        .group_by(ReviewLog.user_id, ReviewLog.study_day)
    )
    per_day: dict[int, list[int]] = defaultdict(list)
    for user_id, n in rows:
        per_day[user_id].append(n)
    return {user_id: cal.usual_daily_load(per_day.get(user_id, ())) for user_id in user_ids}


def usual_load(db: Session, user_id: int, today: date) -> int:
    return usual_loads(db, [user_id], today)[user_id]


def dues_per_day(db: Session, user_ids: list[int], start: date) -> dict[int, dict[date, int]]:
    """How many of each person's cards fall due on each day from ``start`` on (index ranges)."""
    out: dict[int, dict[date, int]] = {user_id: {} for user_id in user_ids}
    for user_id, day, n in db.execute(
        select(ReviewState.user_id, ReviewState.due_day, func.count())
        .where(ReviewState.user_id.in_(user_ids), ReviewState.due_day >= start)
        .group_by(ReviewState.user_id, ReviewState.due_day)
    ):
        out[user_id][day] = n
    return out


def due_per_day(db: Session, user_id: int, start: date) -> dict[date, int]:
    return dues_per_day(db, [user_id], start)[user_id]


def place_graded(db: Session, user_id: int, due: date, today: date) -> date:
    """The due day of a card just graded: ``due`` itself on a study day; inside a pause, the first study
    day after it that has room under the person's usual load. The SM-2 interval is not touched."""
    pauses = calendar(db, since=due)
    if not pauses.is_paused(due):
        return due
    return pauses.place_one(due, usual_load(db, user_id, today), due_per_day(db, user_id, pauses.shift(due)))


def late_excused(pauses: cal.Calendar, log: type[ReviewLog] = ReviewLog) -> ColumnElement[bool] | None:
    """For streaks: a late review that is not a missed day, because its card fell due inside a pause and
    was studied by the first study day after it. None when there are no pauses."""
    if not pauses:
        return None
    return or_(*(and_(log.before_due.between(p.first, p.last), log.study_day <= p.last + timedelta(days=1))
                 for p in pauses.pauses))


def still_excused(pauses: cal.Calendar, today: date) -> ColumnElement[bool] | None:
    """For streaks: due days before ``today`` that are not overdue yet, because they lie in the pause that
    covers yesterday (it just ended, or goes on). None when there is no such pause."""
    yesterday = today - timedelta(days=1)
    pause = pauses.pause_on(yesterday)
    return None if pause is None else ReviewState.due_day.between(pause.first, yesterday)


# -- moving cards out of pauses ---------------------------------------------------------------------

@dataclass
class Reflow:
    people: int = 0
    cards: int = 0
    skipped: int = 0  # rows graded or moved meanwhile (compare-and-set lost); the next run retries
    unfinished: bool = False  # stopped at the time budget; the nightly job does the rest

    def text(self) -> str:
        out = f"顺延 {self.cards} 张卡片（{self.people} 人）"
        if self.skipped:
            out += f"，{self.skipped} 张正在复习中，下次再顺延"
        if self.unfinished:
            out += "；其余人员的卡片将由夜间任务“假期顺延”（04:10）继续顺延"
        return out


def _in_pauses(pauses: cal.Calendar) -> object:
    return or_(*(ReviewState.due_day.between(p.first, p.last) for p in pauses.pauses))


_MOVE = (
    update(ReviewState)
    .where(ReviewState.id == bindparam("b_id"), ReviewState.version == bindparam("b_version"))
    .values(due_day=bindparam("b_due"), version=ReviewState.version + 1)
)
# PostgreSQL: one statement per batch with three array parameters (5x faster than executemany, and
# no limit of 65,535 parameters per statement).
_MOVE_PG = text(
    "UPDATE review_states AS r SET due_day = m.due, version = r.version + 1"
    " FROM unnest(CAST(:ids AS integer[]), CAST(:versions AS integer[]), CAST(:dues AS date[]))"
    " AS m(id, version, due) WHERE r.id = m.id AND r.version = m.version")


def _move(db: Session, params: list[dict[str, object]]) -> int:
    """Apply the moves under the version compare-and-set; returns how many rows moved."""
    if not params:
        return 0
    conn = db.connection()
    if conn.dialect.name == "postgresql":
        return conn.execute(_MOVE_PG, {"ids": [p["b_id"] for p in params],
                                       "versions": [p["b_version"] for p in params],
                                       "dues": [p["b_due"] for p in params]}).rowcount
    done = conn.execute(_MOVE, params).rowcount  # SQLite: executemany in process is fast
    return len(params) if done is None or done < 0 else done


def _reflow_people(db: Session, pauses: cal.Calendar, today: date, user_ids: list[int], result: Reflow) -> None:
    """One batch of people: one query for their cards inside pauses, one for the loads and one for the
    due counts of those who have any, then one executemany update."""
    rows = db.execute(
        select(ReviewState.user_id, ReviewState.id, ReviewState.due_day, ReviewState.version)
        .where(ReviewState.user_id.in_(user_ids), _in_pauses(pauses))
        .order_by(ReviewState.user_id, ReviewState.due_day, ReviewState.deck_id, ReviewState.card_id)
    ).all()
    if not rows:
        return
    by_user: dict[int, list[tuple[int, date]]] = defaultdict(list)
    versions: dict[int, int] = {}
    for user_id, state_id, due, version in rows:
        by_user[user_id].append((state_id, due))
        versions[state_id] = version
    people = list(by_user)
    start = min(pauses.study_day_from(max(pauses.shift(due), today)) for _, _, due, _ in rows)
    loads = usual_loads(db, people, today)
    # Counted from the first landing day on: paused days hold only the moving cards, study days only
    # the staying ones, so the counts are exactly what is already due where the moved cards land.
    already = dues_per_day(db, people, start)
    params = []
    for user_id, states in by_user.items():
        moved = pauses.spread(states, loads[user_id], already[user_id], today)
        params += [{"b_id": k, "b_version": versions[k], "b_due": day} for k, day in moved.items()]
    done = _move(db, params)
    result.people += len(people)
    result.cards += done
    result.skipped += len(params) - done


def reflow(db: Session, today: date, batch: int = BATCH_PEOPLE, seconds: float | None = None) -> Reflow:
    """Move everyone's cards due inside a pause out of it; commits batch by batch.

    With ``seconds`` (an admin's request), stops after the batch that passes that budget and sets
    ``unfinished``: the nightly job moves the rest before the next study day's reminders.
    """
    result = Reflow()
    pauses = calendar(db, since=today - timedelta(days=REFLOW_LOOKBACK_DAYS))
    db.commit()
    if not pauses:
        return result
    deadline = None if seconds is None else time.monotonic() + seconds
    after = 0
    while True:
        chunk = list(db.scalars(select(User.id).where(User.id > after).order_by(User.id).limit(batch)))
        db.commit()
        if not chunk:
            return result
        if deadline is not None and after and time.monotonic() > deadline:  # at least one batch per call
            result.unfinished = True
            return result
        begin_write(db)
        try:
            _reflow_people(db, pauses, today, chunk, result)
            db.commit()
        except BaseException:
            db.rollback()
            raise
        after = chunk[-1]


# -- admin edits ------------------------------------------------------------------------------------

def _name(value: str | None, what: str) -> str:
    name = (value or "").strip()
    if not name:
        raise CalendarError(f"请填写{what}名称。")
    if len(name) > NAME_MAX:
        raise CalendarError(f"{what}名称不能超过 {NAME_MAX} 个字。")
    return name


def parse_day(value: str | None, what: str) -> date:
    text = (value or "").strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CalendarError(f"{what}不是有效的日期（格式 YYYY-MM-DD，例如 2027-01-18）。") from None


def _days(first: str | None, last: str | None) -> tuple[date, date]:
    start, end = parse_day(first, "开始日期"), parse_day(last, "结束日期")
    if end < start:
        raise CalendarError(f"结束日期（{end.isoformat()}）不能早于开始日期（{start.isoformat()}）。")
    return start, end


def pause_values(name: str | None, kind: str | None, first: str | None, last: str | None) -> dict[str, object]:
    """Checked values of a pause form; overlapping pauses are allowed (they act as one)."""
    if kind not in PAUSE_KINDS:
        raise CalendarError("请选择假期类型：" + "、".join(PAUSE_KINDS) + "。")
    start, end = _days(first, last)
    if (end - start).days > 366:
        raise CalendarError("一个假期不能超过一年，请检查日期。")
    return {"name": _name(name, "假期"), "kind": kind, "first_day": start, "last_day": end}


def term_values(db: Session, name: str | None, first: str | None, last: str | None,
                term_id: int | None = None) -> dict[str, object]:
    """Checked values of a term form; terms may not overlap each other."""
    start, end = _days(first, last)
    clash = db.scalar(select(Term).where(Term.first_day <= end, Term.last_day >= start,
                                         *([Term.id != term_id] if term_id is not None else [])).limit(1))
    if clash is not None:
        raise CalendarError(f"与学期“{clash.name}”（{clash.first_day.isoformat()} 至 {clash.last_day.isoformat()}）"
                            "的日期重叠：学期之间不能重叠。")
    return {"name": _name(name, "学期"), "first_day": start, "last_day": end}


def term_of(db: Session, day: date) -> Term | None:
    return db.scalar(select(Term).where(Term.first_day <= day, Term.last_day >= day).limit(1))


def snapshot(row: Term | Pause) -> dict[str, object]:
    out: dict[str, object] = {"name": row.name, "first_day": row.first_day.isoformat(),
                              "last_day": row.last_day.isoformat()}
    if isinstance(row, Pause):
        out["kind"] = row.kind
    return out


def save_term(db: Session, actor: User, term: Term | None, name: str | None, first: str | None,
              last: str | None) -> Term:
    """Create (``term`` None) or change a term, with its audit row, in the caller's transaction."""
    return _save(db, actor, Term, term, term_values(db, name, first, last, term.id if term is not None else None))


def save_pause(db: Session, actor: User, pause: Pause | None, name: str | None, kind: str | None,
               first: str | None, last: str | None) -> Pause:
    """Create (``pause`` None) or change a pause, with its audit row; the caller reflows after commit."""
    return _save(db, actor, Pause, pause, pause_values(name, kind, first, last))


#: What the audit log calls each kind of row (term.create, pause.update, ...).
_AUDIT_NAME: dict[type, str] = {Term: "term", Pause: "pause"}


def _save(db: Session, actor: User, model: type[Term] | type[Pause], row: Term | Pause | None,
          values: dict[str, object]) -> Term | Pause:
    before = snapshot(row) if row is not None else None
    if row is None:
        row = model(**values)
        db.add(row)
    else:
        for key, value in values.items():
            setattr(row, key, value)
    db.flush()
    what = _AUDIT_NAME[model]
    audit(db, actor, f"{what}.create" if before is None else f"{what}.update", what, row.id,
          **_changes(before, snapshot(row)))
    return row


def delete(db: Session, actor: User, row: Term | Pause) -> None:
    """Delete a term or a pause (cards already moved out of a deleted pause stay where they are)."""
    what = _AUDIT_NAME[type(row)]
    audit(db, actor, f"{what}.delete", what, row.id, **snapshot(row))
    db.delete(row)
    db.flush()


def _changes(before: dict[str, object] | None, after: dict[str, object]) -> dict[str, object]:
    if before is None:
        return after
    return {k: {"before": before[k], "after": v} for k, v in after.items() if before.get(k) != v}
