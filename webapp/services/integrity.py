"""``tifa check``: replay every review log through SM-2 and compare with the stored states.

The review log is the source of truth: replaying each card's non-undone ``learn`` and
``review`` rows from a new card must give exactly the stored repetitions, easiness and
interval, and the due day must be the last such grade's study day plus that interval (or, when that
day falls in a holiday pause, a later study day: the calendar moved it, services.calendar).
Rows are streamed in (user, card, id) order, so memory stays flat. It also recounts the due tallies
behind Today's figures (services.tallies) and reports where the kept counts drifted.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from scheduler.calendar import Calendar
from scheduler.sm2 import Sm2State, grade

from ..models import LOG_LEARN, LOG_REVIEW, ReviewLog, ReviewState
from . import tallies
from .calendar import calendar


@dataclass
class CheckReport:
    cards_checked: int = 0
    grades_replayed: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


Replayed = tuple[Sm2State, date | None]


def _replayed(db: Session) -> Iterator[tuple[tuple[int, int], Replayed, int]]:
    """(user, card) -> (state, due day) after replaying its schedule-changing rows, and how many rows."""
    undo = aliased(ReviewLog)
    undone = select(undo.id).where(undo.undoes_id == ReviewLog.id).exists()
    rows = db.execute(
        select(ReviewLog.user_id, ReviewLog.card_id, ReviewLog.quality, ReviewLog.study_day)
        .where(ReviewLog.kind.in_((LOG_LEARN, LOG_REVIEW)), ~undone)
        .order_by(ReviewLog.user_id, ReviewLog.card_id, ReviewLog.id)
        .execution_options(yield_per=5000)
    )
    current: tuple[int, int] | None = None
    state, due, count = Sm2State.new(), None, 0
    for user_id, card_id, quality, day in rows:
        if (user_id, card_id) != current:
            if current is not None:
                yield current, (state, due), count
            current, state, count = (user_id, card_id), Sm2State.new(), 0
        state = grade(state, quality)
        due = day + timedelta(days=state.interval)
        count += 1
    if current is not None:
        yield current, (state, due), count


def _moved_out_of_pause(pauses: Calendar, replayed: Replayed, found: Replayed | None) -> bool:
    """The calendar moved the due day out of a holiday pause: same SM-2 state, a later study day."""
    if found is None or found[0] != replayed[0] or replayed[1] is None:
        return False
    return pauses.is_paused(replayed[1]) and found[1] > replayed[1] and not pauses.is_paused(found[1])


def check(db: Session, limit_problems: int = 100) -> CheckReport:
    report = CheckReport()
    pauses = calendar(db)
    stored = {
        (s.user_id, s.card_id): (Sm2State.from_cents(s.repetitions, s.easiness_cents, s.interval), s.due_day)
        for s in db.execute(select(ReviewState.user_id, ReviewState.card_id, ReviewState.repetitions,
                                   ReviewState.easiness_cents, ReviewState.interval, ReviewState.due_day))
    }
    for key, state, count in _replayed(db):
        report.cards_checked += 1
        report.grades_replayed += count
        found = stored.pop(key, None)
        if found != state and not _moved_out_of_pause(pauses, state, found) and len(report.problems) < limit_problems:
            report.problems.append(f"用户 {key[0]} 卡片 {key[1]}：日志重放得到 {_show(state)}，"
                                   f"数据库中为 {_show(found)}")
    for key, found in stored.items():
        report.cards_checked += 1
        if len(report.problems) < limit_problems:
            report.problems.append(f"用户 {key[0]} 卡片 {key[1]}：有复习状态 {_show(found)} 但没有对应的复习日志")
    for d in tallies.drift(db, limit=max(0, limit_problems - len(report.problems))):
        report.problems.append(_show_drift(d))
    return report


def _show_drift(d: tallies.TallyDrift) -> str:
    if d.what == "deck":
        return f"卡组 {d.key[0]}：记录的有效卡片数 {d.kept}，实际 {d.counted}（可用 tifa check --repair 重新统计）"
    user_id, deck_id, day = d.key
    return (f"用户 {user_id} 卡组 {deck_id} {day} 到期计数：记录为 {d.kept}，实际 {d.counted}"
            f"（可用 tifa check --repair 重新统计）")


def _show(replayed: Replayed | None) -> str:
    if replayed is None:
        return "（无）"
    state, due = replayed
    return f"n={state.repetitions} EF={state.easiness} I={state.interval} 到期={due}"
