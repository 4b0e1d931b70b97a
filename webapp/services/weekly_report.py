"""The weekly progress report: last week's figures per department and per person, as XLSX.

Every figure is one SQL aggregate (GROUP BY person or department); Python only lays out rows.
Grades that were undone, and the undo rows themselves, are left out, as everywhere else.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, timedelta

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, aliased

from scheduler.queue import MASTERED_INTERVAL
from scheduler.sm2 import PASSING_QUALITY

from ..models import LOG_REVIEW, LOG_UNDO, ROLE_STAFF, Card, Department, Note, ReviewLog, ReviewState, User
from .exports import neutralise

NO_DEPARTMENT = "（未分部门）"


@dataclass(frozen=True)
class Week:
    monday: date

    @property
    def sunday(self) -> date:
        return self.monday + timedelta(days=6)

    @property
    def label(self) -> str:
        year, week, _ = self.monday.isocalendar()
        return f"{year}-W{week:02d}"

    @classmethod
    def before(cls, day: date) -> Week:
        """The whole ISO week before the one ``day`` falls in."""
        return cls(day - timedelta(days=day.weekday() + 7))


@dataclass
class PersonRow:
    department: str
    username: str
    name: str
    days: int = 0
    reviews: int = 0
    minutes: int = 0
    retained: int = 0
    retention_total: int = 0
    learning: int = 0
    mastered: int = 0
    last_day: date | None = None

    @property
    def retention(self) -> float | None:
        return self.retained / self.retention_total if self.retention_total else None


@dataclass
class DepartmentRow:
    department: str
    staff: int = 0
    active: int = 0
    reviews: int = 0
    minutes: int = 0
    retained: int = 0
    retention_total: int = 0

    @property
    def retention(self) -> float | None:
        return self.retained / self.retention_total if self.retention_total else None


def _kept_logs(week: Week) -> list:
    undo = aliased(ReviewLog)
    return [ReviewLog.study_day >= week.monday, ReviewLog.study_day <= week.sunday, ReviewLog.kind != LOG_UNDO,
            ~select(undo.id).where(undo.undoes_id == ReviewLog.id).exists()]


def _week_by_user(week: Week) -> Select:
    is_review = ReviewLog.kind == LOG_REVIEW
    return (
        select(ReviewLog.user_id,
               func.count(func.distinct(ReviewLog.study_day)).label("days"),
               func.count().label("reviews"),
               func.coalesce(func.sum(ReviewLog.ms), 0).label("ms"),
               func.count().filter(is_review, ReviewLog.quality >= PASSING_QUALITY).label("retained"),
               func.count().filter(is_review).label("retention_total"),
               func.max(ReviewLog.study_day).label("last_day"))
        .where(*_kept_logs(week))
        .group_by(ReviewLog.user_id)
    )


def _states_by_user() -> Select:
    return (
        select(ReviewState.user_id,
               func.count().filter(ReviewState.interval < MASTERED_INTERVAL).label("learning"),
               func.count().filter(ReviewState.interval >= MASTERED_INTERVAL).label("mastered"))
        .join(Card, Card.id == ReviewState.card_id)
        .join(Note, Note.id == Card.note_id)
        .where(Card.retired.is_(False), Note.retired.is_(False))
        .group_by(ReviewState.user_id)
    )


def people(db: Session, week: Week) -> list[PersonRow]:
    """Every active staff member (admins who study too), by department then staff number."""
    weekly = _week_by_user(week).subquery()
    states = _states_by_user().subquery()
    query = (
        select(func.coalesce(Department.name, NO_DEPARTMENT), User.username, User.name,
               func.coalesce(weekly.c.days, 0), func.coalesce(weekly.c.reviews, 0), func.coalesce(weekly.c.ms, 0),
               func.coalesce(weekly.c.retained, 0), func.coalesce(weekly.c.retention_total, 0),
               func.coalesce(states.c.learning, 0), func.coalesce(states.c.mastered, 0), weekly.c.last_day)
        .select_from(User)
        .outerjoin(Department, Department.id == User.department_id)
        .outerjoin(weekly, weekly.c.user_id == User.id)
        .outerjoin(states, states.c.user_id == User.id)
        .where(User.active.is_(True), (User.role == ROLE_STAFF) | (weekly.c.reviews > 0))
        .order_by(Department.name, User.username)
    )
    return [PersonRow(dept, username, name, days, reviews, round(int(ms) / 60000), retained, total, learning,
                      mastered, last_day)
            for dept, username, name, days, reviews, ms, retained, total, learning, mastered, last_day
            in db.execute(query)]


def departments(db: Session, week: Week) -> list[DepartmentRow]:
    weekly = _week_by_user(week).subquery()
    dept = func.coalesce(Department.name, NO_DEPARTMENT)
    query = (
        select(dept,
               func.count(User.id),
               func.count(weekly.c.user_id),
               func.coalesce(func.sum(weekly.c.reviews), 0),
               func.coalesce(func.sum(weekly.c.ms), 0),
               func.coalesce(func.sum(weekly.c.retained), 0),
               func.coalesce(func.sum(weekly.c.retention_total), 0))
        .select_from(User)
        .outerjoin(Department, Department.id == User.department_id)
        .outerjoin(weekly, weekly.c.user_id == User.id)
        .where(User.active.is_(True), (User.role == ROLE_STAFF) | (weekly.c.reviews > 0))
        .group_by(dept)
        .order_by(dept)
    )
    return [DepartmentRow(name, staff, active, int(reviews), round(int(ms) / 60000), int(retained), int(total))
            for name, staff, active, reviews, ms, retained, total in db.execute(query)]


def _percent(value: float | None) -> float | None:
    return round(value, 4) if value is not None else None


def _sheet(wb: Workbook, title: str, header: list[str], rows: list[list[object]], first: bool = False) -> None:
    ws = wb.active if first else wb.create_sheet()
    assert ws is not None
    ws.title = title
    ws.append(header)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in rows:
        ws.append([neutralise(value) for value in row])  # names come from staff imports: no formulas
    for index, text in enumerate(header, start=1):
        ws.column_dimensions[get_column_letter(index)].width = max(10, 2 * len(text) + 4)
        if "保持率" in text:
            for (cell,) in ws.iter_rows(min_row=2, min_col=index, max_col=index):
                cell.number_format = "0.0%"
    ws.freeze_panes = "A2"


def build_xlsx(db: Session, week: Week) -> bytes:
    """The report workbook: a 部门 sheet and a 个人 sheet for ``week``."""
    wb = Workbook()
    _sheet(wb, "部门", ["部门", "人数", "本周学习人数", "复习次数", "学习分钟", "记忆保持率"],
           [[d.department, d.staff, d.active, d.reviews, d.minutes, _percent(d.retention)]
            for d in departments(db, week)], first=True)
    _sheet(wb, "个人", ["部门", "工号", "姓名", "学习天数", "复习次数", "学习分钟", "记忆保持率", "学习中", "已掌握",
                       "最近学习日"],
           [[p.department, p.username, p.name, p.days, p.reviews, p.minutes, _percent(p.retention), p.learning,
             p.mastered, p.last_day.isoformat() if p.last_day else ""] for p in people(db, week)])
    info = wb.create_sheet("说明")
    info.append(["周次", week.label])
    info.append(["起止", f"{week.monday.isoformat()} 至 {week.sunday.isoformat()}（学习日，04:00 换日）"])
    info.append(["记忆保持率", "按计划复习（不含当天重复和新卡）中评分 ≥ 3 的比例；撤销的评分不计"])
    info.append(["学习中 / 已掌握", "截至生成时：间隔 < 21 天 / ≥ 21 天"])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def filename(week: Week) -> str:
    return f"学习周报-{week.label}.xlsx"
