"""The study day: the institution's local date, rolling over at 04:00 as Anki does.

A session that runs past midnight still counts for the evening it started in.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DEFAULT_TIMEZONE = "Asia/Shanghai"
ROLLOVER_HOUR = 4


def _zone(tz: str | ZoneInfo) -> ZoneInfo:
    return tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)


def study_day(moment: datetime, tz: str | ZoneInfo = DEFAULT_TIMEZONE,
              rollover_hour: int = ROLLOVER_HOUR) -> date:
    """The study day that ``moment`` (timezone-aware) belongs to."""
    if moment.tzinfo is None:
        raise ValueError("moment must be timezone-aware (use UTC)")
    local = moment.astimezone(_zone(tz))
    return (local - timedelta(hours=rollover_hour)).date()


def day_start(day: date, tz: str | ZoneInfo = DEFAULT_TIMEZONE,
              rollover_hour: int = ROLLOVER_HOUR) -> datetime:
    """The UTC instant at which study day ``day`` begins (its local 04:00)."""
    local = datetime.combine(day, time(rollover_hour), tzinfo=_zone(tz))
    return local.astimezone(UTC)


def day_bounds(day: date, tz: str | ZoneInfo = DEFAULT_TIMEZONE,
               rollover_hour: int = ROLLOVER_HOUR) -> tuple[datetime, datetime]:
    """[start, end) of study day ``day`` in UTC; DST days are 23 or 25 hours long."""
    return day_start(day, tz, rollover_hour), day_start(day + timedelta(days=1), tz, rollover_hour)


def utcnow() -> datetime:
    return datetime.now(UTC)
