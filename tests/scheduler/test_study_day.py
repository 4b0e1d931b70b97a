"""The study day rolls over at 04:00 local time, DST included."""

from datetime import UTC, date, datetime, timedelta

import pytest

from scheduler.study_day import day_bounds, day_start, study_day


def test_rollover_at_four_in_shanghai() -> None:
    # Asia/Shanghai is UTC+8 all year: 04:00 local is 20:00 UTC the day before.
    assert study_day(datetime(2026, 11, 29, 19, 59, 59, tzinfo=UTC)) == date(2026, 11, 29)
    assert study_day(datetime(2026, 11, 29, 20, 0, tzinfo=UTC)) == date(2026, 11, 30)


def test_late_night_session_counts_for_the_evening() -> None:
    # 01:30 local on the 30th still belongs to the 29th.
    assert study_day(datetime(2026, 11, 29, 17, 30, tzinfo=UTC), "Asia/Shanghai") == date(2026, 11, 29)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError):
        study_day(datetime(2026, 11, 29, 12, 0))


def test_day_start_is_local_four_oclock() -> None:
    assert day_start(date(2026, 11, 30), "Asia/Shanghai") == datetime(2026, 11, 29, 20, 0, tzinfo=UTC)


@pytest.mark.parametrize(("day", "hours"), [
    (date(2026, 3, 28), 23),  # Berlin springs forward in the night of 28/29 March 2026
    (date(2026, 10, 24), 25),  # and falls back in the night of 24/25 October
    (date(2026, 6, 1), 24),
])
def test_dst_days_in_berlin(day: date, hours: int) -> None:
    start, end = day_bounds(day, "Europe/Berlin")
    assert end - start == timedelta(hours=hours)
    assert study_day(start, "Europe/Berlin") == day
    assert study_day(end - timedelta(microseconds=1), "Europe/Berlin") == day
    assert study_day(end, "Europe/Berlin") == day + timedelta(days=1)


def test_rollover_across_spring_forward_in_berlin() -> None:
    # 29 March 2026: 02:00 CET jumps to 03:00 CEST; rollover 04:00 CEST = 02:00 UTC.
    assert study_day(datetime(2026, 3, 29, 1, 59, tzinfo=UTC), "Europe/Berlin") == date(2026, 3, 28)
    assert study_day(datetime(2026, 3, 29, 2, 0, tzinfo=UTC), "Europe/Berlin") == date(2026, 3, 29)


def test_rollover_across_fall_back_in_berlin() -> None:
    # 25 October 2026: 03:00 CEST falls back to 02:00 CET; rollover 04:00 CET = 03:00 UTC.
    assert study_day(datetime(2026, 10, 25, 2, 59, tzinfo=UTC), "Europe/Berlin") == date(2026, 10, 24)
    assert study_day(datetime(2026, 10, 25, 3, 0, tzinfo=UTC), "Europe/Berlin") == date(2026, 10, 25)
