"""Department robots: their settings (scoped and audited like the staff pages) and the deliveries.

A delivery row is committed as 'pending' before its POST, unique per (channel, kind, period), so a rerun,
a second scheduler or a crash after posting never posts twice; the poster then marks it sent or failed.
No database transaction is held while posting (a slow robot must not block writers).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from ..db import begin_write
from ..models import (
    DELIVERY_REMIND,
    DELIVERY_WEEKLY_REPORT,
    ChannelDelivery,
    Department,
    DepartmentChannel,
    User,
    utcnow,
)
from ..services import queue
from ..services import weekly_report as report
from ..services.audit import audit
from . import messages, platforms
from .sender import PostResult, Sender

PENDING = "pending"
SENT = "sent"
FAILED = "failed"
KIND_LABELS = {DELIVERY_REMIND: "复习提醒", DELIVERY_WEEKLY_REPORT: "学习周报"}
#: A 'pending' row older than this was left by a process that stopped mid-post: it may be retried by hand.
STALE_PENDING = timedelta(minutes=10)
#: Failures older than this drop off the jobs page.
SHOW_FAILED_FOR = timedelta(days=14)
INTERRUPTED = "发送中断：发送时进程停止了，消息可能已经发出；确认群里没有这条消息后再重试"


class ChannelError(Exception):
    """A refused change, with the reason in Chinese."""


@dataclass
class ChannelTally:
    channels: int = 0
    sent: int = 0
    failed: int = 0
    skipped: int = 0  # already posted this period (a rerun, another scheduler)
    quiet: int = 0  # departments with nothing to say
    retried: int = 0  # earlier failures posted again
    errors: list[str] = field(default_factory=list)

    def text(self, what: str) -> str:
        """'' when no robot is set up, so the job summaries stay as they were."""
        if not self.channels:
            return ""
        parts = [f"{what}：发送 {self.sent}", f"失败 {self.failed}" if self.failed else "",
                 f"其中补发 {self.retried}" if self.retried else "", f"已发过 {self.skipped}" if self.skipped else "",
                 f"无内容的部门 {self.quiet}" if self.quiet else ""]
        out = "，".join(p for p in parts if p)
        if self.errors:
            out += "；错误：" + "；".join(self.errors[:3])
        return "；" + out


# -- settings ---------------------------------------------------------------------------------------

def channels_of(db: Session, department_id: int) -> dict[str, DepartmentChannel]:
    rows = db.scalars(select(DepartmentChannel).where(DepartmentChannel.department_id == department_id))
    return {c.kind: c for c in rows}


def channels_by_department(db: Session, department_ids: list[int]) -> dict[int, dict[str, DepartmentChannel]]:
    out: dict[int, dict[str, DepartmentChannel]] = {}
    if department_ids:
        for c in db.scalars(select(DepartmentChannel).where(DepartmentChannel.department_id.in_(department_ids))):
            out.setdefault(c.department_id, {})[c.kind] = c
    return out


def _secret_state(secret: str) -> str:
    return platforms.mask_secret(secret) if secret else "未设置"


def save_channel(db: Session, actor: User, department: Department, kind: str, url: str, secret: str,
                 enabled: bool, clear_secret: bool = False, now: datetime | None = None) -> DepartmentChannel:
    """Create or change ``department``'s robot on platform ``kind`` in the caller's write transaction.

    A blank address or secret keeps the stored one (the form never shows them back)."""
    channel = channels_of(db, department.id).get(kind)
    url, secret = url.strip(), secret.strip()
    new_url = url or (channel.webhook_url if channel else "")
    new_secret = "" if clear_secret else (secret or (channel.secret if channel else ""))
    errors = platforms.validate(kind, new_url, new_secret)
    if errors:
        raise ChannelError(" ".join(errors))
    when = now or utcnow()
    before = ({"url": platforms.mask_url(channel.webhook_url), "secret": _secret_state(channel.secret),
               "enabled": channel.enabled} if channel else None)
    if channel is None:
        channel = DepartmentChannel(department_id=department.id, kind=kind, created_at=when)
        db.add(channel)
    channel.webhook_url, channel.secret, channel.enabled, channel.updated_at = new_url, new_secret, enabled, when
    db.flush()
    after = {"url": platforms.mask_url(new_url), "secret": _secret_state(new_secret), "enabled": enabled}
    changes = {k: {"before": before[k] if before else None, "after": v} for k, v in after.items()
               if before is None or before[k] != v}
    audit(db, actor, "channel.save", "department", department.id, department=department.name,
          platform=platforms.LABELS[kind], **changes)
    return channel


def delete_channel(db: Session, actor: User, department: Department, channel: DepartmentChannel) -> None:
    audit(db, actor, "channel.delete", "department", department.id, department=department.name,
          platform=platforms.LABELS[channel.kind], url=platforms.mask_url(channel.webhook_url))
    db.delete(channel)


def send_probe(sender: Sender, channel: DepartmentChannel, department: Department, actor: User) -> PostResult:
    """Post a test message now, once (the admin is waiting for the platform's answer)."""
    label = platforms.LABELS[channel.kind]
    title, text = messages.probe(department.name, actor.name, label)
    return sender.post(channel.kind, channel.webhook_url, channel.secret, title, text, retry=False)


# -- deliveries -------------------------------------------------------------------------------------

def _create(db: Session, channel_id: int, kind: str, period: str, title: str, body: str, now: datetime) -> int | None:
    """Insert the pending row; None when this (channel, kind, period) already has one."""
    begin_write(db)
    try:
        delivery_id = db.scalar(insert(ChannelDelivery).values(
            channel_id=channel_id, kind=kind, period=period, title=title[:200], body=body, status=PENDING,
            attempts=0, error="", created_at=now, updated_at=now).returning(ChannelDelivery.id))
        db.commit()
    except IntegrityError:
        db.rollback()
        return None
    return delivery_id


def _claim(db: Session, delivery_id: int, now: datetime, abandoned: bool = False) -> bool:
    """Take a failed delivery for posting again; False when it is not failed (sent, or someone holds it).

    ``abandoned`` also takes a 'pending' row left by a stopped process: only an admin's 重试 does, since
    that message may have gone out before the stop."""
    begin_write(db)
    claimable = ChannelDelivery.status == FAILED
    if abandoned:
        claimable = or_(claimable, and_(ChannelDelivery.status == PENDING,
                                        ChannelDelivery.updated_at < now - STALE_PENDING))
    result = db.execute(update(ChannelDelivery).where(ChannelDelivery.id == delivery_id, claimable)
                        .values(status=PENDING, updated_at=now))
    db.commit()
    return result.rowcount == 1


def _post(db: Session, sender: Sender, delivery_id: int, now: datetime, retry: bool = True) -> PostResult:
    """POST a delivery this process holds (pending), then record how it went."""
    row = db.execute(
        select(ChannelDelivery, DepartmentChannel).join(DepartmentChannel,
                                                        DepartmentChannel.id == ChannelDelivery.channel_id)
        .where(ChannelDelivery.id == delivery_id)).one_or_none()
    db.commit()  # no transaction held while waiting on the robot
    if row is None:  # the robot was deleted meanwhile (its deliveries go with it)
        return PostResult(False, 0, "群机器人已被删除")
    delivery, channel = row
    result = sender.post(channel.kind, channel.webhook_url, channel.secret, delivery.title, delivery.body, retry)
    begin_write(db)
    db.execute(update(ChannelDelivery).where(ChannelDelivery.id == delivery_id).values(
        status=SENT if result.ok else FAILED, attempts=ChannelDelivery.attempts + result.attempts,
        error="" if result.ok else result.error, updated_at=now, sent_at=now if result.ok else None))
    db.commit()
    return result


def _count(tally: ChannelTally, department: str, kind: str, result: PostResult) -> None:
    if result.ok:
        tally.sent += 1
    else:
        tally.failed += 1
        tally.errors.append(f"{department}（{platforms.LABELS[kind]}）{result.error}")


def post_period(db: Session, sender: Sender, kind: str, period: str, now: datetime,
                build: Callable[[int, str], tuple[str, str] | None] | None) -> ChannelTally:
    """Post ``kind`` for ``period`` to every enabled robot: a new message where none was made yet (``build``
    writes it once per department from its id and name, None = nothing to say; no ``build``: retries only),
    and again where this period's post failed."""
    tally = ChannelTally()
    # Plain values, not ORM objects: a rollback (another scheduler made the row first) expires objects, and
    # reading one again would open a read transaction that SQLite cannot turn into a write.
    robots = db.execute(
        select(DepartmentChannel.id, DepartmentChannel.kind, Department.id, Department.name)
        .join(Department, Department.id == DepartmentChannel.department_id)
        .where(DepartmentChannel.enabled.is_(True)).order_by(Department.name, DepartmentChannel.kind)).all()
    done = dict(db.execute(select(ChannelDelivery.channel_id, ChannelDelivery.id).where(
        ChannelDelivery.kind == kind, ChannelDelivery.period == period)).all())
    db.commit()
    tally.channels = len(robots)
    fresh: dict[int, tuple[str, list[tuple[int, str]]]] = {}
    for channel_id, channel_kind, department_id, department in robots:
        if channel_id not in done:
            fresh.setdefault(department_id, (department, []))[1].append((channel_id, channel_kind))
    for department_id, (department, channels) in fresh.items() if build is not None else ():
        message = build(department_id, department)
        db.commit()
        if message is None:
            tally.quiet += 1
            continue
        for channel_id, channel_kind in channels:
            delivery_id = _create(db, channel_id, kind, period, message[0], message[1], now)
            if delivery_id is None:
                tally.skipped += 1
                continue
            _count(tally, department, channel_kind, _post(db, sender, delivery_id, now))
    names = {channel_id: (department, channel_kind) for channel_id, channel_kind, _, department in robots}
    for channel_id, delivery_id in done.items():
        if channel_id in names and _claim(db, delivery_id, now):
            tally.retried += 1
            _count(tally, *names[channel_id], _post(db, sender, delivery_id, now))
        elif channel_id in names:
            tally.skipped += 1
    return tally


def retry_failed(db: Session, sender: Sender, kind: str, period: str, now: datetime) -> ChannelTally:
    """Post again this period's failed ``kind`` deliveries (e.g. the daily run retrying the week's report)."""
    return post_period(db, sender, kind, period, now, None)


def retry_delivery(db: Session, sender: Sender, delivery_id: int, now: datetime) -> PostResult | None:
    """The jobs page's 重试, one attempt (the admin waits for the answer): None when the delivery is not
    (or no longer) failed."""
    if not _claim(db, delivery_id, now, abandoned=True):
        return None
    return _post(db, sender, delivery_id, now, retry=False)


# -- what the jobs run posts ---------------------------------------------------------------------------

def department_due(db: Session, department_id: int, today: date) -> list[messages.Due]:
    """Active people of the department with cards left today; those who opted out of reminders are left out
    (the group message names people)."""
    people = db.scalars(select(User).where(User.department_id == department_id, User.active.is_(True),
                                           User.reminder_opt_out.is_(False)).order_by(User.id)).all()
    due = []
    for user in people:
        left = queue.today_summary_counts(db, user, today).left
        if left:
            due.append(messages.Due(user.name, left))
    return due


def remind_departments(db: Session, sender: Sender, today: date, now: datetime, base_url: str) -> ChannelTally:
    """Today's reminder in each department's group, plus another try at this week's failed weekly reports."""
    def build(department_id: int, department: str) -> tuple[str, str] | None:
        due = department_due(db, department_id, today)
        return messages.reminder(department, today, due, base_url) if due else None

    tally = post_period(db, sender, DELIVERY_REMIND, today.isoformat(), now, build)
    reports = retry_failed(db, sender, DELIVERY_WEEKLY_REPORT, report.Week.before(today).label, now)
    tally.sent += reports.sent
    tally.failed += reports.failed
    tally.retried += reports.retried
    tally.errors += reports.errors
    return tally


def report_departments(db: Session, sender: Sender, week: report.Week, now: datetime,
                       base_url: str) -> ChannelTally:
    """Last week's summary in each department's group (the XLSX report's figures for that department)."""
    figures = {row.department: row for row in report.departments(db, week)}
    people: dict[str, list[report.PersonRow]] = {}
    for person in report.people(db, week):
        people.setdefault(person.department, []).append(person)

    def build(_department_id: int, department: str) -> tuple[str, str] | None:
        row = figures.get(department)
        if row is None or row.staff == 0:
            return None
        top = sorted((p for p in people.get(department, []) if p.days), key=lambda p: (-p.days, -p.reviews))
        week_figures = messages.WeekFigures(row.staff, row.active, row.reviews, row.minutes, row.retention,
                                            [(p.name, p.days) for p in top])
        return messages.weekly(department, week.label, week.monday, week.sunday, week_figures, base_url)

    return post_period(db, sender, DELIVERY_WEEKLY_REPORT, week.label, now, build)


@dataclass(frozen=True)
class Failure:
    id: int
    department: str
    platform: str
    kind: str
    period: str
    at: datetime
    attempts: int
    error: str
    interrupted: bool  # 'pending' left by a stopped process: it may or may not have been posted


def failures(db: Session, now: datetime, department_ids: set[int] | None = None) -> list[Failure]:
    """Deliveries left failed (or abandoned mid-post) in the last two weeks, newest first, unless a later
    message of the same kind reached that robot since."""
    later = aliased(ChannelDelivery)
    superseded = select(later.id).where(later.channel_id == ChannelDelivery.channel_id,
                                        later.kind == ChannelDelivery.kind, later.status == SENT,
                                        later.created_at > ChannelDelivery.created_at).exists()
    query = (
        select(ChannelDelivery, DepartmentChannel.kind, Department.name)
        .join(DepartmentChannel, DepartmentChannel.id == ChannelDelivery.channel_id)
        .join(Department, Department.id == DepartmentChannel.department_id)
        .where(or_(ChannelDelivery.status == FAILED,
                   and_(ChannelDelivery.status == PENDING, ChannelDelivery.updated_at < now - STALE_PENDING)),
               ChannelDelivery.updated_at >= now - SHOW_FAILED_FOR, ~superseded)
        .order_by(ChannelDelivery.updated_at.desc(), ChannelDelivery.id.desc()).limit(100)
    )
    if department_ids is not None:
        query = query.where(DepartmentChannel.department_id.in_(department_ids or {-1}))
    return [Failure(d.id, name, platforms.LABELS.get(kind, kind), KIND_LABELS.get(d.kind, d.kind), d.period,
                    d.updated_at, d.attempts, d.error or INTERRUPTED, d.status == PENDING)
            for d, kind, name in db.execute(query)]


def recent(db: Session, channel_ids: list[int], limit: int = 5) -> dict[int, list[ChannelDelivery]]:
    """The latest deliveries of each robot, for its settings page."""
    out: dict[int, list[ChannelDelivery]] = {}
    for channel_id in channel_ids:
        out[channel_id] = list(db.scalars(select(ChannelDelivery).where(ChannelDelivery.channel_id == channel_id)
                                          .order_by(ChannelDelivery.created_at.desc(), ChannelDelivery.id.desc())
                                          .limit(limit)))
    return out
