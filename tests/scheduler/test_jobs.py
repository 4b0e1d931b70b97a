"""Job schedule, periods, catch-up and the run-once protocol (pure, no database)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from scheduler import jobs
from scheduler.jobs import (
    BACKUP,
    CALENDAR_REFLOW,
    JOBS,
    OVERDUE_NUDGE,
    REMIND,
    SNAPSHOT,
    WEEKLY_REPORT,
    configured_jobs,
    latest_fire,
    missed_period,
    parse_clock,
    period_for,
    run_once,
)

TZ = "Asia/Shanghai"


def at(y: int, m: int, d: int, hh: int, mm: int = 0, tz: str = TZ) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=ZoneInfo(tz)).astimezone(UTC)


def test_schedule_in_local_time() -> None:
    assert JOBS[REMIND].cron() == {"hour": 7, "minute": 30}
    assert JOBS[SNAPSHOT].cron() == {"hour": 4, "minute": 30}  # after the 04:00 rollover
    assert JOBS[WEEKLY_REPORT].cron() == {"hour": 8, "minute": 0, "day_of_week": 0}
    assert JOBS[WEEKLY_REPORT].describe() == "每周一 08:00"
    assert JOBS[REMIND].describe() == "每天 07:30"
    assert set(JOBS) == {REMIND, SNAPSHOT, BACKUP, WEEKLY_REPORT, OVERDUE_NUDGE, CALENDAR_REFLOW}
    assert JOBS[CALENDAR_REFLOW].cron() == {"hour": 4, "minute": 10}  # after the rollover, before the reminder


def test_daily_period_is_the_date_of_the_latest_run() -> None:
    remind = JOBS[REMIND]
    assert period_for(remind, at(2026, 11, 29, 7, 30), TZ) == "2026-11-29"
    assert period_for(remind, at(2026, 11, 29, 23, 59), TZ) == "2026-11-29"
    assert period_for(remind, at(2026, 11, 29, 7, 29), TZ) == "2026-11-28"  # today's has not fired yet
    # 2026-11-28 23:30 UTC is already 07:30 on the 29th in Shanghai.
    assert period_for(remind, datetime(2026, 11, 28, 23, 30, tzinfo=UTC), TZ) == "2026-11-29"


def test_weekly_period_is_the_iso_week() -> None:
    weekly = JOBS[WEEKLY_REPORT]
    assert period_for(weekly, at(2026, 11, 30, 8, 0), TZ) == "2026-W49"  # Monday
    assert period_for(weekly, at(2026, 11, 30, 7, 59), TZ) == "2026-W48"
    assert period_for(weekly, at(2026, 11, 29, 12), TZ) == "2026-W48"  # Sunday
    assert period_for(weekly, at(2027, 1, 4, 9), TZ) == "2027-W01"
    assert period_for(weekly, at(2027, 1, 3, 9), TZ) == "2026-W53"  # 2026 has 53 ISO weeks


def test_latest_fire_across_a_dst_change() -> None:
    # Europe/Berlin leaves summer time on 2026-10-25: 04:30 local is still one run a day.
    snapshot = JOBS[SNAPSHOT]
    fire = latest_fire(snapshot, datetime(2026, 10, 25, 4, 0, tzinfo=UTC), "Europe/Berlin")
    assert fire == datetime(2026, 10, 25, 4, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    assert fire.utcoffset() == timedelta(hours=1)
    assert period_for(snapshot, datetime(2026, 10, 25, 3, 0, tzinfo=UTC), "Europe/Berlin") == "2026-10-24"


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        period_for(JOBS[REMIND], datetime(2026, 11, 29, 8, 0), TZ)


def test_reminder_time_is_configurable() -> None:
    table = configured_jobs("06:45")
    assert table[REMIND].at == time(6, 45)
    assert table[SNAPSHOT] == JOBS[SNAPSHOT]
    assert configured_jobs(None)[REMIND].at == time(7, 30)
    with pytest.raises(ValueError, match="HH:MM"):
        parse_clock("7.30")
    with pytest.raises(ValueError, match="HH:MM"):
        parse_clock("25:00")


def test_missed_period_catches_up_the_latest_only_once() -> None:
    snapshot = JOBS[SNAPSHOT]
    now = at(2026, 11, 29, 9)
    # Down since the 25th: only today's run is made up, not one per missed day.
    assert missed_period(snapshot, "2026-11-25", now, TZ) == "2026-11-29"
    assert missed_period(snapshot, None, now, TZ) == "2026-11-29"
    assert missed_period(snapshot, "2026-11-29", now, TZ) is None
    # Before today's 04:30 the latest is yesterday's, already claimed.
    assert missed_period(snapshot, "2026-11-28", at(2026, 11, 29, 4, 0), TZ) is None


def test_missed_reminder_is_not_sent_too_late() -> None:
    remind = JOBS[REMIND]
    assert missed_period(remind, "2026-11-28", at(2026, 11, 29, 19, 0), TZ) == "2026-11-29"
    # 03:00 the next morning: yesterday's reminder would be noise.
    assert missed_period(remind, "2026-11-28", at(2026, 11, 30, 3, 0), TZ) is None
    weekly = JOBS[WEEKLY_REPORT]
    assert missed_period(weekly, "2026-W47", at(2026, 12, 2, 10), TZ) == "2026-W49"  # Wednesday: still useful


class MemoryClaims:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rows: dict[tuple[str, str], dict] = {}

    def claim(self, job: str, period: str, now: datetime) -> bool:
        with self.lock:
            if (job, period) in self.rows:
                return False
            self.rows[(job, period)] = {"status": "running", "started": now}
            return True

    def finish(self, job: str, period: str, status: str, summary: str, now: datetime) -> None:
        self.rows[(job, period)].update(status=status, summary=summary, finished=now)

    def last_period(self, job: str) -> str | None:
        return max((p for j, p in self.rows if j == job), default=None)


def test_run_once_runs_a_period_once() -> None:
    store = MemoryClaims()
    calls = []
    first = run_once("snapshot", "2026-11-29", store, lambda: calls.append(1) or "done")
    second = run_once("snapshot", "2026-11-29", store, lambda: calls.append(2) or "again")
    assert (first.ran, first.status, first.summary) == (True, "ok", "done")
    assert not second.ran
    assert calls == [1]
    assert store.rows[("snapshot", "2026-11-29")]["status"] == "ok"
    assert store.last_period("snapshot") == "2026-11-29"


def test_a_failing_body_is_recorded_not_raised() -> None:
    store = MemoryClaims()

    def boom() -> str:
        raise OSError(28, "No space left on device")

    outcome = run_once(jobs.BACKUP, "2026-11-29", store, boom)
    assert (outcome.ran, outcome.status) == (True, "failed")
    assert "No space left on device" in outcome.summary
    assert store.rows[(jobs.BACKUP, "2026-11-29")]["summary"] == outcome.summary
    # The claim stays: a retry does not redo half-done work.
    assert not run_once(jobs.BACKUP, "2026-11-29", store, lambda: "ok").ran


def test_racing_runs_one_wins() -> None:
    store = MemoryClaims()
    barrier = threading.Barrier(8)
    ran = []

    def worker() -> None:
        barrier.wait()
        ran.append(run_once("remind", "2026-11-29", store, lambda: "sent").ran)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(ran) == [False] * 7 + [True]
