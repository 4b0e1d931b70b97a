"""Job bodies (reminders, snapshots, backup, weekly report, overdue nudge) and the job_runs claims.

Each body takes a session, a mailer and the clock (``now``) as arguments, so tests drive them
directly with a frozen time. When and how often they run, and the claim protocol, live in
``scheduler.jobs``; ``webapp.jobs_runner`` wires both to APScheduler.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from flask import Flask
from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from scheduler import jobs as spec
from scheduler.queue import MASTERED_INTERVAL
from scheduler.sm2 import PASSING_QUALITY
from scheduler.study_day import DEFAULT_TIMEZONE, study_day

from . import backup as backups
from .channels import sender as channel_sender
from .channels import service as channel_service
from .db import begin_write, session_scope
from .mailer import Attachment, Mailer, Message, mailer_from_config, send_with_retry
from .models import (
    LOG_REVIEW,
    LOG_UNDO,
    ROLE_STAFF,
    ROLE_SUPER_ADMIN,
    AdminDepartment,
    Card,
    Deck,
    DeckAssignment,
    Department,
    JobRun,
    Note,
    Notification,
    ProgressSnapshot,
    ReviewLog,
    ReviewState,
    User,
)
from .services import calendar, queue
from .services import weekly_report as report

KIND_REMINDER = "reminder"
KIND_WEEKLY_REPORT = "weekly_report"
KIND_OVERDUE = "overdue_nudge"

SENT = "sent"
RECORDED = "recorded"  # mail not configured: kept for the jobs page instead
FAILED = "failed"
PENDING = "pending"


@dataclass
class MailTally:
    sent: int = 0
    recorded: int = 0
    failed: int = 0
    skipped: int = 0  # already notified today (a second run, another scheduler)
    errors: list[str] = field(default_factory=list)

    def text(self, what: str) -> str:
        parts = [f"{what}：发送 {self.sent}", f"记录 {self.recorded}（邮件未配置）" if self.recorded else "",
                 f"失败 {self.failed}" if self.failed else "", f"已发过 {self.skipped}" if self.skipped else ""]
        out = "，".join(p for p in parts if p)
        if self.errors:
            out += "；错误：" + "；".join(self.errors[:3])
        return out


def _deliver(db: Session, mailer: Mailer, user_id: int, kind: str, day: date, message: Message,
             tally: MailTally, now: datetime, sleep: Callable[[float], None] | None = None) -> None:
    """Send ``message`` at most once per (person, kind, day): the notification row is committed
    before sending, so a crash after sending never leads to a second mail."""
    begin_write(db)
    try:
        db.execute(insert(Notification).values(
            user_id=user_id, kind=kind, day=day, channel="email", subject=message.subject,
            body=message.body, status=PENDING, attempts=0, error="", created_at=now))
        db.commit()
    except IntegrityError:
        db.rollback()
        tally.skipped += 1
        return
    where = (Notification.user_id == user_id, Notification.kind == kind, Notification.day == day)
    if not mailer.delivers or not message.to:
        if message.to:
            mailer.send(message)  # a RecordingMailer keeps it
        values = {"status": RECORDED, "error": "" if message.to else "没有邮箱地址"}
        tally.recorded += 1
    else:
        result = send_with_retry(mailer, message, **({"sleep": sleep} if sleep else {}))
        values = {"status": SENT if result.ok else FAILED, "attempts": result.attempts, "error": result.error,
                  "sent_at": now if result.ok else None}
        if result.ok:
            tally.sent += 1
        else:
            tally.failed += 1
            tally.errors.append(result.error)
    begin_write(db)
    db.execute(update(Notification).where(*where).values(**values))
    db.commit()


# -- daily reminder -------------------------------------------------------------------------------

def today_url(base_url: str) -> str | None:
    """The Today page's address for mail (TIFA_BASE_URL); None when no public address is configured."""
    return base_url.rstrip("/") + "/today" if base_url else None


def reminder_message(user: User, left: int, new: int, streak: int, base_url: str) -> Message:
    subject = f"提法卡：今天有 {left} 张卡片待复习"
    lines = [f"{user.name}，您好：", "",
             f"今天有 {left} 张卡片待复习" + (f"（其中新卡片 {new} 张）" if new else "") + "。",
             f"已连续完成 {streak} 天，继续保持！" if streak else "每天几分钟，坚持下来效果最好。", "",
             f"打开今日复习：{url}" if (url := today_url(base_url)) else "请登录提法卡，打开“今日”页面开始复习。", "",
             "不想再收到提醒？请联系管理员关闭您的复习提醒。"]
    return Message(to=[user.email] if user.email else [], subject=subject, body="\n".join(lines))


def remind(db: Session, mailer: Mailer, now: datetime, *, tz: str = DEFAULT_TIMEZONE, base_url: str = "",
           sleep: Callable[[float], None] | None = None, channels: channel_sender.Sender | None = None) -> str:
    """One short email to each active, opted-in person with cards to study today (and a summary in each
    department's group chat, see ``_channel_reminders``)."""
    today = study_day(now, tz)
    if (pause := calendar.pause_on(db, today)) is not None:  # holidays: no reminders at all
        db.commit()
        return f"{today.isoformat()} 假期暂停：{pause.name}，不发提醒"
    tally = MailTally()
    nobody_due = 0
    notified = select(Notification.user_id).where(Notification.kind == KIND_REMINDER, Notification.day == today)
    candidates = db.scalars(
        select(User).where(User.active.is_(True), User.reminder_opt_out.is_(False), User.id.not_in(notified))
        .order_by(User.id)
    ).all()
    db.commit()
    for user in candidates:
        counts = queue.today_summary_counts(db, user, today)
        if counts.left == 0:
            nobody_due += 1
            continue
        streak = queue.streak(db, user, today, done_today=False)
        db.commit()
        message = reminder_message(user, counts.left, counts.new, streak, base_url)
        _deliver(db, mailer, user.id, KIND_REMINDER, today, message, tally, now, sleep)
    return (tally.text(f"{today.isoformat()} 复习提醒") + f"，无待复习 {nobody_due}"
            + _channel_reminders(db, channels, today, now, base_url))


def _channel_reminders(db: Session, channels: channel_sender.Sender | None, today: date, now: datetime,
                       base_url: str) -> str:
    """Today's reminder in each department's WeCom/DingTalk group (webapp/channels); '' without robots."""
    sender = channels or channel_sender.Sender()
    return channel_service.remind_departments(db, sender, today, now, base_url).text("群消息")


# -- nightly progress snapshot --------------------------------------------------------------------

def _assigned_pairs():  # noqa: ANN202 - a Select of (user_id, deck_id)
    """(person, published deck) pairs for every active person and every deck assigned to them."""
    target = or_(DeckAssignment.everyone.is_(True), DeckAssignment.user_id == User.id,
                 and_(DeckAssignment.department_id.is_not(None), DeckAssignment.department_id == User.department_id))
    return (
        select(User.id.label("user_id"), DeckAssignment.deck_id.label("deck_id"))
        .join(DeckAssignment, target)
        .join(Deck, Deck.id == DeckAssignment.deck_id)
        .where(User.active.is_(True), Deck.status == "published")
        .distinct()
    )


def snapshot(db: Session, now: datetime, *, tz: str = DEFAULT_TIMEZONE) -> str:
    """Per person × deck counts for the study day that just ended; running it again replaces that day."""
    day = study_day(now, tz) - timedelta(days=1)
    live = [Card.retired.is_(False), Note.retired.is_(False)]
    cards_per_deck = dict(db.execute(
        select(Card.deck_id, func.count()).join(Note, Note.id == Card.note_id).where(*live).group_by(Card.deck_id)
    ).all())
    states = {
        (u, d): (learning, mastered, due, overdue)
        for u, d, learning, mastered, due, overdue in db.execute(
            select(ReviewState.user_id, ReviewState.deck_id,
                   func.count().filter(ReviewState.interval < MASTERED_INTERVAL),
                   func.count().filter(ReviewState.interval >= MASTERED_INTERVAL),
                   func.count().filter(ReviewState.due_day == day),
                   func.count().filter(ReviewState.due_day < day))
            .join(Card, Card.id == ReviewState.card_id).join(Note, Note.id == Card.note_id)
            .where(*live).group_by(ReviewState.user_id, ReviewState.deck_id))
    }
    undo = aliased(ReviewLog)
    is_review = ReviewLog.kind == LOG_REVIEW
    logs = {
        (u, d): (reviews, retained, total)
        for u, d, reviews, retained, total in db.execute(
            select(ReviewLog.user_id, ReviewLog.deck_id, func.count(),
                   func.count().filter(is_review, ReviewLog.quality >= PASSING_QUALITY),
                   func.count().filter(is_review))
            .where(ReviewLog.study_day == day, ReviewLog.kind != LOG_UNDO,
                   ~select(undo.id).where(undo.undoes_id == ReviewLog.id).exists())
            .group_by(ReviewLog.user_id, ReviewLog.deck_id))
    }
    pairs = {(u, d) for u, d in db.execute(_assigned_pairs())} | set(states) | set(logs)
    rows = []
    for user_id, deck_id in sorted(pairs):
        learning, mastered, due, overdue = states.get((user_id, deck_id), (0, 0, 0, 0))
        reviews, retained, total = logs.get((user_id, deck_id), (0, 0, 0))
        rows.append(dict(day=day, user_id=user_id, deck_id=deck_id,
                         new=max(0, cards_per_deck.get(deck_id, 0) - learning - mastered), learning=learning,
                         mastered=mastered, due=due, overdue=overdue, reviews=reviews, retained=retained,
                         retention_total=total))
    db.commit()
    begin_write(db)
    db.execute(delete(ProgressSnapshot).where(ProgressSnapshot.day == day))
    if rows:
        db.execute(insert(ProgressSnapshot), rows)
    db.commit()
    return f"{day.isoformat()} 学习日快照：{len(rows)} 行（人 × 卡组）"


# -- nightly calendar reflow -----------------------------------------------------------------------

def calendar_reflow(db: Session, now: datetime, *, tz: str = DEFAULT_TIMEZONE) -> str:
    """Move cards due inside a holiday pause to the study days after it (idempotent: a second run
    finds nothing left to move). Admin edits of pauses do the same at once; this is the safety net."""
    today = study_day(now, tz)
    return f"{today.isoformat()} " + calendar.reflow(db, today).text()


# -- nightly backup -------------------------------------------------------------------------------

def backup(app: Flask, now: datetime) -> str:
    """An online SQLite backup into instance/backups/, then rotation; PostgreSQL is left to pg_dump."""
    database = backups.sqlite_path(app.config["DATABASE_URL"])
    if database is None:
        return "数据库不是 SQLite：请用 pg_dump 等数据库自带工具备份，本任务未做任何事"
    folder = backups.backups_dir(app.instance_path)
    taken = backups.take_backup(database, folder, now)
    removed = backups.rotate(folder)
    return f"已备份到 {taken.path.name}（{taken.size // 1024} KB），清理旧备份 {len(removed)} 个"


# -- weekly report --------------------------------------------------------------------------------

def weekly_report(db: Session, mailer: Mailer, now: datetime, *, tz: str = DEFAULT_TIMEZONE,
                  sleep: Callable[[float], None] | None = None, base_url: str = "",
                  channels: channel_sender.Sender | None = None) -> str:
    """Last week's XLSX report, mailed as an attachment to each super admin; each department's figures
    go to its group chat."""
    week = report.Week.before(study_day(now, tz))
    content = report.build_xlsx(db, week)
    admins = db.scalars(select(User).where(User.active.is_(True), User.role == ROLE_SUPER_ADMIN)
                        .order_by(User.id)).all()
    db.commit()
    tally = MailTally()
    for admin in admins:
        message = Message(
            to=[admin.email] if admin.email else [],
            subject=f"提法卡学习周报 {week.label}（{week.monday:%m-%d} 至 {week.sunday:%m-%d}）",
            body=(f"{admin.name}，您好：\n\n附件是上周（{week.monday.isoformat()} 至 {week.sunday.isoformat()}）"
                  "各部门、各人的学习情况。\n也可在管理页面“后台任务”中下载。\n"),
            attachments=[Attachment(report.filename(week), content)])
        _deliver(db, mailer, admin.id, KIND_WEEKLY_REPORT, week.monday, message, tally, now, sleep)
    groups = channel_service.report_departments(db, channels or channel_sender.Sender(), week, now, base_url)
    return tally.text(f"{week.label} 周报（{len(content) // 1024} KB）") + groups.text("群消息")


# -- overdue nudge --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Behind:
    department_id: int | None
    department: str
    username: str
    name: str
    deck: str
    learn_by: date
    unseen: int


def behind_learn_by(db: Session, today: date) -> list[Behind]:
    """Active staff with cards they have never studied in a deck whose learn-by date has passed.

    Admins are left out: they are the ones told.
    """
    pairs = (
        select(User.id.label("user_id"), DeckAssignment.deck_id.label("deck_id"),
               func.min(DeckAssignment.learn_by).label("learn_by"))
        .join(DeckAssignment, or_(DeckAssignment.everyone.is_(True), DeckAssignment.user_id == User.id,
                                  and_(DeckAssignment.department_id.is_not(None),
                                       DeckAssignment.department_id == User.department_id)))
        .join(Deck, Deck.id == DeckAssignment.deck_id)
        .where(User.active.is_(True), User.role == ROLE_STAFF, Deck.status == "published",
               DeckAssignment.learn_by < today)
        .group_by(User.id, DeckAssignment.deck_id)
        .subquery()
    )
    learned = select(ReviewState.id).where(ReviewState.user_id == pairs.c.user_id, ReviewState.card_id == Card.id)
    unseen = (
        select(pairs.c.user_id, pairs.c.deck_id, pairs.c.learn_by, func.count(Card.id).label("unseen"))
        .join(Card, Card.deck_id == pairs.c.deck_id)
        .join(Note, Note.id == Card.note_id)
        .where(Card.retired.is_(False), Note.retired.is_(False), ~learned.exists())
        .group_by(pairs.c.user_id, pairs.c.deck_id, pairs.c.learn_by)
        .subquery()
    )
    rows = db.execute(
        select(User.department_id, func.coalesce(Department.name, report.NO_DEPARTMENT), User.username,
               User.name, Deck.title, unseen.c.learn_by, unseen.c.unseen)
        .join(User, User.id == unseen.c.user_id)
        .join(Deck, Deck.id == unseen.c.deck_id)
        .outerjoin(Department, Department.id == User.department_id)
        .order_by(Department.name, User.username, unseen.c.learn_by, Deck.title)
    ).all()
    return [Behind(*row) for row in rows]


def overdue_nudge(db: Session, mailer: Mailer, now: datetime, *, tz: str = DEFAULT_TIMEZONE,
                  sleep: Callable[[float], None] | None = None) -> str:
    """Mail each department admin the list of their staff behind a deck's learn-by date
    (staff without a department go to the super admins)."""
    today = study_day(now, tz)
    if (pause := calendar.pause_on(db, today)) is not None:  # nobody is chased during a holiday
        db.commit()
        return f"{today.isoformat()} 假期暂停：{pause.name}，不发逾期提醒"
    behind = behind_learn_by(db, today)
    if not behind:
        db.commit()
        return f"{today.isoformat()} 没有人逾期"
    by_department: dict[int | None, list[Behind]] = {}
    for row in behind:
        by_department.setdefault(row.department_id, []).append(row)
    managers = db.execute(
        select(AdminDepartment.department_id, User).join(User, User.id == AdminDepartment.user_id)
        .where(User.active.is_(True), AdminDepartment.department_id.in_([d for d in by_department if d]))
    ).all()
    supers = db.scalars(select(User).where(User.active.is_(True), User.role == ROLE_SUPER_ADMIN)).all()
    db.commit()
    recipients: dict[int, tuple[User, list[Behind]]] = {}
    for department_id, admin in managers:
        recipients.setdefault(admin.id, (admin, []))[1].extend(by_department[department_id])
    for admin in supers:
        if None in by_department:
            recipients.setdefault(admin.id, (admin, []))[1].extend(by_department[None])
    tally = MailTally()
    for admin, rows in recipients.values():
        if not rows:
            continue
        lines = [f"{admin.name}，您好：", "",
                 f"以下人员的卡组已过“完成日期”，仍有卡片未学（截至 {today.isoformat()}）：", ""]
        lines += [f"· {r.department} {r.name}（{r.username}）：《{r.deck}》完成日期 {r.learn_by.isoformat()}，"
                  f"未学 {r.unseen} 张" for r in rows]
        lines += ["", "请提醒他们抽时间完成。"]
        message = Message(to=[admin.email] if admin.email else [], subject=f"提法卡：{len(rows)} 项学习任务已逾期",
                          body="\n".join(lines))
        _deliver(db, mailer, admin.id, KIND_OVERDUE, today, message, tally, now, sleep)
    unreached = len({r.department_id for r in behind} - {d for d, _ in managers} - ({None} if supers else set()))
    note = f"，{unreached} 个部门没有部门管理员" if unreached else ""
    return tally.text(f"{today.isoformat()} 逾期提醒（{len(behind)} 项）") + note


# -- claims over job_runs -------------------------------------------------------------------------

class DbClaims:
    """``scheduler.jobs.ClaimStore`` over the job_runs table (unique job + period)."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def claim(self, job: str, period: str, now: datetime) -> bool:
        try:
            with session_scope(self.app, write=True) as db:
                db.add(JobRun(job=job, period=period, status=spec.STATUS_RUNNING, started_at=now, summary=""))
                db.flush()
        except IntegrityError:
            return False
        return True

    def finish(self, job: str, period: str, status: str, summary: str, now: datetime) -> None:
        with session_scope(self.app, write=True) as db:
            db.execute(update(JobRun).where(JobRun.job == job, JobRun.period == period)
                       .values(status=status, summary=summary[:4000], finished_at=now))

    def last_period(self, job: str) -> str | None:
        with session_scope(self.app) as db:
            return db.scalar(select(func.max(JobRun.period)).where(JobRun.job == job))


def _tz(app: Flask) -> str:
    return app.config.get("TIMEZONE") or DEFAULT_TIMEZONE


def job_table(app: Flask) -> dict[str, spec.JobSpec]:
    """The jobs with the reminder at TIFA_REMINDER_TIME (local time, default 07:30)."""
    import os

    configured = app.config.get("REMINDER_TIME") or os.environ.get("TIFA_REMINDER_TIME")
    try:
        return spec.configured_jobs(configured)
    except ValueError as exc:
        raise ValueError(f"TIFA_REMINDER_TIME 有误：{exc}") from None


def body_for(app: Flask, name: str, now: datetime, mailer: Mailer | None = None) -> Callable[[], str]:
    """The work of job ``name`` at ``now``, as a no-argument callable for ``scheduler.jobs.run_once``."""
    mailer = mailer if mailer is not None else app.extensions.get("tifa.mailer") or mailer_from_config(app.config)
    tz = _tz(app)
    base_url = app.config.get("BASE_URL", "")
    channels = channel_sender.Sender.from_config(app.config)

    def with_session(work: Callable[[Session], str]) -> Callable[[], str]:
        def run() -> str:
            with session_scope(app) as db:
                return work(db)
        return run

    bodies: dict[str, Callable[[], str]] = {
        spec.REMIND: with_session(lambda db: remind(db, mailer, now, tz=tz, base_url=base_url, channels=channels)),
        spec.SNAPSHOT: with_session(lambda db: snapshot(db, now, tz=tz)),
        spec.BACKUP: lambda: backup(app, now),
        spec.WEEKLY_REPORT: with_session(lambda db: weekly_report(db, mailer, now, tz=tz, base_url=base_url,
                                                                  channels=channels)),
        spec.OVERDUE_NUDGE: with_session(lambda db: overdue_nudge(db, mailer, now, tz=tz)),
        spec.CALENDAR_REFLOW: with_session(lambda db: calendar_reflow(db, now, tz=tz)),
    }
    return bodies[name]


def run_job(app: Flask, name: str, now: datetime | None = None, mailer: Mailer | None = None) -> spec.RunOutcome:
    """Run job ``name`` for the period ``now`` falls in, through the claim protocol (at most once)."""
    now = now or datetime.now(UTC)
    job = job_table(app)[name]
    period = spec.period_for(job, now, _tz(app))
    return spec.run_once(name, period, DbClaims(app), body_for(app, name, now, mailer))


def catch_up(app: Flask, now: datetime | None = None, mailer: Mailer | None = None) -> list[spec.RunOutcome]:
    """At scheduler start: run each job once for its latest period if that run was missed."""
    now = now or datetime.now(UTC)
    claims = DbClaims(app)
    outcomes = []
    for name, job in job_table(app).items():
        period = spec.missed_period(job, claims.last_period(name), now, _tz(app))
        if period is not None:
            outcomes.append(spec.run_once(name, period, claims, body_for(app, name, now, mailer)))
    return outcomes


def backup_folder(app: Flask) -> Path:
    return backups.backups_dir(app.instance_path)
