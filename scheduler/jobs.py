"""Background jobs: their names, when they run, which period a run covers, and run-exactly-once.

Pure Python (no Flask, no database). Times are local to the institution (``TIFA_TIMEZONE``).
Each run claims its *period* (``'2026-11-29'`` for a daily job, ``'2026-W48'`` for a weekly
one) before doing anything; the claim store is unique on (job, period), so two schedulers,
a restart or a retry find the claim and do nothing. The web app implements ``ClaimStore``
over its ``job_runs`` table.
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

DAILY = "daily"
WEEKLY = "weekly"
WEEKDAYS_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")

REMIND = "remind"
SNAPSHOT = "snapshot"
BACKUP = "backup"
WEEKLY_REPORT = "weekly_report"
OVERDUE_NUDGE = "overdue_nudge"
CALENDAR_REFLOW = "calendar_reflow"

STATUS_RUNNING = "running"
STATUS_OK = "ok"
STATUS_FAILED = "failed"


@dataclass(frozen=True)
class JobSpec:
    """One job's schedule: every day at ``at``, or every ``weekday`` (0 = Monday) at ``at``."""

    name: str
    title: str  # shown on the admin page
    description: str
    every: str  # DAILY or WEEKLY
    at: time
    weekday: int = 0
    #: A run missed by downtime is caught up at scheduler start only within this window
    #: (a reminder at 3 a.m. the next day would be noise).
    catch_up_within: timedelta = timedelta(hours=20)

    def cron(self) -> dict[str, object]:
        """Keyword arguments for APScheduler's CronTrigger (interpret in local time)."""
        spec: dict[str, object] = {"hour": self.at.hour, "minute": self.at.minute}
        if self.every == WEEKLY:
            spec["day_of_week"] = self.weekday
        return spec

    def describe(self) -> str:
        """The schedule in words, e.g. 每天 07:30 or 每周一 08:00."""
        clock = self.at.strftime("%H:%M")
        return f"每天 {clock}" if self.every == DAILY else f"每{WEEKDAYS_ZH[self.weekday]} {clock}"


DEFAULT_REMINDER_TIME = time(7, 30)

JOBS: dict[str, JobSpec] = {
    spec.name: spec for spec in (
        JobSpec(CALENDAR_REFLOW, "假期顺延",
                "把到期日落在假期里的卡片顺延到假期后的学习日（按各人平时每天的复习量分摊）", DAILY, time(4, 10)),
        JobSpec(SNAPSHOT, "学习进度快照", "记录刚结束的学习日每人每个卡组的进度（04:00 换日之后）", DAILY, time(4, 30)),
        JobSpec(BACKUP, "数据库备份", "SQLite 在线备份到 instance/backups/，保留 7 个每日和 4 个每周备份",
                DAILY, time(4, 45)),
        JobSpec(REMIND, "每日复习提醒",
                "给今天有卡片要复习的人发一封简短的提醒邮件；设置了群机器人的部门，群里收到一条汇总", DAILY,
                DEFAULT_REMINDER_TIME, catch_up_within=timedelta(hours=12)),
        JobSpec(WEEKLY_REPORT, "每周学习报告",
                "上周各部门、各人的学习情况（Excel），发给管理员；各部门的数字发到本部门群", WEEKLY, time(8, 0),
                weekday=0, catch_up_within=timedelta(days=6)),
        JobSpec(OVERDUE_NUDGE, "逾期提醒", "列出超过卡组“完成日期”仍未学完的人，发给所在部门的管理员", WEEKLY,
                time(8, 15), weekday=0, catch_up_within=timedelta(days=6)),
    )
}


def parse_clock(text: str) -> time:
    """'07:30' -> time(7, 30); raises ValueError with a message naming the expected format."""
    try:
        hours, minutes = text.strip().split(":")
        return time(int(hours), int(minutes))
    except (ValueError, TypeError):
        raise ValueError(f"时间格式应为 HH:MM（例如 07:30），而不是 {text!r}") from None


def configured_jobs(reminder_time: str | None = None) -> dict[str, JobSpec]:
    """The job table with the reminder moved to ``reminder_time`` (TIFA_REMINDER_TIME) when given."""
    if not reminder_time:
        return dict(JOBS)
    jobs = dict(JOBS)
    jobs[REMIND] = replace(jobs[REMIND], at=parse_clock(reminder_time))
    return jobs


def _zone(tz: str | ZoneInfo) -> ZoneInfo:
    return tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)


def latest_fire(job: JobSpec, now: datetime, tz: str | ZoneInfo) -> datetime:
    """The latest scheduled time at or before ``now`` (aware, in local time)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (use UTC)")
    zone = _zone(tz)
    local = now.astimezone(zone)
    day = local.date()
    if job.every == WEEKLY:
        day -= timedelta(days=(day.weekday() - job.weekday) % 7)
    step = timedelta(days=1 if job.every == DAILY else 7)
    while True:
        fire = datetime.combine(day, job.at, tzinfo=zone)
        if fire <= local:
            return fire
        day -= step


def period_label(job: JobSpec, day: date) -> str:
    if job.every == WEEKLY:
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    return day.isoformat()


def period_for(job: JobSpec, now: datetime, tz: str | ZoneInfo) -> str:
    """The period the latest scheduled run at or before ``now`` covers: '2026-11-29' or '2026-W48'."""
    return period_label(job, latest_fire(job, now, tz).date())


def missed_period(job: JobSpec, last_claimed: str | None, now: datetime, tz: str | ZoneInfo) -> str | None:
    """The period to catch up at scheduler start, or None.

    Only the latest period is ever caught up (once, not once per missed day), and only when its
    scheduled time is recent enough to still be useful (``job.catch_up_within``).
    """
    fire = latest_fire(job, now, tz)
    latest = period_label(job, fire.date())
    if last_claimed is not None and last_claimed >= latest:
        return None
    if now - fire > job.catch_up_within:
        return None
    return latest


class ClaimStore(Protocol):
    """Where runs claim their period; ``claim`` must be atomic across processes."""

    def claim(self, job: str, period: str, now: datetime) -> bool:
        """Record that ``job`` runs for ``period``; False when someone already has."""

    def finish(self, job: str, period: str, status: str, summary: str, now: datetime) -> None:
        """Record how the claimed run ended."""

    def last_period(self, job: str) -> str | None:
        """The latest period ``job`` has claimed, or None."""


@dataclass(frozen=True)
class RunOutcome:
    job: str
    period: str
    ran: bool  # False: the period was already claimed, nothing was done
    status: str = ""
    summary: str = ""
    seconds: float = 0.0


def run_once(job: str, period: str, store: ClaimStore, body: Callable[[], str],
             clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> RunOutcome:
    """Claim ``period`` for ``job``, run ``body`` once and record its summary or its error.

    Never raises for a failing body: the failure is recorded (status 'failed') so the
    scheduler thread keeps running; the claim stays, so a retry does not repeat half-done work.
    """
    if not store.claim(job, period, clock()):
        return RunOutcome(job, period, ran=False)
    started = _time.monotonic()
    try:
        summary = body()
        status = STATUS_OK
    except Exception as exc:  # noqa: BLE001 - reported in job_runs, never kills the scheduler
        summary = f"{exc.__class__.__name__}: {exc}"
        status = STATUS_FAILED
    seconds = _time.monotonic() - started
    store.finish(job, period, status, summary, clock())
    return RunOutcome(job, period, ran=True, status=status, summary=summary, seconds=seconds)
